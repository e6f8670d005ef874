"""The 12345 template: the hotline platform's usual export columns, read through the portal's sheet
engine (heating/sheets.py: xlsx in a child process under its limits, or CSV in UTF-8/GBK), checked
row by row with every error named by row and column. The write is tickets_import's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.utils import timezone

from aftercare.models import Category
from heating import access
from heating.access import Action
from heating.breakdown import county_labels
from heating.models import County, User
from heating.sheets import Column, SheetError, read_sheet, unneutralise, write_sheet
from retrofits.models import Household
from retrofits.validators import DivisionIndex

TEMPLATE = "12345工单"
COLUMNS = (
    Column("hotline_number", "工单编号", True, "12345平台的工单编号，重复导入时按此更新", "text", 22),
    Column("received_at", "来电时间", True, "如 2023-11-05 09:30", "text", 18),
    Column("caller_name", "来电人", False, "", "text", 10),
    Column("caller_phone", "联系电话", False, "", "text", 14),
    Column("content", "诉求内容", True, "群众反映的问题", "text", 40),
    Column("category", "诉求类别", True, "供暖不热、设备故障、电压不足/跳闸、燃气安全、补贴未到位、未立先破/强拆、收费与价格、其他", "text", 14),
    Column("county", "涉及区县", True, "县（市、区）名称", "text", 12),
    Column("township", "乡镇", False, "乡（镇、街道）", "text", 12),
    Column("village", "村", False, "村（社区）；未填户编号时必填", "text", 14),
    Column("household", "户编号", False, "涉及的改造户，可不填", "text", 16),
)  # fmt: skip
HEADERS = {c.field: c.header for c in COLUMNS}

# What the hotline's own category names may say.
CATEGORY_NAMES: dict[str, str] = {str(label): value for value, label in Category.choices}
CATEGORY_NAMES |= {
    "暖气不热": Category.COLD, "取暖不热": Category.COLD, "室温不达标": Category.COLD,
    "故障": Category.FAULT, "设备维修": Category.FAULT,
    "电压不足": Category.VOLTAGE, "跳闸": Category.VOLTAGE,
    "燃气泄漏": Category.GAS_SAFETY, "燃气": Category.GAS_SAFETY,
    "补贴": Category.SUBSIDY, "补贴未发放": Category.SUBSIDY,
    "未立先破": Category.EARLY_REMOVAL, "强拆": Category.EARLY_REMOVAL,
    "收费": Category.PRICE, "价格": Category.PRICE, "收费与价格": Category.PRICE,
}  # fmt: skip
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M",
                 "%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日")  # fmt: skip


@dataclass
class Row:
    number: int
    hotline_number: str
    received_at: dt.datetime
    caller_name: str
    caller_phone: str
    content: str
    category: str
    county: County
    household: Household | None
    village_id: int | None


@dataclass
class Checked:
    rows: list[Row] = field(default_factory=list)
    errors: list[SheetError] = field(default_factory=list)


class Problem(ValueError):
    pass


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    return unneutralise(str(value).strip())


def parse_time(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time())
    else:
        text = _text(value)
        for fmt in _TIME_FORMATS:
            try:
                moment = dt.datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            raise Problem(f"「{text}」应为时间，如 2023-11-05 09:30")
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def template_file() -> bytes:
    labels = [str(label) for label in Category.labels]
    counties = list(County.objects.order_by("pk").values_list("short_name", flat=True))
    return write_sheet([], COLUMNS, title=TEMPLATE, lists={"category": labels, "county": counties})


def check_file(data: bytes, name: str, *, user: User) -> Checked:
    """Every row of the file checked; raises SheetFileError for a file that is not the template."""
    sheet = read_sheet(data, name, COLUMNS, template=TEMPLATE)
    allowed = access.scope(user, Action.SUPERVISE)
    handles = access.scope(user, Action.TICKETS)
    labels = county_labels(County.objects.all())
    divisions = DivisionIndex()
    checked = Checked()
    seen: dict[str, int] = {}
    now = timezone.now()
    wanted_codes: dict[int, str] = {}
    pending: list[tuple[int, dict[str, str], dict[str, object]]] = []
    for number, values in sheet.rows:
        cells = {f: values[i] if i < len(values) else None for f, i in sheet.positions.items()}
        texts = {f: _text(v) for f, v in cells.items()}
        pending.append((number, texts, cells))
        if texts.get("household"):
            wanted_codes[number] = texts["household"]
    households = {
        h.code: h
        for h in Household.objects.filter(code__in=set(wanted_codes.values())).select_related(
            "village"
        )
    }

    def error(number: int, column: str, value: str, message: str) -> None:
        checked.errors.append(SheetError(number, HEADERS[column], value, message))

    for number, texts, cells in pending:
        before = len(checked.errors)
        code = texts.get("hotline_number", "")
        if not code:
            error(number, "hotline_number", "", "必填")
        elif len(code) > 40:
            error(number, "hotline_number", code, "不能超过40个字符")
        elif code in seen:
            error(number, "hotline_number", code, f"与第{seen[code]}行重复")
        else:
            seen[code] = number
        received: dt.datetime | None = None
        try:
            received = parse_time(cells.get("received_at"))
            if received > now:
                error(number, "received_at", texts["received_at"], "来电时间不能晚于现在")
        except Problem as exc:
            error(
                number,
                "received_at",
                texts.get("received_at", ""),
                str(exc) if texts.get("received_at") else "必填",
            )
        content = texts.get("content", "")
        if not content:
            error(number, "content", "", "必填")
        elif len(content) > 2000:
            error(number, "content", content[:20] + "…", "不能超过2000个字符")
        for column, limit in (("caller_name", 50), ("caller_phone", 20)):
            if len(texts.get(column, "")) > limit:
                error(number, column, texts[column][:20], f"不能超过{limit}个字符")
        category = CATEGORY_NAMES.get(texts.get("category", "").replace(" ", ""))
        if category is None:
            error(
                number, "category", texts.get("category", ""), "应为：" + "、".join(Category.labels)
            )
        county = labels.get(texts.get("county", "").replace(" ", ""))
        if county is None:
            error(number, "county", texts.get("county", ""), "不是忻州市的县（市、区）")
        elif county.pk not in allowed and county.pk not in handles:
            error(number, "county", texts["county"], "只能导入本县（市、区）的工单")
            county = None
        household, village_id = None, None
        if county is not None:
            code_given = texts.get("household", "")
            if code_given:
                household = households.get(code_given)
                if household is None or household.county_id != county.pk:
                    error(number, "household", code_given, f"{county.short_name}没有该户编号")
                    household = None
                else:
                    village_id = household.village_id
            else:
                township = divisions.township(county.pk, texts.get("township", ""))
                if township is None:
                    error(
                        number,
                        "township",
                        texts.get("township", ""),
                        f"{county.short_name}没有该乡（镇、街道）；未填户编号时乡镇和村必填",
                    )
                else:
                    village_id = divisions.village(township, texts.get("village", ""))
                    if village_id is None:
                        error(
                            number,
                            "village",
                            texts.get("village", ""),
                            "该乡（镇、街道）没有该村（社区）",
                        )
        if len(checked.errors) == before and received and county and category:
            checked.rows.append(
                Row(
                    number=number, hotline_number=code, received_at=received,
                    caller_name=texts.get("caller_name", ""), caller_phone=texts.get("caller_phone", ""),
                    content=content, category=category, county=county, household=household,
                    village_id=village_id,
                )
            )  # fmt: skip
    return checked


def rows_in_order(rows: Iterable[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: r.number)
