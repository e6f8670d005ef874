"""Reads of the plan's core, always scoped to what the user may see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.utils import timezone

from heating.breakdown import CELLS, COLUMNS, Counts, row_values
from heating.models import County, HeatingPath, PlanYear, Target, User


def targets_of_year(
    *, plan_year: PlanYear, counties: QuerySet[County] | None = None
) -> dict[County, Counts]:
    """The year's stored cells by county, in the table's order (zeros where a county has none)."""
    counts: dict[County, Counts] = {
        county: dict.fromkeys(CELLS, 0)
        for county in (County.objects.all() if counties is None else counties)
    }
    by_pk = {c.pk: c for c in counts}
    rows = Target.objects.filter(plan_year=plan_year, county__in=list(by_pk)).values_list(
        "county_id", "path", "area", "households"
    )
    for county_id, path, area, households in rows:
        counts[by_pk[county_id]][(path, area)] = households
    return counts


def current_plan_year(today: dt.date | None = None) -> PlanYear | None:
    """The year the pages, rules and figures show by default: the one whose season (its works'
    start to the end of its evaluation) holds today, the later where two do; else the latest that
    has started; else the first planned. Importing next year's table does not switch to it."""
    day = today or timezone.localdate()
    years = list(PlanYear.objects.order_by("year"))
    running = [p for p in years if p.works_start <= day <= p.evaluation_due]
    return _latest_started(running or years, day) or (years[0] if years else None)


def upload_plan_year(today: dt.date | None = None) -> PlanYear | None:
    """The 任务年度 of a new household whose upload or form names none: the year whose works
    window holds the day; else the latest that has started; else the first planned."""
    day = today or timezone.localdate()
    years = list(PlanYear.objects.order_by("year"))
    working = [p for p in years if p.works_start <= day <= p.works_due]
    return _latest_started(working or years, day) or (years[0] if years else None)


def plan_year_numbers() -> list[str]:
    """The years a ledger's 任务年度 may name, for its drop-down."""
    return [str(y) for y in PlanYear.objects.order_by("year").values_list("year", flat=True)]


def _latest_started(years: list[PlanYear], day: dt.date) -> PlanYear | None:
    started = [p for p in years if p.works_start <= day]
    return started[-1] if started else None


@dataclass(frozen=True)
class TargetRow:
    """One row of the printed table: a county (or a total) and its 15 numbers."""

    label: str
    values: list[int]
    county: County | None = None

    @property
    def total(self) -> int:
        return self.values[2]

    @property
    def by_path(self) -> list[int]:
        """合计 of each path, in HeatingPath order."""
        return [v for c, v in zip(COLUMNS, self.values, strict=True) if c.path and not c.area]


@dataclass(frozen=True)
class TargetTable:
    rows: list[TargetRow]
    total: TargetRow

    @property
    def by_path(self) -> list[tuple[str, int]]:
        return list(zip(HeatingPath.labels, self.total.by_path, strict=True))


def target_table(*, user: User | AnonymousUser, plan_year: PlanYear) -> TargetTable:
    """The task-breakdown table as far as the user may see it, with the sum of what is shown."""
    counts = targets_of_year(plan_year=plan_year, counties=County.objects.visible_to(user))
    rows = [TargetRow(c.short_name, row_values(cells), c) for c, cells in counts.items()]
    sums = [sum(column) for column in zip(*(r.values for r in rows), strict=True)] or [0] * len(
        COLUMNS
    )
    label = "总计" if user.is_authenticated and user.sees_all_counties else "合计"
    return TargetTable(rows=rows, total=TargetRow(label, sums))


@dataclass(frozen=True)
class Milestone:
    label: str
    start: dt.date | None
    end: dt.date
    status: str


def milestones(
    *, plan_year: PlanYear, today: dt.date, county: County | None = None
) -> list[Milestone]:
    """The plan's four stages, with the county's own works deadline where it has one."""
    works_due = plan_year.works_due_for(county) if county else plan_year.works_due
    stages = [
        ("制定方案并报备", None, plan_year.plan_due),
        ("组织实施（完成施工）", plan_year.works_start, works_due),
        ("项目验收", plan_year.acceptance_start, plan_year.acceptance_due),
        ("绩效评价", plan_year.evaluation_start, plan_year.evaluation_due),
    ]
    return [
        Milestone(label, start, end, _status(start, end, today)) for label, start, end in stages
    ]


def _status(start: dt.date | None, end: dt.date, today: dt.date) -> str:
    if today > end:
        return "已截止"
    if start is None or today >= start:
        return "进行中"
    return "未开始"


def outside_acceptance_window(day: dt.date, plans: dict[int, PlanYear]) -> bool:
    """Was a visit on `day` outside its year's acceptance window? A year with no plan has none."""
    plan = plans.get(day.year)
    return plan is None or not plan.in_acceptance_window(day)
