"""The ledger's rules, written once: forms, the model, the import and any API call these.

Each rule has a `*_problem` form returning the Chinese explanation (or None) for the import's hot loop,
and the forms and the model raise it as a ValidationError.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections import defaultdict
from collections.abc import Iterable
from operator import mul

from heating.models import HeatingPath, Township, Village
from retrofits.choices import DONE_STAGES, TENDERED_PATHS, Stage

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_ZERO = ord("0") * sum(_ID_WEIGHTS)


@functools.lru_cache(maxsize=1 << 16)
def _birth_date(digits: str) -> dt.date | None:
    """YYYYMMDD as a date, None where there is no such day; a city shares a few thousand birthdays."""
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


def id_number_problem(value: str, today: dt.date | None = None) -> str | None:
    """GB 11643: 18 characters, a real birth date, the check digit. Old area codes stay valid."""
    if len(value) != 18:
        return f"身份证号应为18位，「{value}」为{len(value)}位"
    if (
        not (value[:17].isdigit() and (value[17].isdigit() or value[17] == "X"))
        or not value.isascii()
    ):
        return f"身份证号应为17位数字加1位数字或X，「{value}」含其他字符"
    born = _birth_date(value[6:14])
    if born is None:
        return f"身份证号「{value}」中的出生日期{value[6:14]}不存在"
    if born.year < 1900 or born > (today or dt.date.today()):
        return f"身份证号「{value}」中的出生日期{value[6:14]}不合理"
    # The digits' code points less 48 are the digits: one encode instead of seventeen int() calls.
    check = _ID_CHECK[(sum(map(mul, value.encode(), _ID_WEIGHTS)) - _ID_ZERO) % 11]
    if value[17] != check:
        return f"身份证号「{value}」校验位错误（按 GB 11643 应为 {check}）"
    return None


def normalize_id_number(value: str) -> str:
    return value.strip().replace(" ", "").upper()


_MOBILE = re.compile(r"(?:\+?86)?(1[3-9]\d{9})")
# 010 and 02x are the three-digit area codes; every other one (0350 for Xinzhou) has four digits.
_LANDLINE = re.compile(r"(0(?:[12]\d|[3-9]\d{2}))-?(\d{7,8})(?:-(\d{1,6}))?")


def phone_problem_and_value(value: str) -> tuple[str | None, str]:
    """A mobile number (11 digits, 1[3-9]…) or a landline with its area code; the normalised form."""
    if len(value) == 11 and value.isdigit() and value[0] == "1" and value[1] in "3456789":
        return None, value  # the usual mobile number, without the regexes
    compact = re.sub(r"[\s()（）]", "", value)
    if not compact:
        return None, ""
    if m := _MOBILE.fullmatch(compact.replace("-", "")):
        return None, m.group(1)
    if m := _LANDLINE.fullmatch(compact):
        area, number, extension = m.groups()
        return None, f"{area}-{number}" + (f"-{extension}" if extension else "")
    return f"联系电话「{value}」应为11位手机号或带区号的固定电话（如 0350-3031234）", value


def equipment_problem(
    *, path: str, stage: str, model: str | None, model_path: str | None
) -> str | None:
    """Tendered paths take a model of the tender list for that path from 已选型 on; others none."""
    if path not in TENDERED_PATHS:
        if model:
            return (
                f"{HeatingPath(path).label}的设备不在市统一招标范围，设备型号应为空（可写在备注中），"
                f"实为「{model}」"
            )
        return None
    if not model:
        if stage != Stage.CONFIRMED:
            return f"{HeatingPath(path).label}的户自“已选型”起须填写中标设备型号"
        return None
    if model_path is None:
        return f"设备型号「{model}」不在中标设备清单中"
    if model_path != path:
        return f"设备型号「{model}」是{HeatingPath(model_path).label}设备，与取暖路径{HeatingPath(path).label}不符"
    return None


def completion_problem(stage: str, completed_on: dt.date | None, today: dt.date) -> str | None:
    if stage in DONE_STAGES and completed_on is None:
        return f"实施进度为“{Stage(stage).label}”时须填写完工日期"
    if stage not in DONE_STAGES and completed_on is not None:
        return f"实施进度为“{Stage(stage).label}”时不应填写完工日期"
    if completed_on is not None and completed_on > today:
        return f"完工日期{completed_on:%Y-%m-%d}晚于今天"
    return None


# ---------------------------------------------------------------- division names

_VILLAGE_SUFFIXES = ("村民委员会", "居民委员会", "村委会", "居委会")


def name_key(value: str) -> str:
    return re.sub(r"[\s\u3000]+", "", value)


def village_name_keys(name: str) -> set[str]:
    """The names a village goes by: 西街村委会 is also 西街村 and 西街; 东大街社区居民委员会 is 东大街社区."""
    keys = {name_key(name)}
    for suffix in _VILLAGE_SUFFIXES:
        if name.endswith(suffix):
            base = name_key(name[: -len(suffix)])
            keys.add(base)
            if suffix.startswith("村") and not base.endswith("村"):
                keys.add(base + "村")
            break
    return keys


class DivisionIndex:
    """Township and village look-ups by name or code, loaded once per import."""

    def __init__(
        self, townships: Iterable[Township] | None = None, villages: Iterable[Village] | None = None
    ) -> None:
        self.townships: dict[int, dict[str, int]] = defaultdict(dict)
        self.township_county: dict[int, int] = {}
        for t in Township.objects.all() if townships is None else townships:
            self.townships[t.county_id].update({name_key(t.name): t.pk, t.code: t.pk})
            self.township_county[t.pk] = t.county_id
        self.villages: dict[int, dict[str, int]] = defaultdict(dict)
        self.village_township: dict[int, int] = {}
        ambiguous: dict[int, set[str]] = defaultdict(set)
        for v in Village.objects.all() if villages is None else villages:
            names = self.villages[v.township_id]
            for key in village_name_keys(v.name) | {v.code}:
                if key in names and names[key] != v.pk:
                    ambiguous[v.township_id].add(key)
                names[key] = v.pk
            self.village_township[v.pk] = v.township_id
        for township_id, keys in ambiguous.items():
            for key in keys:
                del self.villages[township_id][key]

    # Names as written usually match as they are; the normalising regex is the slow path.
    def township(self, county_id: int, name: str) -> int | None:
        names = self.townships.get(county_id, {})
        return names.get(name) or names.get(name_key(name))

    def village(self, township_id: int, name: str) -> int | None:
        names = self.villages.get(township_id, {})
        return names.get(name) or names.get(name_key(name))
