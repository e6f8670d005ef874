"""A demo city consistent with the targets: real villages, valid ID numbers, made-up people, and the
season as it could have gone. Works start in April; each county's completions rise along an
S-curve to its own finish, most before their deadline, a few late, 原平市's district heating held
back by its key project; households are confirmed in April, select equipment, build, complete.
A household's dates are drawn from the seed alone, and its stage is what it had reached on the
chosen day (as_of), so the same seed tells the same city at any date.

Other apps add their part of the demo around the households (supply before them, acceptance
visits after them) with register_demo_step, from their AppConfig.ready().
"""

from __future__ import annotations

import datetime as dt
import importlib
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from heating.models import AreaType, County, HeatingPath, PlanYear, Target, Village
from heating.sheets import YES
from retrofits.choices import Stage
from retrofits.ledger.file import COLUMNS
from retrofits.models import TenderItem

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英建华文玉兰红梅海燕晓东志强永福国庆建国春花"
)
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


@dataclass(frozen=True)
class Pace:
    """How a county's (or one path's) works went: completions start on `start` (None: when works
    start), rise along an S-curve to `finish`; `never` of them had not completed by the season's
    end."""

    finish: tuple[int, int]  # (month, day) of the plan year
    never: float = 0.0
    start: tuple[int, int] | None = None


# Most counties finish some days before their deadline (10/15; 五台山 10/1). Two run late, and
# 原平市's district heating waits for the 同华 long-distance pipeline (实施方案七（三）).
PACES: dict[str, Pace] = {
    "五台山": Pace((9, 24)),
    "繁峙县": Pace((10, 27), never=0.03),
    "静乐县": Pace((11, 8), never=0.06),
}
HELD_BACK = {("原平市", HeatingPath.DISTRICT): Pace((11, 20), never=0.03, start=(8, 1))}


# A village whose grid upgrade never came (电网改造前置): its 煤改电 households chose their
# equipment and wait all season. energy_supply's demo builds that upgrade, unfinished. At any
# scale the first few of the county's rural 煤改电 households live there.
WAITING_FOR_GRID = "140924203215"  # 繁峙县集义庄乡下双井村委会
WAITING_AT_LEAST = 3


def pace_of(county: County, path: str) -> Pace:
    held = HELD_BACK.get((county.short_name, HeatingPath(path)))
    if held:
        return held
    return PACES.get(county.short_name) or Pace((10, 3 + county.order % 9))


def id_number(area_code: str, born: dt.date, sequence: int) -> str:
    body = f"{area_code}{born:%Y%m%d}{sequence:03d}"
    return body + ID_CHECK[sum(int(d) * w for d, w in zip(body, ID_WEIGHTS, strict=True)) % 11]


@dataclass(frozen=True)
class _Place:
    code: str
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
    return [_Place(v.code, v.township.name, v.name) for v in (preferred or villages)]


@dataclass(frozen=True)
class Timeline:
    """One household's days: None where it never got there."""

    confirmed: dt.date
    selected: dt.date
    building: dt.date | None
    completed: dt.date | None

    def stage_on(self, day: dt.date) -> Stage:
        if self.completed is not None and self.completed <= day:
            return Stage.COMPLETED
        if self.building is not None and self.building <= day:
            return Stage.BUILDING
        if self.selected <= day:
            return Stage.SELECTED
        return Stage.CONFIRMED


def _timeline(rng: random.Random, plan: PlanYear, pace: Pace) -> Timeline:
    """Four draws, whatever the household reaches: the same seed gives the same days."""
    at, stuck, before, selecting = rng.random(), rng.random(), rng.random(), rng.random()
    year = plan.year
    start = dt.date(year, *pace.start) if pace.start else plan.works_start
    finish = dt.date(year, *pace.finish)
    # A logistic S-curve over [start, finish]: few at first, most in the summer, a tail at the end.
    u = min(max(at, 0.003), 0.997)
    share = min(max(0.62 + 0.14 * math.log(u / (1 - u)), 0.0), 1.0)
    completed = start + dt.timedelta(days=round((finish - start).days * share))
    building = max(completed - dt.timedelta(days=12 + int(before * 30)), plan.works_start)
    selected = building - dt.timedelta(days=4 + int(selecting * 40))
    confirmed = min(plan.plan_due - dt.timedelta(days=int(before * 20)), selected)
    return Timeline(confirmed, selected, building, None if stuck < pace.never else completed)


def household_rows(
    *, scale: float, year: int = 2023, seed: int = 2023, as_of: dt.date | None = None
) -> Iterator[list[object]]:
    """Ledger rows, in the template's columns and wording, for `scale` × every target of the year
    (rounded per county, path and area), each at the stage it had reached on `as_of` (default:
    the end of the plan year's evaluation, the season complete)."""
    rng = random.Random(seed)
    plan = PlanYear.objects.get(year=year)
    day = as_of or plan.evaluation_due
    models = {
        path: list(TenderItem.objects.filter(path=path).values_list("model", flat=True))
        for path in (HeatingPath.ELECTRIC, HeatingPath.GAS)
    }
    seen_ids: set[str] = set()
    targets = Target.objects.filter(plan_year=plan, households__gt=0).select_related("county")
    for target in targets.order_by("county__order", "path", "area"):
        county = target.county
        places = _places(county, target.area)
        pace = pace_of(county, target.path)
        area_code = county.division_code or "140902"
        path = HeatingPath(target.path)
        waiting = (
            [p for p in places if p.code == WAITING_FOR_GRID]
            if path == HeatingPath.ELECTRIC
            else []
        )
        for number in range(1, round(target.households * scale) + 1):
            place = rng.choice(places)
            if waiting and number <= WAITING_AT_LEAST:
                place = waiting[0]
            while True:
                born = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(365 * 55))
                person = id_number(area_code, born, rng.randrange(1000))
                if person not in seen_ids:
                    seen_ids.add(person)
                    break
            name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))
            phone = (
                f"1{rng.choice('3578')}{rng.randrange(10**9):09d}" if rng.random() < 0.85 else ""
            )
            model = rng.choice(models[path]) if models.get(path) else ""
            low_income = rng.random() < 0.08
            timeline = _timeline(rng, plan, pace)
            if place.code == WAITING_FOR_GRID and path == HeatingPath.ELECTRIC:
                timeline = replace(timeline, building=None, completed=None)
            stage = timeline.stage_on(day)
            row = {
                "code": f"XZ{county.order:02d}{list(HeatingPath).index(path)}"
                f"{'U' if target.area == AreaType.URBAN else 'R'}{number:06d}",
                "county": county.short_name,
                "township": place.township,
                "village": place.village,
                "head_name": name,
                "id_number": person,
                "phone": phone,
                "area": AreaType(target.area).label,
                "path": path.label,
                "equipment": model if stage != Stage.CONFIRMED else "",
                "stage": stage.label,
                "completed_on": timeline.completed if stage == Stage.COMPLETED else None,
                "low_income": YES if low_income else "",
                "notes": "",
                "plan_year": year,
            }
            yield [row[c.field] for c in COLUMNS]


# ---------------------------------------------------------------- the demo's other parts


@dataclass(frozen=True)
class DemoCity:
    """What the demo steps of other apps are told."""

    plan_year: PlanYear
    scale: float
    seed: int
    as_of: dt.date
    say: Callable[[str], None]


DemoStep = Callable[[DemoCity], None]
BEFORE_HOUSEHOLDS: list[DemoStep] = []
AFTER_HOUSEHOLDS: list[DemoStep] = []


def register_demo_step(step: str, *, after_households: bool) -> None:
    """Add an app's part of the demo city, named by its dotted path, run by generate_households
    before or after the households are imported (supply must be there first; visits need the
    households). By name: the demo modules (and what they import: shapely, Pillow, the
    services) are imported when the demo runs, not by every process at start-up."""
    module, name = step.rsplit(".", 1)
    steps = AFTER_HOUSEHOLDS if after_households else BEFORE_HOUSEHOLDS
    if not any((s.__module__, s.__qualname__) == (module, name) for s in steps):
        steps.append(_named_step(module, name))


def _named_step(module: str, name: str) -> DemoStep:
    def step(city: DemoCity) -> None:
        getattr(importlib.import_module(module), name)(city)

    # Told apart by where it comes from, as the step itself would be (tests/aftercare_city.py).
    step.__module__, step.__qualname__ = module, name
    return step
