"""What the dashboards show, read from the stored rollups (never from the 209,683 households)."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Sum

from energy_supply.selectors import CountyEnergy
from heating.breakdown import GROUPS
from heating.models import County, HeatingPath, PlanYear, Township
from heating.selectors import Milestone
from oversight.dashboards.progress import CountyProgress, Figures, ProgressReport
from retrofits.choices import Stage
from retrofits.models import ProgressCount, RollupRun, TrendPoint

# Points for the two units without a polygon of their own (longitude, latitude).
POINTS = {"忻州城区": (112.734, 38.417), "五台山": (113.593, 38.998)}
PACE_DAYS = 14


@dataclass(frozen=True)
class Status:
    label: str  # 正常 / 有风险 / 逾期 / 已完成
    css: str
    detail: str


def county_status(
    progress: CountyProgress, *, plan_year: PlanYear, today: dt.date, pace_per_day: float
) -> Status:
    """Against the county's works deadline: done, overdue, or at risk at its recent pace."""
    figures = progress.total
    due = plan_year.works_due_for(progress.county)
    left = figures.target - figures.completed
    if left <= 0:
        return Status("已完成", "done", f"施工截止 {due:%m月%d日}")
    if today > due:
        return Status("逾期", "overdue", f"施工截止 {due:%Y年%m月%d日} 已过，尚余 {left:,} 户")
    days = (due - today).days
    if pace_per_day * days >= left:
        return Status(
            "正常", "ok", f"近{PACE_DAYS}天日均完工 {pace_per_day:,.0f} 户，距截止 {days} 天"
        )
    return Status(
        "有风险",
        "risk",
        f"按近{PACE_DAYS}天日均 {pace_per_day:,.0f} 户，截止前尚差约 {left - int(pace_per_day * days):,} 户",
    )


def projection(
    *,
    target: int,
    completed: int,
    pace_per_day: float,
    today: dt.date,
    deadline: dt.date,
    finished_on: dt.date | None = None,
) -> dict[str, Any]:
    """When the county finishes its works at its pace of the last PACE_DAYS days; a county that
    has finished shows the day it did (`finished_on`), not a projection."""
    left = max(target - completed, 0)
    finish: dt.date | None
    if left == 0:
        finish = finished_on
        said = f"已于 {finished_on:%Y年%m月%d日} 全部完工" if finished_on else "已全部完工"
        return {
            "pace_per_day": round(pace_per_day, 1),
            "left": 0,
            "expected_finish": finish.isoformat() if finish else None,
            "finished": True,
            "deadline": deadline.isoformat(),
            "on_time": finish is None or finish <= deadline,
            "said": said,
        }
    if pace_per_day <= 0:
        finish, said = None, f"近{PACE_DAYS}天无完工，按此进度无法完成"
    else:
        finish = today + dt.timedelta(days=math.ceil(left / pace_per_day))
        said = f"按近{PACE_DAYS}天日均 {pace_per_day:,.0f} 户，预计 {finish:%Y年%m月%d日} 完工"
    return {
        "pace_per_day": round(pace_per_day, 1),
        "left": left,
        "expected_finish": finish.isoformat() if finish else None,
        "finished": False,
        "deadline": deadline.isoformat(),
        "on_time": finish is not None and finish <= deadline,
        "said": said,
    }


def county_projection(
    progress: CountyProgress, *, plan_year: PlanYear, today: dt.date, trend: Trend
) -> dict[str, Any]:
    """The county's projected finish beside its works deadline (五台山: 10/1), or the day it
    finished."""
    county_id = progress.county.pk
    return projection(
        target=progress.total.target,
        completed=progress.total.completed,
        pace_per_day=trend.pace(county_id, today),
        today=today,
        deadline=plan_year.works_due_for(progress.county),
        finished_on=trend.reached(county_id, progress.total.target),
    )


class Trend:
    """The counties' daily completions and acceptances as the latest count found them, from the
    households' own dates (TrendPoint), read once for a page: its line, each county's recent pace
    and the day each reached its target."""

    def __init__(self, counties: Iterable[int]) -> None:
        run = RollupRun.objects.latest_complete()
        points = TrendPoint.objects.filter(run=run, county__in=list(counties)) if run else None
        self.days: dict[int, list[tuple[dt.date, int, int]]] = defaultdict(list)
        if points is None:
            return
        for county_id, day, completed, accepted in points.order_by("county", "day").values_list(
            "county", "day", "completed", "accepted"
        ):
            self.days[county_id].append((day, completed, accepted))

    def line(self) -> list[tuple[str, int, int]]:
        """(day, completed, accepted) to date over these counties, for every day some household
        completed or was accepted: the whole season however late counting began."""
        by_day: dict[dt.date, list[int]] = defaultdict(lambda: [0, 0])
        for rows in self.days.values():
            for day, completed, accepted in rows:
                by_day[day][0] += completed
                by_day[day][1] += accepted
        completed = accepted = 0
        line = []
        for day in sorted(by_day):
            completed += by_day[day][0]
            accepted += by_day[day][1]
            line.append((f"{day:%Y-%m-%d}", completed, accepted))
        return line

    def pace(self, county_id: int, today: dt.date) -> float:
        """Households completed per day over the last PACE_DAYS days."""
        start = today - dt.timedelta(days=PACE_DAYS)
        done = sum(c for day, c, _ in self.days.get(county_id, []) if start < day <= today)
        return done / PACE_DAYS

    def reached(self, county_id: int, target: int) -> dt.date | None:
        """The day the county's completions reached `target` (None: not yet, or no target)."""
        if target <= 0:
            return None
        done = 0
        for day, completed, _ in self.days.get(county_id, []):
            done += completed
            if done >= target:
                return day
        return None


def next_milestone(stages: list[Milestone], today: dt.date) -> tuple[str, int] | None:
    """The first stage not yet over, and the days left to its end."""
    return next(((m.label, (m.end - today).days) for m in stages if m.end >= today), None)


def charts(
    report: ProgressReport, *, trend: Trend, energy: dict[int, CountyEnergy] | None = None
) -> dict[str, Any]:
    """The data of the page's ECharts figures, every one over the report's counties (those the
    user sees: the cards' counties); `energy` (by county) colours the map by supply too."""
    energy = energy or {}
    paths = [p for _, p in GROUPS if p]
    return {
        "counties": [c.county.short_name for c in report.counties],
        # Each path's completions and targets by county, and their rate: the chart draws the
        # rates, so that 原平市's 150,000 district households do not flatten everyone else.
        "by_path": [
            {
                "name": HeatingPath(path).label,
                "data": [c.group(path).completed for c in report.counties],
                "targets": [c.group(path).target for c in report.counties],
                "rates": [c.group(path).as_dict()["completed_pct"] for c in report.counties],
            }
            for path in paths
        ],
        "targets": [c.total.target for c in report.counties],
        # Households that have reached each stage (or gone past it): a true funnel.
        "funnel": [
            {
                "name": f"{Stage(stage).label}及以后"
                if stage != Stage.ACCEPTED
                else Stage(stage).label,
                "value": sum(report.total.by_stage[s] for s in Stage.values[index:]),
            }
            for index, stage in enumerate(Stage.values)
        ],
        "trend": trend.line(),
        "map": [
            {
                "name": c.county.name,
                "short": c.county.short_name,
                "value": c.total.as_dict()["completed_pct"] or 0,
                "point": POINTS.get(c.county.short_name),
                "metrics": {
                    "completed": c.total.as_dict()["completed_pct"],
                    **_energy_metrics(energy.get(c.county.pk)),
                },
            }
            for c in report.counties
        ],
        "map_metrics": [{"key": key, "label": label} for key, label in MAP_METRICS.items()],
    }


# What the county map can be coloured by, each a percentage (none where a county has no such thing).
MAP_METRICS = {
    "completed": "完成率",
    "gas": "用气余量",
    "grid": "煤改电村电网改造完成率",
    "connected": "通气率",
    "reserves": "燃料储备满足率",
}


def _energy_metrics(energy: CountyEnergy | None) -> dict[str, float | None]:
    if energy is None:
        return {}
    return {
        "gas": energy.gas.left_pct,
        "grid": energy.grid.villages_pct,
        "connected": energy.network.served_pct,
        "reserves": energy.reserves_pct,
    }


@dataclass(frozen=True)
class PlaceRow:
    pk: int
    name: str
    figures: Figures
    code: str = ""
    villages: int = 0  # of a township


def places(*, county: County | None = None, township: Township | None = None) -> list[PlaceRow]:
    """Households by stage per township of a county, or per village of a township (those with
    households)."""
    run = RollupRun.objects.latest_complete()
    if run is None:
        return []
    counts = ProgressCount.objects.filter(run=run)
    if township is not None:
        key, name = "village", "village__name"
        counts = counts.filter(township=township)
    else:
        key, name = "township", "township__name"
        counts = counts.filter(county=county)
    rows: dict[int, PlaceRow] = {}
    for r in counts.values(key, name, "stage").annotate(n=Sum("households")).order_by(key):
        place = rows.setdefault(r[key], PlaceRow(r[key], r[name], Figures()))
        place.figures.by_stage[r["stage"]] += r["n"]
    return list(rows.values())


def townships(*, county: County) -> list[PlaceRow]:
    """Every township of the county, with its villages and its households by stage."""
    counted = {p.pk: p.figures for p in places(county=county)}
    listed = (
        county.townships.annotate(villages_count=Count("villages"))
        .order_by("code")
        .values_list("pk", "name", "code", "villages_count")
    )
    return [
        PlaceRow(pk, name, counted.get(pk) or Figures(), code, villages)
        for pk, name, code, villages in listed
    ]


def awaiting_past_deadline(progress: CountyProgress, *, plan_year: PlanYear, today: dt.date) -> int:
    """Households still at 已完工 after the county's acceptance deadline (10/31; 五台山 earlier)."""
    if today <= plan_year.acceptance_due_for(progress.county):
        return 0
    return progress.total.by_stage[Stage.COMPLETED]
