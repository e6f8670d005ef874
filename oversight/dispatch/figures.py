"""A county's figures for a dispatch report: its progress against the targets (by path × area type ×
stage), its supply (gas headroom, grid and gas coverage, reserves) and its projected finish. The
same function gives the frozen figures of a submitted report and today's live ones beside them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from acceptance.selectors import building_progress
from energy_supply.selectors import county_energy
from heating.models import County, PlanYear
from oversight.dashboards.progress import progress_report
from oversight.dashboards.standing import Trend, county_standing


def county_figures(county: County, plan_year: PlanYear, today: dt.date) -> dict[str, Any]:
    return all_figures(plan_year, today, County.objects.filter(pk=county.pk))[county.pk]


def all_figures(
    plan_year: PlanYear, today: dt.date, counties: QuerySet[County] | None = None
) -> dict[int, dict[str, Any]]:
    """Each county's figures, counted together (the city's view shows all sixteen)."""
    counties = counties if counties is not None else County.objects.all()
    report = progress_report(plan_year=plan_year, counties=counties)
    as_of = report.as_dict()["as_of"]
    energy = {
        e.county.pk: e.as_dict() for e in county_energy(counties=counties, plan_year=plan_year)
    }
    trend = Trend((c.pk for c in counties), plan_year)
    buildings = building_progress(plan_year=plan_year, counties=list(counties))
    figures = {}
    for progress in report.counties:
        county = progress.county
        standing = county_standing(progress, plan_year=plan_year, today=today, trend=trend)
        figures[county.pk] = {
            "as_of": as_of,
            # Each cell with its status and the households beyond its target (超改抢跑).
            "progress": {
                "county": county.short_name,
                "division_code": county.division_code,
                **progress.total.as_dict(),
                "cells": [cell.as_dict() for cell in standing.cells],
            },
            "standing": standing.as_dict(),
            "building_m2": buildings.of(county.short_name),
            "energy": energy.get(county.pk, {}),
            "projection": standing.projection,
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
    Headline("施工状态", ("standing", "status")),
    Headline("建筑节能改造·城区/县城（平方米）", ("building_m2", "town")),
    Headline("建筑节能改造·农村围护（平方米）", ("building_m2", "rural_envelope")),
    Headline("超任务户数", ("standing", "over_target")),
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
