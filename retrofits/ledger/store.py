"""The store: where a ledger file is written, by set-based SQL in one transaction, fed with the
checked rows in chunks (row-by-row ORM saves cost minutes at the city's 209,683 rows:
docs/import-performance.md). Its two write modes, regular and first load, and what each
guarantees are described in the package's docstring (retrofits/ledger/__init__.py).

Either way the plan rules run after the write, in the same transaction. On PostgreSQL a large file
is written by a second thread on its own connection while this one checks the next chunk
(handoff.py). Any error or breach, or a dry run, rolls everything back.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

from django.db import IntegrityError, connection, models, transaction
from django.db.models.expressions import RawSQL

from heating import access
from heating.access import Action
from heating.models import County, User
from heating.sheets import SheetError
from retrofits.choices import Stage
from retrofits.ledger.file import COLUMNS, HEADER_OF
from retrofits.ledger.handoff import Failed
from retrofits.ledger.indexes import rebuilt_indexes
from retrofits.models import Household
from retrofits.rules import (
    Breach,
    Problem,
    State,
    Touched,
    Via,
    change_problems,
    lock_counties,
    plan_breaches,
)

# The Household fields of a ledger row, in the template's order.
FIELDS = tuple(c.field for c in COLUMNS)
STAGING = "ledger_staging"


class CheckedRow(NamedTuple):
    """A row that passed the import's checks: its sheet row number, then the household's columns in
    FIELDS order, as the staging table and COPY take them. The import builds it with
    tuple.__new__, at a third of the cost of the generated __new__ in its hot loop."""

    row_no: int
    code: str
    county_id: int
    township_id: int
    village_id: int
    head_name: str
    id_number: str
    phone: str
    area: str
    path: str
    equipment_id: int | None
    stage: str
    completed_on: dt.date | None
    low_income: bool
    notes: str


_county = operator.itemgetter(CheckedRow._fields.index("county_id"))
_county_and_stage = operator.itemgetter(
    CheckedRow._fields.index("county_id"), CheckedRow._fields.index("stage")
)
# Past this many written rows the planner's statistics are refreshed at once: stale ones right after a
# county's first upload made the list page choose a plan a hundred times slower.
ANALYZE_AFTER = 10000
# From this many rows on, a file is stored by a second thread, and one with more than twice the
# rows the ledger holds is a first load.
BULK_MIN = 10000


def _column(name: str) -> str:
    field = Household._meta.get_field(name)
    assert isinstance(field, models.Field) and field.column
    return field.column


class LedgerStore:
    """The set-based SQL of one import; portable between PostgreSQL and SQLite ≥ 3.33."""

    def __init__(
        self, *, present: list[str], now: dt.datetime, user: User | None, source: str
    ) -> None:
        self.table = Household._meta.db_table
        self.tables = [self.table, Household.history.model._meta.db_table]
        self.columns = [_column(f) for f in FIELDS]
        assert tuple(self.columns) == CheckedRow._fields[1:], "CheckedRow follows FIELDS"
        self.present = [_column(f) for f in present]
        self.now = now
        self.user_id = user.pk if user else None
        self.visible = (
            access.Scope(everything=True) if user is None else access.scope(user, Action.VIEW)
        )
        self.source = source
        self.postgres = connection.vendor == "postgresql"
        self.staging_types: list[int] = []
        # NULL-safe "differs" and "equals": PostgreSQL's IS [NOT] DISTINCT FROM; SQLite's IS [NOT].
        distinct = "IS DISTINCT FROM" if self.postgres else "IS NOT"
        self.same = "IS NOT DISTINCT FROM" if self.postgres else "IS"
        self.changed = " OR ".join(f"h.{c} {distinct} s.{c}" for c in self.present)
        self.counties: set[int] = set()  # of the rows written: the plan rules' scope and locks
        # The change rules' answer for each new household's state, asked once per state.
        self.new_problems: dict[tuple[int, str], list[Problem]] = {}

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        cursor = connection.cursor()
        cursor.execute(sql, params)
        return cursor

    def create_staging(self) -> None:
        """A session-wide temporary table, filled before the transaction begins. Its columns are
        the household's own, collations included, so that joins on them compare alike."""
        self.drop()
        self.execute(
            f"CREATE TEMPORARY TABLE {STAGING} AS SELECT 0 AS row_no, {', '.join(self.columns)} "
            f"FROM {self.table} WHERE 1 = 0"
        )
        if self.postgres:
            # Binary COPY needs the column types; it costs Python a third less than text.
            described = self.execute(f"SELECT * FROM {STAGING} LIMIT 0").description
            self.staging_types = [column.type_code for column in described]

    def stage(self, rows: list[CheckedRow]) -> None:
        names = ", ".join(["row_no", *self.columns])
        with connection.cursor() as cursor:
            if self.postgres:
                sql = f"COPY {STAGING} ({names}) FROM STDIN (FORMAT BINARY)"
                with cursor.cursor.copy(sql) as copy:
                    copy.set_types(self.staging_types)
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * (len(self.columns) + 1))
                cursor.executemany(f"INSERT INTO {STAGING} ({names}) VALUES ({marks})", rows)

    def index_staging(self) -> None:
        self.execute(f"CREATE INDEX ledger_staging_code ON {STAGING} (code)")

    @cached_property
    def county_names(self) -> dict[int, str]:
        return dict(County.objects.values_list("pk", "short_name"))

    def _errors(self, rows: Iterable[int], problems: list[Problem], new: State) -> list[SheetError]:
        """The change rules' problems as the errors of these sheet rows."""
        shown = {"stage": Stage(new.stage).label, "county": self.county_names.get(new.county_id)}
        return [
            SheetError(row, HEADER_OF[p.field], shown.get(p.field) or "", p.message)
            for row in rows
            for p in problems
        ]

    def database_errors(self) -> list[SheetError]:
        """What only the database knows: ID numbers held by other households, and the change
        rules, asked once for each distinct (old, new) state of the staged rows."""
        errors = []
        taken = self.execute(
            f"SELECT s.row_no, s.id_number, h.code, h.county_id FROM {STAGING} s "
            f"JOIN {self.table} h ON h.id_number = s.id_number WHERE h.code <> s.code"
        ).fetchall()
        for row, id_number, code, county_id in taken:
            # Which household holds it is told only to those who may see that household.
            where = (
                f"户编号 {code}"
                if county_id in self.visible
                else "其他县（市、区），请联系市能源局核实"
            )
            errors.append(
                SheetError(
                    row,
                    HEADER_OF["id_number"],
                    id_number,
                    f"身份证号「{id_number}」已登记在{where}（一个身份证号只能登记一户）",
                )
            )
        joined = f"{STAGING} s LEFT JOIN {self.table} h ON h.code = s.code"
        # Rows whose compared state stays as it is are left out: a file never breaks a change rule
        # by repeating a household's state (test_rules), and most rows of a re-import do.
        states = self.execute(
            f"SELECT DISTINCT h.county_id, h.stage, s.county_id, s.stage FROM {joined} "
            "WHERE h.id IS NULL OR h.county_id <> s.county_id OR h.stage <> s.stage"
        ).fetchall()
        for old_county, old_stage, county, stage in states:
            old = None if old_stage is None else State(old_county, old_stage)
            new = State(county, stage)
            problems = change_problems(old, new, via=Via.IMPORT)
            if problems:
                rows = self.execute(
                    f"SELECT s.row_no FROM {joined} WHERE h.county_id {self.same} %s "
                    f"AND h.stage {self.same} %s AND s.county_id = %s AND s.stage = %s",
                    [old_county, old_stage, county, stage],
                ).fetchall()
                errors += self._errors((row for (row,) in rows), problems, new)
        return errors

    def new_household_errors(self, rows: list[CheckedRow]) -> list[SheetError]:
        """The change rules for rows that are all new households (a first load's), asked once
        for each state."""
        errors = []
        for state in set(map(_county_and_stage, rows)):
            if state not in self.new_problems:
                self.new_problems[state] = change_problems(None, State(*state), via=Via.IMPORT)
            if problems := self.new_problems[state]:
                bad = (r.row_no for r in rows if _county_and_stage(r) == state)
                errors += self._errors(bad, problems, State(*state))
        return errors

    def touched(self, *, staged: bool, written: int) -> Touched:
        """What the write touched, for the plan rules: the staged rows it created or changed (each
        carries the import's time, compared as the write stored it), or after a first load every
        household. A re-import that changed nothing touched nothing."""
        households = Household.objects.all()
        if not written:
            households = households.none()
        elif staged:
            changed = RawSQL(
                f"SELECT h.id FROM {self.table} h JOIN {STAGING} s ON s.code = h.code "
                "WHERE h.updated_at = %s",
                (self.now,),
            )
            households = households.filter(pk__in=changed)
        return Touched(counties=frozenset(self.counties), households=households)

    def update(self) -> int:
        """UPDATE the changed households and write their history rows ('~')."""
        assignments = ", ".join(f"{c} = s.{c}" for c in self.present)
        # A new version: a form opened before this upload is stale after it.
        return self.with_history(
            f"UPDATE {self.table} AS h SET {assignments}, version = h.version + 1, "
            "updated_at = %s, updated_by_id = %s "
            f"FROM {STAGING} AS s WHERE h.code = s.code AND ({self.changed})",
            [self.now, self.user_id],
            history_type="~",
        )

    def insert(self) -> int:
        """INSERT the new households and write their history rows ('+')."""
        return self._insert(f"NOT EXISTS (SELECT 1 FROM {self.table} h WHERE h.code = s.code)")

    def ledger_is_empty(self) -> bool:
        return not self.execute(f"SELECT EXISTS (SELECT 1 FROM {self.table})").fetchone()[0]

    def prepare_copy(self) -> None:
        """Ready copy_new(): the columns and types it writes, and where the ledger's ids end."""
        self.copied_columns = [
            *self.columns,
            "created_at",
            "updated_at",
            "created_by_id",
            "updated_by_id",
        ]
        described = self.execute(
            f"SELECT {', '.join(self.copied_columns)} FROM {self.table} LIMIT 0"
        ).description
        self.copied_types = [column.type_code for column in described]
        self.copied_tail = (self.now, self.now, self.user_id, self.user_id)
        self.last_id = self.execute(f"SELECT coalesce(max(id), 0) FROM {self.table}").fetchone()[0]

    def copy_new(self, rows: list[CheckedRow]) -> int:
        """COPY checked rows, all new, straight into the ledger, then add their history rows
        ('+') from what was copied. For a first load into an empty ledger, whose tables it holds
        locked (PostgreSQL only)."""
        tail = self.copied_tail
        sql = f"COPY {self.table} ({', '.join(self.copied_columns)}) FROM STDIN (FORMAT BINARY)"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            copy.set_types(self.copied_types)
            for row in rows:
                copy.write_row(row[1:] + tail)
        add_history, values = self._history_insert("+")
        # One round trip adds the history rows and says where the ledger's ids now end.
        self.last_id = self.execute(
            f"WITH added AS ({add_history} FROM {self.table} h WHERE h.id > %s RETURNING id) "
            "SELECT coalesce(max(id), %s) FROM added",
            [*values, self.last_id, self.last_id],
        ).fetchone()[0]
        return len(rows)

    def _insert(self, where: str, params: Sequence[Any] = ()) -> int:
        names = ", ".join(self.columns)
        picked = ", ".join(f"s.{c}" for c in self.columns)
        return self.with_history(
            f"INSERT INTO {self.table} AS h "
            f"({names}, created_at, updated_at, created_by_id, updated_by_id) "
            f"SELECT {picked}, %s, %s, %s, %s FROM {STAGING} s WHERE {where}",
            [self.now, self.now, self.user_id, self.user_id, *params],
            history_type="+",
        )

    def _history_insert(self, history_type: str) -> tuple[str, list[Any]]:
        """The start of an INSERT of history rows, as simple_history keeps them, for the
        households a query gives as `h`; and its parameters."""
        history = Household.history.model._meta
        own = {f.column for f in Household._meta.concrete_fields}
        extra = {
            "history_date": self.now,
            "history_change_reason": self.source,
            "history_user": self.user_id,
            "history_type": history_type,
        }
        names: list[str] = []
        picked: list[str] = []
        values: list[Any] = []
        for f in history.concrete_fields:
            if f.column in own:
                names.append(f.column)
                picked.append(f"h.{f.column}")
            elif f.name in extra:
                names.append(f.column)
                picked.append("%s")
                values.append(extra[f.name])
        insert = f"INSERT INTO {history.db_table} ({', '.join(names)}) SELECT {', '.join(picked)} "
        return insert, values

    def with_history(self, write: str, params: list[Any], *, history_type: str) -> int:
        """Run an INSERT or UPDATE of households and add one history row for each row it wrote.
        On PostgreSQL one statement does both; SQLite runs two."""
        add_history, values = self._history_insert(history_type)
        if self.postgres:
            cursor = self.execute(
                f"WITH h AS ({write} RETURNING h.*) {add_history} FROM h", [*params, *values]
            )
            return int(cursor.rowcount)
        written = int(self.execute(write, params).rowcount)
        # What this import wrote carries its timestamp: updated rows in updated_at, new in both.
        moment = "created_at" if history_type == "+" else "updated_at"
        self.execute(
            f"{add_history} FROM {self.table} h JOIN {STAGING} s ON s.code = h.code "
            f"WHERE h.{moment} = %s",
            [*values, self.now],
        )
        return written

    def analyze(self) -> None:
        self.execute(f"ANALYZE {self.table}")

    def large(self, rows: int) -> bool:
        """Is a file of this many rows worth a second thread, one that writes while this one
        checks? PostgreSQL only: SQLite writes from one connection at a time."""
        return self.postgres and rows >= BULK_MIN

    def first_load(self, rows: int) -> bool:
        """Has a large file of this many rows more than twice the rows the ledger holds? Then most
        of what it writes is new, and building the indexes afresh is the cheaper way."""
        if not self.large(rows):
            return False
        # Counting stops at `rows`: at a million households there is no need to count them all.
        held = self.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {self.table} LIMIT %s) t", [rows]
        ).fetchone()[0]
        return bool(held * 2 < rows)

    def drop(self) -> None:
        self.execute(f"DROP TABLE IF EXISTS {STAGING}")


@dataclass
class Stored:
    staged: int = 0
    created: int = 0
    updated: int = 0
    errors: list[SheetError] = field(default_factory=list)
    breaches: list[Breach] = field(default_factory=list)


def store_rows(
    store: LedgerStore,
    chunks: Iterable[list[CheckedRow]],
    failed: Failed,
    *,
    first_load: bool,
    dry_run: bool,
) -> Stored:
    """Stage the checked chunks as they come and, unless a row failed or the database finds an
    error, write them and run the plan rules. `failed()` is asked once, when every chunk has been
    taken: it finishes the checks that wait for the last row. Nothing is written on any error or
    breach, nor on a dry run, which goes the same way and rolls back."""
    stored = Stored()
    try:
        if first_load:
            return _first_load(store, chunks, stored, failed=failed)
        _stage_all(store, chunks, stored)
        with transaction.atomic():
            # Two writes touching the same county wait for each other, so that the later one's
            # checks see what the earlier one wrote.
            lock_counties(store.counties)
            _write_staged(store, stored, dry_run=dry_run, failed=failed)
        return stored
    finally:
        store.drop()


def _stage_all(store: LedgerStore, chunks: Iterable[list[CheckedRow]], stored: Stored) -> None:
    store.create_staging()
    for chunk in chunks:
        store.stage(chunk)
        stored.staged += len(chunk)
        store.counties.update(map(_county, chunk))


def _write_staged(store: LedgerStore, stored: Stored, *, dry_run: bool, failed: Failed) -> None:
    """Check the staged rows against the ledger and, with no error, write them and run the plan
    rules. Runs inside the import's transaction, which it marks for rollback on any error or
    breach, and on a dry run."""
    store.index_staging()
    stored.errors = store.database_errors()
    file_failed = failed()  # asked in any case: every error is listed
    if stored.errors or file_failed:
        transaction.set_rollback(True)
        return
    stored.updated = store.update()
    stored.created = store.insert()
    if not dry_run and stored.created + stored.updated > ANALYZE_AFTER:
        store.analyze()
    _check_plan(store, stored, staged=True)
    if dry_run:
        transaction.set_rollback(True)


def _check_plan(store: LedgerStore, stored: Stored, *, staged: bool) -> None:
    written = stored.created + stored.updated
    stored.breaches = plan_breaches(store.touched(staged=staged, written=written))
    if stored.breaches:
        transaction.set_rollback(True)


def _first_load(
    store: LedgerStore, chunks: Iterable[list[CheckedRow]], stored: Stored, *, failed: Failed
) -> Stored:
    """Write into tables without their indexes and constraints, which are built and checked once
    at the end (PostgreSQL's advice for populating a database: seven indexes and four foreign keys
    kept row by row cost three times as much). Into an empty ledger each chunk is copied straight
    in as it comes, while the next one is checked, and the indexes are built while the last
    checks run. The tables stay locked until the import commits: seconds, for a city's first
    upload."""
    try:
        with transaction.atomic():
            # Every county's lock before the tables' own, the order every writer keeps.
            lock_counties(store.county_names.keys())
            with rebuilt_indexes(store.tables):
                # Under the tables' lock: a first load that waited for another one sees its rows.
                if not store.ledger_is_empty():
                    _stage_all(store, chunks, stored)
                    _write_staged(store, stored, dry_run=False, failed=failed)
                    return stored
                store.prepare_copy()
                for chunk in chunks:
                    stored.staged += len(chunk)
                    store.counties.update(map(_county, chunk))
                    stored.errors += store.new_household_errors(chunk)
                    if not stored.errors:  # after an error nothing will be kept: only take the rest
                        stored.created += store.copy_new(chunk)
                if stored.errors:
                    transaction.set_rollback(True)  # nothing to build: it will not be kept
            if failed() or stored.errors:
                stored.created = 0
                transaction.set_rollback(True)
            else:
                store.analyze()
                _check_plan(store, stored, staged=False)
    except IntegrityError:
        # A code or ID number twice in the file breaks a unique index being built: the checks
        # that ran meanwhile say which rows.
        if not failed():
            raise
        stored.created = 0
    return stored
