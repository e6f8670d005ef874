"""The read side of the progress rollups: targets beside the latest complete rollup's counts, by
county, path and area type. Pages, the API, the CLI and the xlsx all read this (never the
209,683 households: retrofits/services/rollups.py counts them once and stores the figures)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, cast

from django.core.cache import cache
from django.db.models import QuerySet
from django.utils import timezone

from heating.marks import table_marks
from heating.models import AreaType, County, HeatingPath, PlanYear, Target
from retrofits.choices import DONE_STAGES, Stage
from retrofits.models import DailyProgress, RollupRun

STAGES = tuple(Stage.values)
# How long a report is kept at most (a new count or a target's change replaces it sooner).
REPORT_SECONDS = 600


def _stages() -> dict[str, int]:
    return dict.fromkeys(STAGES, 0)


@dataclass
class Figures:
    target: int = 0
    by_stage: dict[str, int] = field(default_factory=_stages)

    @property
    def households(self) -> int:
        return sum(self.by_stage.values())

    @property
    def completed(self) -> int:
        return sum(self.by_stage[s] for s in DONE_STAGES)

    @property
    def accepted(self) -> int:
        return self.by_stage[Stage.ACCEPTED]

    @property
    def completed_pct(self) -> float | None:
        return _pct(self.completed, self.target)

    def add(self, other: Figures) -> None:
        self.target += other.target
        for stage, n in other.by_stage.items():
            self.by_stage[stage] += n

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "households": self.households,
            "by_stage": dict(self.by_stage),
            "completed": self.completed,
            "accepted": self.accepted,
            "completed_pct": self.completed_pct,
            "accepted_pct": _pct(self.accepted, self.target),
        }


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


@dataclass
class CountyProgress:
    county: County
    total: Figures
    cells: dict[tuple[str, str], Figures]  # (path, area)

    def group(self, path: str | None = None, area: str | None = None) -> Figures:
        """The figures of one printed column group: a path (None: every path), an area or both."""
        figures = Figures()
        for (p, a), f in self.cells.items():
            if (path is None or p == path) and (area is None or a == area):
                figures.add(f)
        return figures


@dataclass
class ProgressReport:
    plan_year: PlanYear
    run: RollupRun | None
    counties: list[CountyProgress]
    total: Figures

    def group(self, path: str | None = None, area: str | None = None) -> Figures:
        figures = Figures()
        for county in self.counties:
            figures.add(county.group(path, area))
        return figures

    @property
    def as_of(self) -> dt.datetime | None:
        """When the figures were counted, in Asia/Shanghai time as everything the portal shows."""
        finished = self.run.finished_at if self.run else None
        return timezone.localtime(finished) if finished else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "year": self.plan_year.year,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "city": self.total.as_dict(),
            "counties": [
                {
                    "county": c.county.short_name,
                    "division_code": c.county.division_code,
                    **c.total.as_dict(),
                    "cells": [
                        {"path": path, "area": area, **figures.as_dict()}
                        for (path, area), figures in c.cells.items()
                    ],
                }
                for c in self.counties
            ],
        }


def progress_report(*, plan_year: PlanYear, counties: QuerySet[County]) -> ProgressReport:
    """Targets beside the latest complete rollup, by county, path and area type: kept for the run
    and the targets as they stand (every write of a target writes its history), since building
    it from the run's 640 county rows costs each view of the city dashboard 15 ms."""
    chosen = list(counties)
    run = RollupRun.objects.latest_complete()
    targets = table_marks((Target.history.model, "MAX(history_id)"))
    key = (
        f"progress:{run and run.pk}:{plan_year.pk}:{targets}:{','.join(str(c.pk) for c in chosen)}"
    )
    return cast(
        ProgressReport,
        cache.get_or_set(key, lambda: _report(plan_year, chosen, run), REPORT_SECONDS),
    )


def _report(plan_year: PlanYear, chosen: list[County], run: RollupRun | None) -> ProgressReport:
    cells: dict[int, dict[tuple[str, str], Figures]] = defaultdict(
        lambda: {(p, a): Figures() for p in HeatingPath.values for a in AreaType.values}
    )
    for county_id, path, area, households in Target.objects.filter(
        plan_year=plan_year, county__in=chosen
    ).values_list("county_id", "path", "area", "households"):
        cells[county_id][(path, area)].target = households
    if run is not None and run.finished_at is not None:
        # The run wrote its day's county-level grid in its own transaction: 640 rows to read
        # instead of regrouping tens of thousands of village rows.
        counted = DailyProgress.objects.filter(
            day=timezone.localdate(run.finished_at), plan_year=plan_year, county__in=chosen
        ).values_list("county_id", "path", "area", "stage", "households")
        for county_id, path, area, stage, households in counted:
            cells[county_id][(path, area)].by_stage[stage] += households
    report = ProgressReport(plan_year=plan_year, run=run, counties=[], total=Figures())
    for county in chosen:
        total = Figures()
        for figures in cells[county.pk].values():
            total.add(figures)
        report.counties.append(CountyProgress(county, total, cells[county.pk]))
        report.total.add(total)
    return report
