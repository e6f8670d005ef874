"""Progress rollups: count the ledger once and store the figures, which the dashboards
(heating/dashboards/progress.py) read instead of counting households on every page view.

A run is one transaction: its village-level counts, its finish time and the day's county-level
snapshot commit together or not at all, so a worker killed halfway leaves the previous figures in place.
Runs may overlap; each is whole, and readers take the latest finished one.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from heating.models import AreaType, County, HeatingPath
from retrofits.choices import Stage
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
