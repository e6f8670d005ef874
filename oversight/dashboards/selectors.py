"""What the dashboards show, read from the stored rollups (never from the 209,683 households)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Sum

from energy_supply.selectors import CountyEnergy
from heating.breakdown import GROUPS
from heating.models import County, HeatingPath, PlanYear, Township
from heating.selectors import Milestone
from oversight.dashboards.progress import CountyProgress, Figures, ProgressReport
from oversight.dashboards.standing import Trend
from retrofits.choices import Stage
from retrofits.models import ProgressCount, RollupRun

# Points for the two units without a polygon of their own (longitude, latitude).
POINTS = {"忻州城区": (112.734, 38.417), "五台山": (113.593, 38.998)}


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


def places(
    *, plan_year: PlanYear, county: County | None = None, township: Township | None = None
) -> list[PlaceRow]:
    """The year's households by stage per township of a county, or per village of a township
    (those with households)."""
    run = RollupRun.objects.latest_complete()
    if run is None:
        return []
    counts = ProgressCount.objects.filter(run=run, plan_year=plan_year)
    if township is not None:
        key, name = "village", "village__name"
        # With its county, which the counts' index has after the run and the plan year.
        counts = counts.filter(county=township.county_id, township=township)
    else:
        key, name = "township", "township__name"
        counts = counts.filter(county=county)
    rows: dict[int, PlaceRow] = {}
    for r in counts.values(key, name, "stage").annotate(n=Sum("households")).order_by(key):
        place = rows.setdefault(r[key], PlaceRow(r[key], r[name], Figures()))
        place.figures.by_stage[r["stage"]] += r["n"]
    return list(rows.values())


def townships(*, county: County, plan_year: PlanYear) -> list[PlaceRow]:
    """Every township of the county, with its villages and the year's households by stage."""
    counted = {p.pk: p.figures for p in places(county=county, plan_year=plan_year)}
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
