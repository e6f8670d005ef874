"""A county's figures for a dispatch report: its progress against the targets (by path × area type ×
stage), its supply (gas headroom, grid and gas coverage, reserves) and its projected finish. The
same function gives the frozen figures of a submitted report and today's live ones beside them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from energy_supply.selectors import county_energy
from heating.models import County, PlanYear
from oversight.dashboards.progress import progress_report
from oversight.dashboards.selectors import Trend, projection


def county_figures(county: County, plan_year: PlanYear, today: dt.date) -> dict[str, Any]:
    return all_figures(plan_year, today, County.objects.filter(pk=county.pk))[county.pk]


def all_figures(
    plan_year: PlanYear, today: dt.date, counties: QuerySet[County] | None = None
) -> dict[int, dict[str, Any]]:
    """Each county's figures, counted together (the city's view shows all sixteen)."""
    counties = counties if counties is not None else County.objects.all()
    progress = progress_report(plan_year=plan_year, counties=counties).as_dict()
    by_name = {c["county"]: c for c in progress["counties"]}
    energy = {
        e.county.pk: e.as_dict() for e in county_energy(counties=counties, plan_year=plan_year)
    }
    trend = Trend(c.pk for c in counties)
    figures = {}
    for county in counties:
        mine = by_name.get(county.short_name, {})
        target = int(mine.get("target", 0))
        figures[county.pk] = {
            "as_of": progress["as_of"],
            "progress": mine,
            "energy": energy.get(county.pk, {}),
            "projection": projection(
                target=target,
                completed=int(mine.get("completed", 0)),
                pace_per_day=trend.pace(county.pk, today),
                today=today,
                deadline=plan_year.works_due_for(county),
                finished_on=trend.reached(county.pk, target),
            ),
        }
    return figures


@dataclass(frozen=True)
class Headline:
    label: str
    path: tuple[str, ...]  # keys into the figures

    def of(self, figures: dict[str, Any]) -> Any:
        value: Any = figures
        for key in self.path:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value


# The figures the city's view shows reported beside live, and the upward report's columns.
HEADLINES = [
    Headline("任务户数", ("progress", "target")),
    Headline("已完工", ("progress", "completed")),
    Headline("完工率%", ("progress", "completed_pct")),
    Headline("已验收", ("progress", "accepted")),
    Headline("用气余量（户）", ("energy", "gas", "left")),
    Headline("电网到位村", ("energy", "grid", "villages_ready")),
    Headline("管网到位村", ("energy", "gas_network", "villages_ready")),
    Headline("预计完工", ("projection", "expected_finish")),
]


def shown(value: Any) -> str:
    """A figure as the pages print it: counts with thousands separators, dates as they are."""
    if value is None or value == "":
        return "—"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def compared(reported: dict[str, Any], live: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(label, reported, live, differs) for each headline figure, printed."""
    rows = []
    for headline in HEADLINES:
        then, now = headline.of(reported), headline.of(live)
        rows.append((headline.label, shown(then), shown(now), bool(reported) and then != now))
    return rows
