"""Synthetic households consistent with the targets: real villages, valid ID numbers, made-up people.

The same seed gives the same households, so generating again changes nothing. Rows come out in the
ledger template's column order with display values, exactly as a county would upload them.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass

from heating.models import AreaType, County, HeatingPath, PlanYear, Target, Village
from heating.sheets import YES
from retrofits.choices import Stage
from retrofits.ledger import COLUMNS
from retrofits.models import TenderItem

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英建华文玉兰红梅海燕晓东志强永福国庆建国春花"
)
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
# Share of households at each stage; 已验收 comes only from acceptance records.
STAGE_MIX = (
    (Stage.CONFIRMED, 0.08),
    (Stage.SELECTED, 0.12),
    (Stage.BUILDING, 0.25),
    (Stage.COMPLETED, 0.55),
)


def id_number(area_code: str, born: dt.date, sequence: int) -> str:
    body = f"{area_code}{born:%Y%m%d}{sequence:03d}"
    return body + ID_CHECK[sum(int(d) * w for d, w in zip(body, ID_WEIGHTS, strict=True)) % 11]


@dataclass(frozen=True)
class _Place:
    township: str
    village: str


def _places(county: County, area: str) -> list[_Place]:
    """Urban households live in 街道 and 镇 communities, rural ones in villages."""
    villages = list(
        Village.objects.filter(township__county=county).select_related("township").order_by("code")
    )
    if area == AreaType.URBAN:
        preferred = [v for v in villages if v.township.code[6] in "01" and "社区" in v.name]
    else:
        preferred = [v for v in villages if "村" in v.name and "社区" not in v.name]
    return [_Place(v.township.name, v.name) for v in (preferred or villages)]


def household_rows(*, scale: float, year: int = 2023, seed: int = 2023) -> Iterator[list[object]]:
    """Ledger rows for `scale` × every target of the year (rounded per county, path and area)."""
    rng = random.Random(seed)
    plan = PlanYear.objects.get(year=year)
    models = {
        path: list(TenderItem.objects.filter(path=path).values_list("model", flat=True))
        for path in (HeatingPath.ELECTRIC, HeatingPath.GAS)
    }
    seen_ids: set[str] = set()
    first_day, last_day = plan.works_start, plan.works_due
    span = (last_day - first_day).days
    stages = [s for s, _ in STAGE_MIX]
    weights = [w for _, w in STAGE_MIX]
    targets = Target.objects.filter(plan_year=plan, households__gt=0).select_related("county")
    for target in targets.order_by("county__order", "path", "area"):
        county = target.county
        places = _places(county, target.area)
        count = round(target.households * scale)
        area_code = county.division_code or "140902"
        for number in range(1, count + 1):
            place = rng.choice(places)
            stage = rng.choices(stages, weights)[0]
            while True:
                born = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(365 * 55))
                person = id_number(area_code, born, rng.randrange(1000))
                if person not in seen_ids:
                    seen_ids.add(person)
                    break
            path = HeatingPath(target.path)
            tendered = path in models and stage != Stage.CONFIRMED and models[path]
            done = stage == Stage.COMPLETED
            row = {
                "code": f"XZ{county.order:02d}{list(HeatingPath).index(path)}"
                f"{'U' if target.area == AreaType.URBAN else 'R'}{number:06d}",
                "county": county.short_name,
                "township": place.township,
                "village": place.village,
                "head_name": rng.choice(SURNAMES)
                + "".join(rng.choices(GIVEN, k=rng.choice((1, 2)))),
                "id_number": person,
                "phone": f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"
                if rng.random() < 0.85
                else "",
                "area": AreaType(target.area).label,
                "path": path.label,
                "equipment": rng.choice(models[path]) if tendered else "",
                "stage": Stage(stage).label,
                "completed_on": first_day + dt.timedelta(days=rng.randrange(span))
                if done
                else None,
                "low_income": YES if rng.random() < 0.08 else "",
                "notes": "",
            }
            yield [row[c.field] for c in COLUMNS]
