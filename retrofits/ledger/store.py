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
import itertools
import operator
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

from django.db import IntegrityError, OperationalError, connection, models, transaction
from django.db.models import Q
from django.db.models.expressions import RawSQL
from psycopg import errors as psycopg_errors

from heating import access
from heating.access import Action
from heating.models import County, HeatingPath, User
from heating.sheets import SheetError
from retrofits.choices import HEAT_PUMP_CATEGORY, Stage
from retrofits.ledger.file import COLUMNS, HEADER_OF
from retrofits.ledger.handoff import Failed
from retrofits.ledger.indexes import rebuilt_indexes
from retrofits.ledger.keys import OwnForeignKeys
from retrofits.models import Household, IdConflict, TenderItem
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
from retrofits.services import conflicts
from retrofits.services.rollups import CELL, DAY, Added, lock_runs, rollup_added, rollup_run

# The Household fields of a ledger row, in the template's order.
FIELDS = tuple(c.field for c in COLUMNS)
STAGING = "ledger_staging"
# The staged rows the write changes: new households, and those a column of the file changes.
CHANGES = "ledger_changes"
# The households a streamed write copied in (their ids).
COPIED = "ledger_copied"


class Contended(Exception):
    """A streamed write met a county whose lock another writer holds, out of the counties' order:
    it rolls back and stores the file the staged way, which waits for the lock in order."""


class CheckedRow(NamedTuple):
    """A row that passed the import's checks: its sheet row number, then the household's columns in
    FIELDS order, as the staging table and COPY take them. The checks make the rows of a chunk as
    plain tuples of this shape, all at once (a zip of its columns, checks.RowChecker.check_rows):
    read them by position, not by name."""

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
    plan_year_id: int | None  # None: blank in the file (LedgerStore's default_year)


_county = operator.itemgetter(CheckedRow._fields.index("county_id"))
_code = operator.itemgetter(CheckedRow._fields.index("code"))
# Where a CheckedRow holds the ids of other tables' rows (its foreign keys'): county, township…
REFERENCING = tuple(i for i, name in enumerate(CheckedRow._fields) if name.endswith("_id"))
_id_number = operator.itemgetter(CheckedRow._fields.index("id_number"))
PLAN_YEAR_AT = CheckedRow._fields.index("plan_year_id")
PATH_AT, EQUIPMENT_AT, NOTES_AT, COMPLETED_AT = map(
    CheckedRow._fields.index, ("path", "equipment_id", "notes", "completed_on")
)
# A row's keys in a rollup's figures (rollups.Added): the plan year first, blank in the file.
_cell = operator.itemgetter(*map(CheckedRow._fields.index, CELL))
_day = operator.itemgetter(*(CheckedRow._fields.index(f) for f in DAY[:-1]), COMPLETED_AT)
_county_and_stage = operator.itemgetter(
    CheckedRow._fields.index("county_id"), CheckedRow._fields.index("stage")
)
# Past this many written rows the planner's statistics are refreshed at once: stale ones right after a
# county's first upload made the list page choose a plan a hundred times slower.
ANALYZE_AFTER = 10000
# The columns ANALYZE refreshes after a regular import (LedgerStore.analyze).
ANALYZED = (
    "county_id",
    "township_id",
    "village_id",
    "path",
    "area",
    "stage",
    "plan_year_id",
    "completed_on",
    "low_income",
    "equipment_id",
)
# From this many rows on, a file is stored by a second thread, and one with more than twice the
# rows the ledger holds is a first load.
BULK_MIN = 10000


def _column(name: str) -> str:
    field = Household._meta.get_field(name)
    assert isinstance(field, models.Field) and field.column
    return field.column


class LedgerStore(OwnForeignKeys):
    """The set-based SQL of one import; portable between PostgreSQL and SQLite ≥ 3.33."""

    def __init__(
        self,
        *,
        present: list[str],
        now: dt.datetime,
        user: User | None,
        source: str,
        default_year: int | None = None,
    ) -> None:
        self.table = Household._meta.db_table
        self.tables = [self.table, Household.history.model._meta.db_table]
        self.columns = [_column(f) for f in FIELDS]
        assert tuple(self.columns) == CheckedRow._fields[1:], "CheckedRow follows FIELDS"
        self.present = [_column(f) for f in present]
        self.now = now
        self.user_id = user.pk if user else None
        self.user = user
        # ID numbers other counties hold, met by database_errors(): logged once the import's
        # transaction ends (settle_conflicts), whatever became of it; and whether they, or the
        # user's spent budget, refuse the file whole (retrofits/services/conflicts.py).
        self.conflicts: list[conflicts.Found] = []
        self.refused_whole = False
        self.dry_run = False
        self.visible = (
            access.Scope(everything=True) if user is None else access.scope(user, Action.VIEW)
        )
        self.source = source
        self.postgres = connection.vendor == "postgresql"
        self.staging_types: list[int] = []
        # NULL-safe "differs" and "equals": PostgreSQL's IS [NOT] DISTINCT FROM; SQLite's IS [NOT].
        distinct = "IS DISTINCT FROM" if self.postgres else "IS NOT"
        self.same = "IS NOT DISTINCT FROM" if self.postgres else "IS"
        # A row's plan year, blank in the file: a new household's is `default_year`, an existing
        # one keeps its own.
        self.default_year = default_year
        kept_year = "COALESCE(s.plan_year_id, h.plan_year_id)"
        self.assigned = {c: kept_year if c == "plan_year_id" else f"s.{c}" for c in self.present}
        # (Joined on the code: the code itself never differs.)
        self.changed = " OR ".join(
            f"h.{c} {distinct} {self.assigned[c]}" for c in self.present if c != "code"
        )
        self.counties: set[int] = set()  # of the rows written: the plan rules' scope and locks
        # The change rules' answer for each new household's state, asked once per state.
        self.new_problems: dict[tuple[int, str], list[Problem]] = {}
        # Where the import checks the foreign keys itself (own_foreign_keys): each key's column
        # (its position in a CheckedRow, or None for the importing user) and the rows it holds.
        self.foreign_keys: list[tuple[str, str, str, int | None]] = []
        self.referenced: dict[int, set[int | None]] = {at: set() for at in REFERENCING}
        self.referenced[PLAN_YEAR_AT].add(default_year)
        self.held: dict[str, set[int | None]] = {}
        # A streamed write's codes and ID numbers of new households, and whether one came twice.
        self.new_codes: set[str] = set()
        self.new_ids: set[str] = set()
        self.repeated = False
        self.copying_to: str | None = None  # the table of the copied households' ids, if kept
        # The figures of the new households a streamed write copied in (tally).
        self.added = Added()

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

    def find_changes(self, staged: int = 0) -> tuple[int, int]:
        """Set apart, in one pass over the staged rows joined to the ledger, the rows the write
        changes: new households, and those a column of the file changes, each with the id and
        the compared state of its household; returns how many households it changes and how
        many it adds. An unchanged row is left out of everything that follows: a re-import of
        the same file then checks and writes nothing (most rows of a county's upload are
        unchanged). Under the counties' locks: nothing it looks at changes until the import
        ends."""
        # A streamed write's own new households are not the ledger's: a code the file names
        # twice is told so by the checks (checks.RowChecker.finish).
        copied = (
            f" AND NOT EXISTS (SELECT 1 FROM {self.copying_to} n WHERE n.id = h.id)"
            if self.copying_to
            else ""
        )
        if self.postgres and staged:
            # Of a file much smaller than the ledger (a county's upload), the join should hash
            # the file's rows, not the ledger's, which the planner sees only once it counts them
            # (a third of the time, for 30,000 rows against 180,000).
            (held,) = self.execute(
                "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [self.table]
            ).fetchone()
            if staged * 2 < held:
                self.execute(f"ANALYZE {STAGING} (row_no)")
        self.execute(f"DROP TABLE IF EXISTS {CHANGES}")
        self.execute(
            f"CREATE TEMPORARY TABLE {CHANGES} AS SELECT s.*, h.id AS household_id, "
            "h.county_id AS old_county_id, h.stage AS old_stage "
            f"FROM {STAGING} s LEFT JOIN {self.table} h ON h.code = s.code{copied} "
            f"WHERE h.id IS NULL OR {self.changed}"
        )
        changed, added = self.execute(
            f"SELECT count(household_id), count(*) - count(household_id) FROM {CHANGES}"
        ).fetchone()
        return int(changed), int(added)

    def database_errors(self) -> list[SheetError]:
        """What only the database knows, of the rows the write changes (find_changes): ID numbers
        held by other households (an unchanged row's is its own household's), and the change
        rules, asked once for each distinct (old, new) state."""
        # Nor are they other households that hold an ID number.
        copied = (
            f" AND NOT EXISTS (SELECT 1 FROM {self.copying_to} n WHERE n.id = h.id)"
            if self.copying_to
            else ""
        )
        taken = self.execute(
            f"SELECT c.row_no, c.id_number, h.code, h.county_id, h.id, c.county_id, c.code, "
            f"c.head_name, c.household_id FROM {CHANGES} c "
            # (On the numbers' reverses: the unique index's, Household.Meta.constraints.)
            f"JOIN {self.table} h ON reverse(h.id_number) = reverse(c.id_number) "
            f"WHERE h.code <> c.code{copied}"
        ).fetchall()
        errors = self._conflict_errors(taken)
        # Rows whose compared state stays as it is are left out: a file never breaks a change rule
        # by repeating a household's state (test_rules).
        states = self.execute(
            f"SELECT DISTINCT old_county_id, old_stage, county_id, stage FROM {CHANGES} "
            "WHERE household_id IS NULL OR old_county_id <> county_id OR old_stage <> stage"
        ).fetchall()
        for old_county, old_stage, county, stage in states:
            old = None if old_stage is None else State(old_county, old_stage)
            new = State(county, stage)
            problems = change_problems(old, new, via=Via.IMPORT)
            if problems:
                rows = self.execute(
                    f"SELECT row_no FROM {CHANGES} WHERE old_county_id {self.same} %s "
                    f"AND old_stage {self.same} %s AND county_id = %s AND stage = %s",
                    [old_county, old_stage, county, stage],
                ).fetchall()
                errors += self._errors((row for (row,) in rows), problems, new)
        return errors

    def _conflict_errors(self, taken: list[tuple[Any, ...]]) -> list[SheetError]:
        """The errors of rows whose ID number another household holds: named where the user may
        see that household; where it is another county's, as the user's daily budget of such
        answers says (retrofits/services/conflicts.py), the file refused whole past it."""
        errors: list[SheetError] = []
        self.conflicts = []
        for row, id_number, code, county_id, held_by, claimed, claim_code, head, claimant in taken:
            if conflicts.elsewhere(self.user, county_id):
                self.conflicts.append(
                    conflicts.Found(id_number, held_by, claimed, claim_code, head, claimant, row)
                )
            else:
                errors.append(self._taken(row, id_number, code, county_id))
        self.refused_whole = conflicts.refuses_whole(
            self.user, met=len(self.conflicts), new_numbers=self._brings_numbers
        )
        if self.refused_whole:
            # On the header's row, the column's: no row of the file is named.
            return [SheetError(1, HEADER_OF["id_number"], "", conflicts.WHOLE_REFUSAL), *errors]
        return errors + [
            SheetError(
                f.row or 0,
                HEADER_OF["id_number"],
                f.id_number,
                conflicts.ROW_REFUSAL.format(id_number=f.id_number),
            )
            for f in self.conflicts
        ]

    def _brings_numbers(self) -> bool:
        """Whether the file gives any household an ID number it does not hold: a new household,
        or a changed number."""
        (found,) = self.execute(
            f"SELECT EXISTS (SELECT 1 FROM {CHANGES} c LEFT JOIN {self.table} h "
            "ON h.id = c.household_id WHERE c.household_id IS NULL OR h.id_number <> c.id_number)"
        ).fetchone()
        return bool(found)

    def settle_conflicts(self) -> None:
        """Log the other counties' ID numbers the import met, once its transaction has ended (a
        refused file rolls back, the log must not): each counts against the user's budget."""
        if self.conflicts or self.refused_whole:
            conflicts.id_conflicts_record(
                user=self.user,
                found=self.conflicts,
                entry=IdConflict.Entry.DRY_RUN if self.dry_run else IdConflict.Entry.IMPORT,
                whole=self.refused_whole,
                job=conflicts.running_job(self.user) if self.user else None,
            )
            self.conflicts, self.refused_whole = [], False

    def _taken(self, row: int, id_number: str, code: str, county_id: int) -> SheetError:
        # Which household holds it is told only to those who may see that household.
        where = (
            f"户编号 {code}"
            if county_id in self.visible
            else "其他县（市、区），请联系市能源局核实"
        )
        return SheetError(
            row,
            HEADER_OF["id_number"],
            id_number,
            f"身份证号「{id_number}」已登记在{where}（一个身份证号只能登记一户）",
        )

    def new_household_errors(self, rows: list[CheckedRow]) -> list[SheetError]:
        """The change rules for rows that are all new households (a first load's), asked once
        for each state."""
        errors = []
        for state in set(map(_county_and_stage, rows)):
            if state not in self.new_problems:
                self.new_problems[state] = change_problems(None, State(*state), via=Via.IMPORT)
            if problems := self.new_problems[state]:
                bad = (r[0] for r in rows if _county_and_stage(r) == state)
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
                f"SELECT h.id FROM {self.table} h JOIN {CHANGES} c ON c.code = h.code", ()
            )
            touched = Q(pk__in=changed)
            if self.copying_to:  # each a hashed subplan: a union's count the planner can't guess
                touched |= Q(pk__in=RawSQL(f"SELECT id FROM {self.copying_to}", ()))
            households = households.filter(touched)
        return Touched(counties=frozenset(self.counties), households=households)

    def update(self) -> int:
        """UPDATE the changed households (find_changes) and write their history rows ('~')."""
        assignments = ", ".join(f"{c} = {value}" for c, value in self.assigned.items())
        # A new version: a form opened before this upload is stale after it.
        return self.with_history(
            f"UPDATE {self.table} AS h SET {assignments}, version = h.version + 1, "
            "updated_at = %s, updated_by_id = %s "
            f"FROM {CHANGES} AS s WHERE h.id = s.household_id",
            [self.now, self.user_id],
            history_type="~",
            staged=CHANGES,
        )

    def insert(self) -> int:
        """INSERT the new households (find_changes) and write their history rows ('+')."""
        return self._insert("s.household_id IS NULL", staged=CHANGES)

    def ledger_is_empty(self) -> bool:
        return not self.execute(f"SELECT EXISTS (SELECT 1 FROM {self.table})").fetchone()[0]

    def prepare_copy(self, *, keep: bool = False) -> None:
        """Ready copy_new(): the columns it writes into either table, their types, the sequence
        of the households' ids; with `keep`, the table where it keeps the ids it copies in."""
        self.copied_columns = [
            "id",
            *self.columns,
            "created_at",
            "updated_at",
            "created_by_id",
            "updated_by_id",
        ]
        self.copied_types = self._types(self.table, self.copied_columns)
        self.copied_tail = (self.now, self.now, self.user_id, self.user_id)
        (self.sequence,) = self.execute(
            "SELECT pg_get_serial_sequence(%s, 'id')", [self.table]
        ).fetchone()
        # A history row ('+') as simple_history keeps it: the household's columns as copied, its
        # others as a new household has them (version 0, no acceptance), then the history's own.
        history = Household.history.model._meta
        extra = {
            "history_date": self.now,
            "history_change_reason": self.source,
            "history_user": self.user_id,
            "history_type": "+",
        }
        names: list[str] = []
        taken: list[int] = []
        constants: list[Any] = []
        for f in history.concrete_fields:
            if f.column in self.copied_columns:
                taken.append(self.copied_columns.index(f.column))
            elif f.name in extra or f.column in self.own_columns:
                value = extra[f.name] if f.name in extra else self.own_columns[f.column]
                taken.append(len(self.copied_columns) + len(constants))
                constants.append(value)
            else:
                continue  # history_id: the table numbers its rows
            names.append(f.column)
        self.history_columns = names
        self.history_types = self._types(history.db_table, names)
        self.history_row = operator.itemgetter(*taken)
        self.history_tail = tuple(constants)
        if keep:
            self.copying_to = COPIED
            self.execute(f"DROP TABLE IF EXISTS {COPIED}")
            self.execute(f"CREATE TEMPORARY TABLE {COPIED} (id bigint)")

    @cached_property
    def own_columns(self) -> dict[str, Any]:
        """The household's columns that a ledger file does not give, as a new household has them."""
        given = {"id", *self.columns, "created_at", "updated_at", "created_by_id", "updated_by_id"}
        return {
            f.column: f.get_default()
            for f in Household._meta.concrete_fields
            if isinstance(f, models.Field) and f.column and f.column not in given
        }

    def _types(self, table: str, columns: list[str]) -> list[int]:
        described = self.execute(f"SELECT {', '.join(columns)} FROM {table} LIMIT 0").description
        return [column.type_code for column in described]

    def copy_new(self, rows: list[CheckedRow]) -> int:
        """COPY checked rows, all new households, straight into the ledger, with the ids they
        take from its sequence, and their history rows ('+') straight into the history: no
        statement reads back what was copied (PostgreSQL only)."""
        ids = self.execute(
            "SELECT nextval(%s) FROM generate_series(1, %s)", [self.sequence, len(rows)]
        ).fetchall()
        tail = self.copied_tail
        households: list[tuple[Any, ...]] = [
            (i, *row[1:], *tail) for (i,), row in zip(ids, rows, strict=True)
        ]
        if self.default_year is not None:
            year = PLAN_YEAR_AT  # in a household: after the id, where the row has its number
            households = [
                (*h[:year], self.default_year, *h[year + 1 :]) if h[year] is None else h
                for h in households
            ]
        history_tail, history_row = self.history_tail, self.history_row
        with connection.cursor() as cursor:
            sql = f"COPY {self.table} ({', '.join(self.copied_columns)}) FROM STDIN (FORMAT BINARY)"
            with cursor.cursor.copy(sql) as copy:
                copy.set_types(self.copied_types)
                for household in households:
                    copy.write_row(household)
            history = Household.history.model._meta.db_table
            sql = f"COPY {history} ({', '.join(self.history_columns)}) FROM STDIN (FORMAT BINARY)"
            with cursor.cursor.copy(sql) as copy:
                copy.set_types(self.history_types)
                for household in households:
                    copy.write_row(history_row(household + history_tail))
            if self.copying_to:
                with cursor.cursor.copy(f"COPY {self.copying_to} (id) FROM STDIN") as copy:
                    copy.write("".join(f"{i}\n" for (i,) in ids))
        return len(rows)

    def tally(self, rows: list[CheckedRow]) -> None:
        """Add copied new households to the figures of `added` (rollups.rollup_added): their
        village cells, their completion days, their 煤改电 equipment other than heat pumps."""
        added, year = self.added, self.default_year
        for counter, key, counted in (
            (added.cells, _cell, rows),
            (added.days, _day, [r for r in rows if r[COMPLETED_AT] is not None]),
        ):
            for values, n in Counter(map(key, counted)).items():
                counter[values if values[0] is not None else (year, *values[1:])] += n
        heat_pumps = self.heat_pumps
        added.electric.update(
            (_county(r), r[NOTES_AT] == "")
            for r in rows
            if r[PATH_AT] == HeatingPath.ELECTRIC
            and r[EQUIPMENT_AT] is not None
            and r[EQUIPMENT_AT] not in heat_pumps
        )

    @cached_property
    def heat_pumps(self) -> set[int]:
        return set(
            TenderItem.objects.filter(category=HEAT_PUMP_CATEGORY).values_list("pk", flat=True)
        )

    def new_rows(self, rows: list[CheckedRow]) -> list[CheckedRow]:
        """A streamed chunk's rows, but a code or ID number that came before in the file (or twice
        in the chunk): the checks will say so (finish()), and nothing will be written
        (`repeated`); copied, it would break a unique index instead."""
        new: list[CheckedRow] = []
        codes, ids = self.new_codes, self.new_ids
        for row in rows:
            code, id_number = _code(row), _id_number(row)
            if code in codes or id_number in ids:
                self.repeated = True
            else:
                codes.add(code)
                ids.add(id_number)
                new.append(row)
        return new

    def clashes(self, rows: list[CheckedRow]) -> bool:
        """Whether a household of the ledger, not one this import copied in, holds a code or an
        ID number of these rows."""
        ours = f" AND id NOT IN (SELECT id FROM {self.copying_to})" if self.copying_to else ""
        return bool(
            self.execute(
                f"SELECT EXISTS (SELECT 1 FROM {self.table} WHERE code = ANY(%s){ours}) "
                f"OR EXISTS (SELECT 1 FROM {self.table} WHERE reverse(id_number) = ANY(%s){ours})",
                [list(map(_code, rows)), [_id_number(row)[::-1] for row in rows]],
            ).fetchone()[0]
        )

    def hold_counties(self, rows: list[CheckedRow]) -> set[int]:
        """Take the locks of the counties of a streamed chunk's rows that this import does not
        hold yet; returns them. Every writer takes its counties' locks in the counties' order; a
        streamed write, which meets its counties as the file brings them, waits only for a
        county after every one it holds, and asks for any other without waiting: so no writers
        ever wait for each other's counties in a circle. Raises Contended if such a county is
        held by another writer."""
        counties = set(map(_county, rows)) - self.counties
        if not counties:
            return counties
        last = max(self.counties, default=0)
        earlier = sorted(c for c in counties if c < last)
        if earlier:
            try:
                locked = County.objects.select_for_update(no_key=True, nowait=True)
                list(locked.filter(pk__in=earlier).order_by("pk").values("pk"))
            except OperationalError as exc:  # the lock is not available
                raise Contended from exc
        lock_counties(counties.difference(earlier))
        self.counties |= counties
        return counties

    def _insert(self, where: str, params: Sequence[Any] = (), *, staged: str = STAGING) -> int:
        names = ", ".join(self.columns)
        year = "NULL" if self.default_year is None else str(int(self.default_year))
        picked = ", ".join(
            f"COALESCE(s.{c}, {year})" if c == "plan_year_id" else f"s.{c}" for c in self.columns
        )
        return self.with_history(
            f"INSERT INTO {self.table} AS h "
            f"({names}, created_at, updated_at, created_by_id, updated_by_id) "
            f"SELECT {picked}, %s, %s, %s, %s FROM {staged} s WHERE {where}",
            [self.now, self.now, self.user_id, self.user_id, *params],
            history_type="+",
            staged=staged,
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

    def with_history(
        self, write: str, params: list[Any], *, history_type: str, staged: str = STAGING
    ) -> int:
        """Run an INSERT or UPDATE of households and add one history row for each row it wrote.
        On PostgreSQL one statement does both; SQLite runs two (the second finds the rows by the
        codes of the `staged` table, and the import's time)."""
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
            f"{add_history} FROM {self.table} h JOIN {staged} s ON s.code = h.code "
            f"WHERE h.{moment} = %s",
            [*values, self.now],
        )
        return written

    def analyze(self) -> None:
        """Refresh the planner's statistics at once: the table's size and the columns the pages
        filter by (a county's first upload otherwise leaves its county unknown to the planner).
        The text columns and the expression indexes, which cost a whole ANALYZE three times as
        much (0.3 s against 0.1 s at a city's size), are left to autovacuum, within the minute."""
        self.execute(f"ANALYZE {self.table} ({', '.join(ANALYZED)})")

    def outgrew_statistics(self, *, created: int, updated: int) -> bool:
        """Are the planner's statistics of the written counties stale enough to refresh at once:
        many rows changed, or the counties grew by more than half (a county's first upload)? A
        county's next thousands leave its estimates within 1.5 times, which changes no page's
        plan, and autovacuum counts them within the minute: 0.1-0.2 s saved. PostgreSQL's only:
        SQLite's planner keeps no statistics unless asked."""
        if not self.postgres:
            return False
        if updated > ANALYZE_AFTER:
            return True
        if created <= ANALYZE_AFTER:
            return False
        # More than half of what they held before (held - created). Counting stops where the
        # answer is known: a county of 700,000 is not counted whole.
        enough = 3 * created
        held = Household.objects.filter(county__in=self.counties)[:enough].count()
        return held < enough

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
        self.execute(f"DROP TABLE IF EXISTS {CHANGES}")
        self.execute(f"DROP TABLE IF EXISTS {COPIED}")

    def forget(self) -> None:
        """Forget what a streamed write that rolled back had noted, before the staged way."""
        self.counties = set()
        self.new_codes, self.new_ids, self.repeated = set(), set(), False
        self.copying_to = None
        self.foreign_keys, self.held = [], {}
        self.referenced = {at: set() for at in REFERENCING}

    def tune(self) -> None:
        """Settings for the import's transaction, PostgreSQL's, put back when it ends. The commit
        does not wait for the disk: a crash in the next moment may lose the import, as if it had
        never run, never half of it; and the job's own row, saved after it and durably, flushes
        the log up to the import's commit as well. No JIT compiling: it costs a set-based
        statement here more than it saves. And memory enough for the staging join's hash of a
        city's households (in batches on disk at the default 4 MB, twice as slow)."""
        if self.postgres:
            self.execute(
                "SET LOCAL synchronous_commit = off; SET LOCAL jit = off; "
                "SET LOCAL work_mem = '64MB'"
            )


@dataclass
class Stored:
    staged: int = 0
    created: int = 0
    updated: int = 0
    errors: list[SheetError] = field(default_factory=list)
    breaches: list[Breach] = field(default_factory=list)
    counted: bool = False  # the figures were counted in the write's transaction


def _store_rows(
    store: LedgerStore,
    chunks: Iterable[list[CheckedRow]],
    failed: Failed,
    *,
    first_load: bool,
    dry_run: bool,
    streamed: bool = False,
    failing: Callable[[], bool] = lambda: False,
) -> Stored:
    """Store the checked chunks as they come and, unless a row failed or the database finds an
    error, write them and run the plan rules. `failed()` is asked once, when every chunk has been
    taken: it finishes the checks that wait for the last row; `failing()` says at any time
    whether a row failed so far. `streamed` (a large file, on PostgreSQL, from a second thread):
    a regular import of new households writes as it goes (_streamed). Nothing is written on any
    error or breach, nor on a dry run, which goes the same way and rolls back."""
    stored = Stored()
    try:
        if first_load:
            return _first_load(store, chunks, stored, failed=failed)
        # Where the file's first rows are households the ledger holds, the staged way: most rows
        # of such a file are then households the ledger holds, which one join compares faster
        # than chunk by chunk (_streamed asks of every chunk, under the counties' locks).
        chunks = iter(chunks)
        first = next(chunks, None)
        chunks = itertools.chain([] if first is None else [first], chunks)
        if streamed and store.postgres and first is not None and not store.clashes(first[:100]):
            taken: list[list[CheckedRow]] = []
            try:
                return _streamed(
                    store, chunks, stored, taken, dry_run=dry_run, failed=failed, failing=failing
                )
            except Contended:
                store.forget()
                stored = Stored()
                chunks = itertools.chain(taken, chunks)
        _stage_all(store, chunks, stored)
        with transaction.atomic():
            # Two writes touching the same county wait for each other, so that the later one's
            # checks see what the earlier one wrote.
            lock_counties(store.counties)
            _write_staged(store, stored, dry_run=dry_run, failed=failed)
        return stored
    finally:
        store.drop()


def store_rows(
    store: LedgerStore,
    chunks: Iterable[list[CheckedRow]],
    failed: Failed,
    *,
    first_load: bool,
    dry_run: bool,
    streamed: bool = False,
    failing: Callable[[], bool] = lambda: False,
) -> Stored:
    """_store_rows(), then the log of the other counties' ID numbers it met, once its transaction
    has ended (retrofits/services/conflicts.py)."""
    store.dry_run = dry_run
    stored = _store_rows(
        store,
        chunks,
        failed,
        first_load=first_load,
        dry_run=dry_run,
        streamed=streamed,
        failing=failing,
    )
    store.settle_conflicts()
    return stored


def _stage_all(store: LedgerStore, chunks: Iterable[list[CheckedRow]], stored: Stored) -> None:
    store.create_staging()
    for chunk in chunks:
        store.stage(chunk)
        stored.staged += len(chunk)
        store.counties.update(map(_county, chunk))
        store.note_references(chunk)


def _write_staged(store: LedgerStore, stored: Stored, *, dry_run: bool, failed: Failed) -> None:
    """Check the staged rows against the ledger and, with no error, write them and run the plan
    rules. Runs inside the import's transaction, which it marks for rollback on any error or
    breach, and on a dry run."""
    store.tune()
    changing, adding = store.find_changes(stored.staged)
    if changing or adding:
        stored.errors += store.database_errors()
    file_failed = failed()  # asked in any case: every error is listed
    if stored.errors or file_failed:
        stored.created = 0
        transaction.set_rollback(True)
        return
    if changing or adding:
        if not store.foreign_keys:
            store.own_foreign_keys()
        store.hold_references()
        stored.updated = store.update() if changing else 0
        stored.created += store.insert() if adding else 0
    store.triggers_back()
    if not dry_run and store.outgrew_statistics(created=stored.created, updated=stored.updated):
        store.analyze()
    _check_plan(store, stored, staged=True)
    if dry_run:
        transaction.set_rollback(True)


def _streamed(
    store: LedgerStore,
    chunks: Iterator[list[CheckedRow]],
    stored: Stored,
    taken: list[list[CheckedRow]],
    *,
    dry_run: bool,
    failed: Failed,
    failing: Callable[[], bool],
) -> Stored:
    """A large regular import on PostgreSQL of new households (a city's or a county's first
    upload, a county's next thousands), written while it is checked: the import's one transaction
    begins with the first chunk, each chunk's rows are copied straight into the ledger (indexes,
    constraints and all) with their history rows while the next chunk is checked, and the
    counties' locks are taken as the chunks bring them (hold_counties). A chunk with a code or ID
    number a household of the ledger holds (one the file changes, or another upload got there
    first), and the rest of the rows, are staged instead, to be compared and written at the end,
    the staged way. The checks are the staged way's: the change rules of the households copied
    in, chunk by chunk, the rest at the end; once any row failed nothing more is copied, only
    checked, so that every error is listed. Raises Contended, rolled back, where a county's lock
    is held out of the counties' order; `taken` then holds the chunks it took."""
    store.create_staging()
    with transaction.atomic():
        store.tune()
        store.own_foreign_keys()
        store.prepare_copy(keep=True)
        copying = True  # until a chunk brings a code or ID number the ledger holds
        for chunk in chunks:
            taken.append(chunk)
            stored.staged += len(chunk)
            store.hold_counties(chunk)
            store.note_references(chunk)
            # The join at the end tells what such a chunk means: a household changed or moved,
            # a number taken.
            copying = copying and _copied(store, chunk, stored, failing=failing)
            if not copying:
                store.stage(chunk)
        _write_staged(store, stored, dry_run=dry_run, failed=failed)
        if store.repeated and not transaction.get_rollback():
            raise RuntimeError("a streamed import left out a repeated row, yet found no error")
        # A file of new households, all copied in: they are added to the latest figures in this
        # transaction, from the tally of the rows as they were copied (a count of them would read
        # the ledger); any other write's counties are counted after its commit (jobs.py).
        if (
            not transaction.get_rollback()
            and not stored.updated
            and stored.created == sum(store.added.cells.values()) > 0
        ):
            stored.counted = rollup_added(store.added, store.counties) is not None
    return stored


def _copied(
    store: LedgerStore, chunk: list[CheckedRow], stored: Stored, *, failing: Callable[[], bool]
) -> bool:
    """Copy a streamed chunk's new households into the ledger, or where a row has failed, only
    check them as new; False, with nothing copied nor checked, where one of its codes or ID
    numbers is a household's the ledger holds (not one this import copied). The unique indexes
    answer that as the rows go in, under a savepoint that undoes the chunk's copy alone: asking
    first cost a tenth of a second a chunk."""
    new = store.new_rows(chunk)
    errors = store.new_household_errors(new)
    if stored.errors or errors or store.repeated or failing():
        if store.clashes(chunk):  # nothing will be written: asked, so that every error is right
            return False
        stored.errors += errors
        return True
    store.hold_references()
    try:
        with transaction.atomic():
            stored.created += store.copy_new(new)
    except psycopg_errors.UniqueViolation:  # COPY's own (copy_new writes through psycopg's cursor)
        return False
    store.tally(new)
    return True


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
            store.tune()
            # Every county's lock before the tables' own, the order every writer keeps.
            lock_counties(store.county_names.keys())
            # Then the figures' runs (counted at the end), before the tables: a run that began
            # reads the households, which the indexes' drop keeps it from until this commits.
            lock_runs()
            # Where the import checks its rows' foreign keys itself, they need no rebuilding.
            checking_keys = store.own_foreign_keys()
            store.execute("SET LOCAL maintenance_work_mem = '256MB'")  # each index in one sort
            with rebuilt_indexes(store.tables, foreign_keys=not checking_keys):
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
                        store.note_references(chunk)
                        store.hold_references()
                        stored.created += store.copy_new(chunk)
                if stored.errors:
                    transaction.set_rollback(True)  # nothing to build: it will not be kept
            if failed() or stored.errors:
                stored.created = 0
                transaction.set_rollback(True)
            else:
                store.analyze()
                _check_plan(store, stored, staged=False)
                if not transaction.get_rollback():
                    # Counted here, the tables still held, not by a task after the commit: the
                    # same whole count (the ledger held nothing else) without the task's start
                    # (Celery's import): 0.13 s of a city's first load.
                    rollup_run()
                    stored.counted = True
    except IntegrityError:
        # A code or ID number twice in the file breaks a unique index being built: the checks
        # that ran meanwhile say which rows.
        if not failed():
            raise
        stored.created = 0
    return stored
