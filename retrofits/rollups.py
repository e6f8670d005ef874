"""Progress rollups: count the ledger once, store the figures, let every page read them.

A run is one transaction: its village-level counts, its finish time and the day's county-level
snapshot commit together or not at all, so a worker killed halfway leaves the previous figures in place.
Runs may overlap; each is whole, and readers take the latest finished one.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone

from heating.models import AreaType, County, HeatingPath, PlanYear, Target
from retrofits.choices import DONE_STAGES, Stage
from retrofits.models import DailyProgress, Household, ProgressCount, RollupRun

KEEP_RUNS = 3


@transaction.atomic
def rollup_run() -> RollupRun:
    started = timezone.now()
    run = RollupRun.objects.create(started_at=started)
    household, count = Household._meta.db_table, ProgressCount._meta.db_table
    with connection.cursor() as cursor:
        # COUNT(*), not COUNT(id): PostgreSQL can answer from the (county, path, area, stage)-led
        # indexes without visiting the table.
        cursor.execute(
            f"INSERT INTO {count} (run_id, county_id, township_id, village_id, path, area, stage, households) "
            f"SELECT %s, county_id, township_id, village_id, path, area, stage, COUNT(*) FROM {household} "
            "GROUP BY county_id, township_id, village_id, path, area, stage",
            [run.pk],
        )
    run.households = ProgressCount.objects.filter(run=run).aggregate(n=Sum("households"))["n"] or 0
    run.finished_at = timezone.now()
    run.save(update_fields=["households", "finished_at"])
    _snapshot_day(run, timezone.localdate(run.finished_at))
    stale = RollupRun.objects.complete().order_by("-finished_at", "-pk")[KEEP_RUNS:]
    RollupRun.objects.filter(pk__in=list(stale.values_list("pk", flat=True))).delete()
    return run


def _snapshot_day(run: RollupRun, day: dt.date) -> None:
    """The whole county × path × area × stage grid for the day, zeros included, so that a later run
    the same day overwrites every cell (an upsert: two runs at once wait for each other)."""
    found = {
        (r["county"], r["path"], r["area"], r["stage"]): r["n"]
        for r in ProgressCount.objects.filter(run=run)
        .values("county", "path", "area", "stage")
        .annotate(n=Sum("households"))
    }
    rows = [
        DailyProgress(
            day=day,
            county_id=county_id,
            path=path,
            area=area,
            stage=stage,
            households=found.get((county_id, path, area, stage), 0),
        )
        for county_id in County.objects.values_list("pk", flat=True)
        for path in HeatingPath.values
        for area in AreaType.values
        for stage in Stage.values
    ]
    DailyProgress.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["day", "county", "path", "area", "stage"],
        update_fields=["households"],
    )


# ---------------------------------------------------------------- reading


STAGES = tuple(Stage.values)


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
            "completed_pct": _pct(self.completed, self.target),
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

    def as_dict(self) -> dict[str, Any]:
        return {
            "year": self.plan_year.year,
            "as_of": self.run.finished_at.isoformat()
            if self.run and self.run.finished_at
            else None,
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
    """Targets beside the latest complete rollup, by county, path and area type."""
    run = RollupRun.objects.latest_complete()
    cells: dict[int, dict[tuple[str, str], Figures]] = defaultdict(
        lambda: {(p, a): Figures() for p in HeatingPath.values for a in AreaType.values}
    )
    chosen = list(counties)
    for county_id, path, area, households in Target.objects.filter(
        plan_year=plan_year, county__in=chosen
    ).values_list("county_id", "path", "area", "households"):
        cells[county_id][(path, area)].target = households
    if run is not None and run.finished_at is not None:
        # The run wrote its day's county-level grid in its own transaction: 640 rows to read
        # instead of regrouping tens of thousands of village rows.
        counted = DailyProgress.objects.filter(
            day=timezone.localdate(run.finished_at), county__in=chosen
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
