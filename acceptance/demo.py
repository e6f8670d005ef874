"""The demo city's acceptance, as the season could have gone: visits from the start of each
county's acceptance window (10/15; 五台山 earlier) to its end, some outside it, a few failing with a
defect that a revisit closes (some long after its deadline), and the old stoves removed where
先立后破 allows. Each household's visits are drawn from the seed and its code alone, so any date
tells the same story, and a later date adds to an earlier one's; running it again changes nothing."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

from django.db import transaction

from acceptance.models import Inspection
from acceptance.rules import CHECKLISTS, heating_seasons, removal_allowed_from
from acceptance.services import DefectInput
from acceptance.services.bulk import (
    HouseholdVisit,
    RemovalInput,
    heating_removals_record_bulk,
    inspections_record_bulk,
)
from heating.models import County, PlanYear, Role, User
from heating.services import user_create
from retrofits.choices import Stage
from retrofits.demo import DemoCity
from retrofits.models import Household

DEFECTS = {
    "electric": ("室温未达标，需调整机组运行参数", "断路器容量不足，需更换", "室外机固定不牢"),
    "gas": ("燃气报警器未联动自动切断阀", "烟道接口密封不严", "用户未完成安全使用培训"),
    "district": ("散热器不热，需排气", "入户阀门渗漏", "户内管道保温缺失"),
    "biomass": ("炉具排烟不畅", "燃料堆放距炉具过近"),
}
FAILING = 0.06  # first visits that find a defect
SHANGHAI = ZoneInfo("Asia/Shanghai")  # visits at ten in the morning, local time
OUTSIDE = 0.07  # visits made after the window closed
DRAGGING = 0.15  # of the failed, those whose rectification drags on past the season
REMOVED = 0.4  # of the households allowed, those whose old stove is gone by the day told


def _demo_user(username: str, name: str, role: Role, county: County) -> User:
    """An account the demo's records are written under, which nobody logs in with (no usable
    password); active, as the access policy wants of whoever acts."""
    return user_create(
        username=username, password=None, role=role, full_name=name,
        county=county, counties=[county], exist_ok=True,
    )  # fmt: skip


def _window(plan: PlanYear, county: County) -> tuple[dt.date, dt.date]:
    """The county's acceptance window: 10/15–10/31, as much earlier as its works end earlier."""
    due = plan.acceptance_due_for(county)
    return due - (plan.acceptance_due - plan.acceptance_start), due


@transaction.atomic
def acceptance_after_households(city: DemoCity) -> None:
    plan, day = city.plan_year, city.as_of
    counties = {c.pk: c for c in County.objects.all()}
    inspectors = {
        pk: _demo_user(
            f"demo-yanshou-{c.order:02d}", f"{c.short_name}验收组（演示）", Role.INSPECTOR, c
        )
        for pk, c in counties.items()
    }
    failed_before = {
        pk
        for pk in Inspection.objects.filter(
            household__isnull=False, result=Inspection.Result.FAILED
        ).values_list("household", flat=True)
        if pk is not None
    }
    waiting = (
        Household.objects.filter(stage=Stage.COMPLETED, completed_on__lte=day)
        .values_list("pk", "code", "county_id", "path", "completed_on")
        .order_by("pk")
    )
    visits: list[HouseholdVisit] = []
    for pk, code, county_id, path, completed_on in waiting.iterator(chunk_size=10000):
        assert completed_on is not None  # a completed household has its day
        rng = random.Random(f"{city.seed}:{code}")
        opens, closes = _window(plan, counties[county_id])
        earliest = max(completed_on + dt.timedelta(days=2 + rng.randrange(5)), opens)
        first = earliest + dt.timedelta(days=rng.randrange(max((closes - earliest).days, 0) + 1))
        if rng.random() < OUTSIDE:
            first = max(first, closes) + dt.timedelta(days=1 + rng.randrange(25))
        fails, defect_at, fix_days = rng.random() < FAILING, rng.random(), 7 + rng.randrange(9)
        drags = rng.random() < DRAGGING
        if first > day:
            continue
        inspector = inspectors[county_id]
        if not fails:
            visits.append(_visit(pk, path, first, inspector))
            continue
        rectify_by = first + dt.timedelta(days=fix_days)
        if pk not in failed_before:  # an earlier day's run recorded it
            defects = DEFECTS[path]
            found = DefectInput(defects[int(defect_at * len(defects))], rectify_by)
            visits.append(_visit(pk, path, first, inspector, defect=found))
        revisit_on = rectify_by - dt.timedelta(days=rng.randrange(3))
        if drags:  # the household waits for parts, or for spring
            revisit_on += dt.timedelta(days=120 + rng.randrange(120))
        if revisit_on <= day:
            visits.append(_visit(pk, path, revisit_on, inspector))
    # Through the bulk service, the rules of a visit hold for the demo's season as for one visit
    # recorded on the phone; the revisits close the defects they re-check.
    recorded = inspections_record_bulk(visits=visits, source="验收合格（演示数据）")
    city.say(f"验收：新增 {recorded.visits:,} 次验收（{recorded.failed:,} 次不合格）")
    removed = _removals(city, counties)
    city.say(
        f"验收：新增 {recorded.accepted:,} 户已验收，{removed:,} 户拆除原有取暖设施（先立后破）"
    )


def _visit(
    household_id: int, path: str, on: dt.date, inspector: User, *, defect: DefectInput | None = None
) -> HouseholdVisit:
    """A passing visit, or (with the defect it found) a failing one."""
    items = [code for code, _ in CHECKLISTS[path]]
    # A failed visit fails on its first item; the rest were fine.
    checklist = {code: defect is None or index > 0 for index, code in enumerate(items)}
    return HouseholdVisit(
        household_id=household_id,
        inspector=inspector,
        visited_at=dt.datetime.combine(on, dt.time(10), tzinfo=SHANGHAI),
        passed=defect is None,
        checklist=checklist,
        defects=(defect,) if defect else (),
    )


def _removals(city: DemoCity, counties: dict[int, County]) -> int:
    """Old stoves removed once one whole heating season allows it (先立后破), in some households;
    drawn from the household alone, so a later day adds to an earlier one's."""
    recorders = {
        pk: _demo_user(
            f"demo-xian-{c.order:02d}", f"{c.short_name}清洁取暖办（演示）", Role.COUNTY, c
        )
        for pk, c in counties.items()
    }
    removals = []
    accepted = Household.objects.filter(stage=Stage.ACCEPTED, heating_removal__isnull=True)
    seasons = heating_seasons()
    for pk, county_id, accepted_on in accepted.values_list("pk", "county_id", "accepted_on"):
        assert accepted_on is not None  # the database holds an accepted household to its day
        rng = random.Random(f"{city.seed}:removal:{pk}")
        removed_on = removal_allowed_from(accepted_on, seasons) + dt.timedelta(
            days=rng.randrange(45)
        )
        if rng.random() < REMOVED and removed_on <= city.as_of:
            removals.append(RemovalInput(pk, removed_on, recorders[county_id]))
    return heating_removals_record_bulk(removals=removals)
