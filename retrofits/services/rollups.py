"""Progress rollups: count the ledger once and store the figures, which the dashboards
(oversight/dashboards/progress.py) read instead of counting households on every page view.

A run is one transaction: its village-level counts, its finish time and the day's county-level
snapshot commit together or not at all, so a worker killed halfway leaves the previous figures in place.
Runs may overlap; each is whole, and readers take the latest finished one. A ledger file of new
households adds them to the latest run in its own transaction instead (rollup_added).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from heating.models import AreaType, County, HeatingPath, PlanYear
from retrofits.choices import Stage
from retrofits.models import (
    DailyProgress,
    Household,
    ProgressCount,
    RollupDue,
    RollupRun,
    TrendPoint,
)

KEEP_RUNS = 3


# The runs' transaction-level advisory lock (lock_runs).
RUN_LOCK = 0x526F6C6C  # "Roll"
# The keys of a run's counts: a village's cell (ProgressCount), a day's (TrendPoint).
CELL = ("plan_year_id", "county_id", "township_id", "village_id", "path", "area", "stage")
DAY = ("plan_year_id", "county_id", "path", "area", "day")


@transaction.atomic
def rollup_run(counties: Collection[int] | None = None) -> RollupRun:
    """Count the ledger and store the figures as a new run. With `counties` (those an import just
    wrote), only their households are counted; every other county's figures are carried over from
    the latest run, which counted them as they are (each write asks for the count of what it
    wrote, and beat's schedule counts everything): a county's upload then costs the count of its
    own households, not the city's."""
    lock_runs()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # The figures are counted again from the households at any time: a crash that lost
            # this commit loses nothing, so it need not wait for the disk (25 ms an import). No
            # JIT compiling: the day's figures (a grid of 640 cells, estimated at millions by
            # the planner) took 45 ms with it against 11 ms, 224 ms in a new connection.
            cursor.execute("SET LOCAL synchronous_commit = off; SET LOCAL jit = off")
            # The counts below group the ledger in memory (at a million households the trend's
            # pairs are 94,000 groups, which PostgreSQL's default 4 MB spills to disk), on both
            # cores (see _counted).
            cursor.execute(
                "SET LOCAL work_mem = '64MB'; SET LOCAL parallel_setup_cost = 0; "
                "SET LOCAL parallel_tuple_cost = 0"
            )
    previous = RollupRun.objects.latest_complete() if counties is not None else None
    started = timezone.now()
    run = RollupRun.objects.create(started_at=started)
    count, trend = ProgressCount._meta.db_table, TrendPoint._meta.db_table
    households = Household.objects.order_by()
    if previous is not None and counties is not None:
        households = households.filter(county__in=counties)
        _carry_over(previous, run, exclude=counties)
    # The households are read through the ORM (only the ledger engine writes SQL about them):
    # each aggregate is the SELECT that fills one of the run's tables, so the counting stays in
    # the database. The cells group by village and the pairs by two dates, which no index holds:
    # both read the table (in parallel on PostgreSQL, see _counted).
    cells = _sql(households.values(*CELL).annotate(households=Count("*")))
    # Each day's completions and acceptances by county and target cell, from the households' own
    # dates: one pass over the completed (an accepted household has completed), split by date.
    pairs = _sql(
        households.filter(completed_on__isnull=False)
        .values("plan_year_id", "county_id", "path", "area", "completed_on", "accepted_on")
        .annotate(n=Count("*"))
    )
    with connection.cursor() as cursor:
        cells, pairs = (
            _counted(cursor, cells, "rollup_cells"),
            _counted(cursor, pairs, "rollup_pairs"),
        )
        cursor.execute(
            f"INSERT INTO {count} (run_id, {', '.join(CELL)}, households) "
            f"SELECT %s, cells.* FROM ({cells[0]}) cells",
            [run.pk, *cells[1]],
        )
        cursor.execute(
            f"WITH pairs AS ({pairs[0]}) "
            f"INSERT INTO {trend} (run_id, plan_year_id, county_id, path, area, day, completed, "
            "accepted) SELECT %s, plan_year_id, county_id, path, area, day, SUM(completed), "
            "SUM(accepted) FROM (SELECT plan_year_id, county_id, path, area, completed_on AS day, "
            "n AS completed, 0 AS accepted FROM pairs UNION ALL SELECT plan_year_id, county_id, "
            "path, area, accepted_on, 0, n FROM pairs WHERE accepted_on IS NOT NULL) days "
            "GROUP BY plan_year_id, county_id, path, area, day",
            [*pairs[1], run.pk],
        )
    counted = set(map(str, counties or ()))
    electric_other = {
        **{
            county: pair
            for county, pair in (previous.electric_other if previous else {}).items()
            if county not in counted
        },
        **{
            str(county): [n, unexplained]
            for county, n, unexplained in households.electric_not_heat_pump()
            .values_list("county")
            .annotate(n=Count("pk"), unexplained=Count("pk", filter=Q(notes="")))
        },
    }
    return _finish(run, electric_other)


@dataclass
class Added:
    """The figures of the households a write created, tallied as it wrote them (by the store,
    retrofits/ledger/store.py), for rollup_added: each the count of a key of the run's tables."""

    cells: Counter[tuple[Any, ...]] = field(default_factory=Counter)  # by CELL
    # Completions by plan year, county, path, area and day (a new household has no acceptance).
    days: Counter[tuple[Any, ...]] = field(default_factory=Counter)
    # 煤改电 households whose equipment is not a heat pump, by county and whether no reason is
    # given (see HouseholdQuerySet.electric_not_heat_pump).
    electric: Counter[tuple[int, bool]] = field(default_factory=Counter)


def rollup_added(added: Added, counties: Collection[int]) -> RollupRun | None:
    """In the transaction of a write that created households and changed none, all of them in
    `counties`: a run that is the latest one with the households `added`, committed with the
    write, instead of a count of the counties after the commit (a county's upload of 30,000
    households into its 125,000: the tally of 30,000, not a count of 155,000). None where there
    is no run to add them to: the caller asks for a count after its commit.

    Under the runs' lock, held until the write commits: a run that began before it has finished
    and has counted none of the write's households, which nobody sees before the commit; one that
    begins after it waits, then sees them. What the latest run had not seen of an earlier write
    stays unseen until that write's own count, as after a count of the counties alone."""
    lock_runs()
    previous = RollupRun.objects.latest_complete()
    if previous is None:
        return None
    run = RollupRun.objects.create(started_at=timezone.now())
    _carry_over(previous, run, exclude=counties)
    count, trend = ProgressCount._meta.db_table, TrendPoint._meta.db_table
    # The previous run's figures of the counties, to which the households are added.
    held = f"WHERE run_id = %s AND county_id IN ({', '.join(['%s'] * len(counties))})"
    with connection.cursor() as cursor:
        for table, key, amounts, rows in (
            (count, CELL, ("households",), [(*k, n) for k, n in added.cells.items()]),
            (trend, DAY, ("completed", "accepted"), [(*k, n, 0) for k, n in added.days.items()]),
        ):
            keys, columns = ", ".join(key), ", ".join((*key, *amounts))
            sums = ", ".join(f"SUM({a})" for a in amounts)
            row = f"({', '.join(['%s'] * (len(key) + len(amounts)))})"
            values = f" UNION ALL VALUES {', '.join([row] * len(rows))}" if rows else ""
            cursor.execute(
                f"INSERT INTO {table} (run_id, {columns}) SELECT %s, {keys}, {sums} FROM ("
                f"SELECT {columns} FROM {table} {held}{values}) figures GROUP BY {keys}",
                [run.pk, previous.pk, *counties, *(v for r in rows for v in r)],
            )
    electric_other = {county: list(pair) for county, pair in previous.electric_other.items()}
    for (county, unexplained), n in added.electric.items():
        pair = electric_other.setdefault(str(county), [0, 0])
        pair[0] += n
        pair[1] += n if unexplained else 0
    return _finish(run, electric_other)


def lock_runs() -> None:
    """Runs are made one at a time: one that carries figures over from the latest run must see
    that run finished. Held until the transaction ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [RUN_LOCK])


def _finish(run: RollupRun, electric_other: dict[str, list[int]]) -> RollupRun:
    """Finish a run whose counts are written: its totals, the day's figures, the older runs
    pruned."""
    run.households = ProgressCount.objects.filter(run=run).aggregate(n=Sum("households"))["n"] or 0
    run.electric_other = electric_other
    run.finished_at = timezone.now()
    run.save(update_fields=["households", "finished_at", "electric_other"])
    _snapshot_day(run, timezone.localdate(run.finished_at))
    stale = RollupRun.objects.complete().order_by("-finished_at", "-pk")[KEEP_RUNS:]
    RollupRun.objects.filter(pk__in=list(stale.values_list("pk", flat=True))).delete()
    return run


def _carry_over(previous: RollupRun, run: RollupRun, *, exclude: Collection[int]) -> None:
    """Copy the previous run's village counts and trend points of the counties not in `exclude`
    into `run`, in the database."""
    for model in (ProgressCount, TrendPoint):
        columns = [
            f.column
            for f in model._meta.concrete_fields
            if isinstance(f, models.Field) and f.column and f.column not in ("id", "run_id")
        ]
        names = ", ".join(columns)
        others = f" AND county_id NOT IN ({', '.join(['%s'] * len(exclude))})" if exclude else ""
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {model._meta.db_table} (run_id, {names}) SELECT %s, {names} "
                f"FROM {model._meta.db_table} WHERE run_id = %s{others}",
                [run.pk, previous.pk, *exclude],
            )


def _sql(queryset: QuerySet[Any]) -> tuple[str, tuple[Any, ...]]:
    sql, params = queryset.query.sql_with_params()
    return sql, tuple(params)


def _counted(
    cursor: CursorWrapper, query: tuple[str, tuple[Any, ...]], table: str
) -> tuple[str, tuple[Any, ...]]:
    """Where the run reads a count from: on PostgreSQL a temporary table that the count fills,
    elsewhere the count itself. PostgreSQL plans no INSERT … SELECT in parallel but does plan a
    CREATE TABLE … AS, and each count scans the ledger or a county's share of it. The run sets
    the planner's costs for workers to nothing: reckoned on its estimate of a count's groups
    (twenty times the true number), their cost would keep a county's count on one core. Tables
    under min_parallel_table_scan_size (8 MB: a demo city's) are still read by one."""
    if connection.vendor != "postgresql":
        return query
    cursor.execute(f"DROP TABLE IF EXISTS {table}")  # a second run in the same transaction
    cursor.execute(f"CREATE TEMPORARY TABLE {table} ON COMMIT DROP AS {query[0]}", query[1])
    return f"SELECT * FROM {table}", ()


def _snapshot_day(run: RollupRun, day: dt.date) -> None:
    """The whole plan year × county × path × area × stage grid for the day, zeros included, so
    that a later run the same day overwrites every cell (an upsert: two runs at once wait for
    each other). In one statement: the grid's 2,000 rows made and sent one by one in Python cost a
    county's upload 70 ms."""
    grid: list[str] = []
    params: list[Any] = [day]
    for column, values in (
        ("path", HeatingPath.values),
        ("area", AreaType.values),
        ("stage", Stage.values),
    ):
        grid.append(" UNION ALL ".join([f"SELECT %s AS {column}"] * len(values)))
        params += values
    daily, count = DailyProgress._meta.db_table, ProgressCount._meta.db_table
    years, counties = PlanYear._meta.db_table, County._meta.db_table
    year = PlanYear._meta.pk.column  # the year itself
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {daily} (day, plan_year_id, county_id, path, area, stage, households) "
            f"SELECT %s, y.{year}, c.id, p.path, a.area, s.stage, COALESCE(n.households, 0) "
            f"FROM {years} y CROSS JOIN {counties} c CROSS JOIN ({grid[0]}) p "
            f"CROSS JOIN ({grid[1]}) a CROSS JOIN ({grid[2]}) s LEFT JOIN ("
            "SELECT plan_year_id, county_id, path, area, stage, SUM(households) AS households "
            f"FROM {count} WHERE run_id = %s GROUP BY plan_year_id, county_id, path, area, stage"
            f") n ON n.plan_year_id = y.{year} AND n.county_id = c.id AND n.path = p.path "
            "AND n.area = a.area AND n.stage = s.stage "
            # WHERE: SQLite would otherwise read ON CONFLICT as the join's.
            "WHERE 1 = 1 ON CONFLICT (day, plan_year_id, county_id, path, area, stage) "
            "DO UPDATE SET households = excluded.households",
            [*params, run.pk],
        )


# A count asked for but not run by then (a worker died) is asked for again by the next write.
STALE_AFTER = dt.timedelta(minutes=5)


def request_rollup() -> None:
    """After a household write commits: count the figures again within ROLLUP_DEBOUNCE_SECONDS,
    once for however many writes come in that time, so that the dashboards follow a form save
    within a minute without a count per keystroke. Beat's schedule counts in any case."""
    from retrofits.tasks import run_due_rollup

    delay = settings.ROLLUP_DEBOUNCE_SECONDS
    now = timezone.now()
    due = now + dt.timedelta(seconds=delay)
    RollupDue.objects.get_or_create(pk=1)
    waiting = Q(due_at__isnull=True) | Q(due_at__lt=now - STALE_AFTER)
    if not RollupDue.objects.filter(waiting, pk=1).update(due_at=due):
        return  # a count is already on its way
    if delay <= 0:
        run_due_rollup.delay()
    elif settings.CELERY_TASK_ALWAYS_EAGER:
        # No worker (make run): a timer in this process counts when the time comes.
        timer = threading.Timer(delay, _run_in_thread)
        timer.daemon = True
        timer.start()
    else:
        run_due_rollup.apply_async(countdown=delay)


def _run_in_thread() -> None:
    from retrofits.tasks import run_due_rollup

    try:
        run_due_rollup.apply()
    finally:
        connection.close()


def due_rollup_run() -> RollupRun | None:
    """Count now if a count is due; the writes that come meanwhile ask for the next one."""
    if not RollupDue.objects.filter(pk=1, due_at__isnull=False).update(due_at=None):
        return None
    return rollup_run()
