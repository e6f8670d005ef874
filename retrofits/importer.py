"""The ledger import: every row checked in Python against look-ups loaded once, then one set-based
write (see ../shared notes: row-by-row ORM saves cost minutes at the city's 209,683 rows).

1. read the file (python-calamine / csv) and check each row with the rules of validators.py;
2. in one transaction, load the good rows into a temporary staging table (COPY on PostgreSQL) and ask
   the database what only it knows: ID numbers held by other households, stage and county changes;
3. with no error anywhere, UPDATE the changed rows, INSERT the new ones and write their history rows,
   all set-based. Any error, or a dry run, rolls everything back: an import writes all or nothing.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from heating.breakdown import county_labels
from heating.models import County, User
from retrofits.ledger import (
    AREA_NAMES,
    BY_HEADER,
    COLUMNS,
    FORMULA_STARTS,
    NO,
    PATH_NAMES,
    STAGE_NAMES,
    YES,
    LedgerFile,
    unneutralise,
)
from retrofits.models import TENDERED_PATHS, Household, Stage, TenderItem
from retrofits.validators import (
    DivisionIndex,
    completion_problem,
    equipment_problem,
    id_number_problem,
    phone_problem_and_value,
    stage_change_problem,
)

Progress = Callable[[str, int, int], None]
HEADER_OF = {c.field: c.header for c in COLUMNS}
# The staged row: the sheet row number, then these Household fields in this order.
FIELDS = (
    "code",
    "county",
    "township",
    "village",
    "head_name",
    "id_number",
    "phone",
    "area",
    "path",
    "equipment",
    "stage",
    "completed_on",
    "low_income",
    "notes",
)
STAGING = "ledger_staging"
PROGRESS_EVERY = 5000
# Past this many written rows the planner's statistics are refreshed at once: stale ones right after a
# county's first upload made the list page choose a plan a hundred times slower.
ANALYZE_AFTER = 10000
# From this many new rows on, a load that more than doubles the ledger rebuilds the indexes after it.
BULK_MIN = 10000


@dataclass(frozen=True)
class LedgerError:
    row: int
    column: str
    value: str
    message: str

    def __str__(self) -> str:
        return f"第{self.row}行「{self.column}」：{self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "message": self.message,
        }


@dataclass
class ImportOutcome:
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[LedgerError] = field(default_factory=list)


def _text(value: object) -> str:
    if type(value) is str:
        value = value.strip()
        return value[1:] if value[:1] == "'" and value[1:2] in FORMULA_STARTS else value
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return unneutralise(str(value).strip())


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y.%m.%d")


def _date(value: object) -> dt.date | str | None:
    """A date, None for blank, or the problem."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return f"完工日期「{text}」应为日期，如 2023-10-12、2023/10/12 或 2023年10月12日"


REQUIRED_AT = tuple(FIELDS.index(c.field) for c in COLUMNS if c.required)
DATE_AT = FIELDS.index("completed_on")
# Every field but the completion date is read as text; the date cell may hold a date.
TEXT_AT = tuple(i for i in range(len(FIELDS)) if i != DATE_AT)
ID_AT = FIELDS.index("id_number")
LOW_AT = FIELDS.index("low_income")


Places = tuple[int | None, int | None, int | None]


class RowChecker:
    """Checks rows one by one against look-ups loaded once. Hot: 209,683 rows pass through check()."""

    def __init__(
        self, *, positions: dict[str, int], only_county: County | None, today: dt.date
    ) -> None:
        counties = list(County.objects.all())
        self.counties = {label: c.pk for label, c in county_labels(counties).items()}
        self.county_names = {c.pk: c.short_name for c in counties}
        self.only_county = only_county
        self.divisions = DivisionIndex()
        self.tender = {
            m: (pk, path) for pk, m, path in TenderItem.objects.values_list("pk", "model", "path")
        }
        self.today = today
        self.codes: dict[str, int] = {}
        self.id_numbers: dict[str, int] = {}
        self.places: dict[tuple[str, str, str], Places] = {}
        # Where each field's cell sits in a row; -1 where the file has no such column.
        self.index = [positions.get(f, -1) for f in FIELDS]
        self.width = max(positions.values()) + 1
        self.complete = -1 not in self.index
        self.pick_text = operator.itemgetter(*(self.index[i] for i in TEXT_AT))
        self.pick_required = operator.itemgetter(*REQUIRED_AT)

    def _cells(self, values: Sequence[object]) -> tuple[list[str], object, object, object]:
        """The fields as stripped text in FIELDS order, and the raw ID, date and low-income cells."""
        if self.complete and len(values) >= self.width:
            text = self.pick_text(values)
            try:
                # The usual row: text in every cell but the date.
                cells = list(map(str.strip, text))
            except TypeError:
                cells = [_text(v) for v in text]
            else:
                if "'" in "".join(cells):
                    cells = [unneutralise(c) for c in cells]
            cells.insert(DATE_AT, "")
            index = self.index
            return cells, values[index[ID_AT]], values[index[DATE_AT]], values[index[LOW_AT]]
        padded = [*values, *[None] * (self.width - len(values))]
        raw = [padded[i] if i >= 0 else None for i in self.index]
        cells = [_text(v) for v in raw]
        cells[DATE_AT] = ""
        return cells, raw[ID_AT], raw[DATE_AT], raw[LOW_AT]

    def _places(
        self, fail: Callable[[str, object, str], None], county: str, township: str, village: str
    ) -> Places:
        """The county, township and village of a row's names; each good triple is then cached."""
        county_id = township_id = village_id = None
        if county:
            county_id = self.counties.get(county)
            if county_id is None:
                fail("county", county, f"「{county}」不是任务分解表的16个县（市、区）之一")
            elif self.only_county and county_id != self.only_county.pk:
                fail(
                    "county",
                    county,
                    f"只能导入本县（{self.only_county.short_name}）的户，此行为「{county}」",
                )
                county_id = None
        if county_id and township:
            township_id = self.divisions.township(county_id, township)
            if township_id is None:
                fail(
                    "township",
                    township,
                    f"「{township}」不是{self.county_names[county_id]}的乡（镇、街道）",
                )
        if township_id and village:
            village_id = self.divisions.village(township_id, village)
            if village_id is None:
                fail("village", village, f"「{village}」不是{township}的村（社区）")
        return county_id, township_id, village_id

    def check(
        self, row: int, values: Sequence[object]
    ) -> tuple[tuple[Any, ...] | None, list[LedgerError]]:
        cells, raw_id, raw_date, raw_low_income = self._cells(values)
        (
            code, county_text, township_text, village_text, head_name, id_number, phone_text,
            area_text, path_text, model, stage_text, _, low_income_text, notes,
        ) = cells  # fmt: skip
        errors: list[LedgerError] = []

        def fail(name: str, value: object, message: str) -> None:
            errors.append(LedgerError(row, HEADER_OF[name], _text(value), message))

        if not all(self.pick_required(cells)):
            for i in REQUIRED_AT:
                if not cells[i]:
                    fail(FIELDS[i], "", "必填，不能为空")

        if len(code) > 32:
            fail("code", code, f"户编号最多32个字符，「{code}」有{len(code)}个")
        elif code and self.codes.setdefault(code, row) != row:
            fail("code", code, f"户编号「{code}」与第{self.codes[code]}行重复")

        names = (county_text, township_text, village_text)
        places = self.places.get(names) or self._places(fail, *names)
        county_id, township_id, village_id = places
        if village_id is not None:
            self.places[names] = places

        if len(head_name) > 50:
            fail("head_name", head_name, "户主姓名最多50个字符")

        if isinstance(raw_id, (int, float)):
            fail(
                "id_number",
                raw_id,
                f"身份证号「{id_number}」被存成了数字，末几位可能已丢失：请把本列设为文本格式后重新填写",
            )
        elif id_number:
            id_number = id_number.replace(" ", "").upper()
            if problem := id_number_problem(id_number, self.today):
                fail("id_number", id_number, problem)
            elif self.id_numbers.setdefault(id_number, row) != row:
                fail(
                    "id_number",
                    id_number,
                    f"身份证号与第{self.id_numbers[id_number]}行重复（一个身份证号只能登记一户）",
                )

        phone = ""
        if phone_text:
            problem, phone = phone_problem_and_value(phone_text)
            if problem:
                fail("phone", phone_text, problem)

        area = AREA_NAMES.get(area_text)
        if area is None and area_text:
            fail("area", area_text, f"城乡类型「{area_text}」应为 城区/县城 或 农村")
        path = PATH_NAMES.get(path_text)
        if path is None and path_text:
            fail(
                "path",
                path_text,
                f"取暖路径「{path_text}」应为 集中供热、煤改电、煤改气 或 生物质热电联产",
            )
        stage = STAGE_NAMES.get(stage_text)
        if stage is None and stage_text:
            fail(
                "stage",
                stage_text,
                f"实施进度「{stage_text}」应为 已确户、已选型、施工中 或 已完工",
            )

        equipment_id = None
        if model or path in TENDERED_PATHS:  # a district or biomass row without a model is fine
            equipment_id, model_path = self.tender.get(model, (None, None))
            if (
                path
                and stage
                and (
                    problem := equipment_problem(
                        path=path, stage=stage, model=model, model_path=model_path
                    )
                )
            ):
                fail("equipment", model, problem)

        completed_on = _date(raw_date)
        if isinstance(completed_on, str):
            fail("completed_on", raw_date, completed_on)
            completed_on = None
        elif stage and (problem := completion_problem(stage, completed_on, self.today)):
            fail("completed_on", raw_date, problem)

        if raw_low_income is True or low_income_text == YES:
            low_income = True
        elif raw_low_income in (None, False) or low_income_text in ("", NO):
            low_income = False
        else:
            fail("low_income", low_income_text, f"低收入户「{low_income_text}」应为 是 或 否")
            low_income = False

        if errors:
            return None, errors
        return (
            row,
            code,
            county_id,
            township_id,
            village_id,
            head_name,
            id_number,
            phone,
            area,
            path,
            equipment_id,
            stage,
            completed_on,
            low_income,
            notes,
        ), errors


def import_ledger(
    ledger: LedgerFile,
    *,
    user: User | None,
    source: str,
    only_county: County | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportOutcome:
    """Check the whole file and, if nothing is wrong and it is not a dry run, write it."""
    report = progress or (lambda phase, done, total: None)
    now = timezone.now()
    checker = RowChecker(
        positions=ledger.positions, only_county=only_county, today=timezone.localdate(now)
    )
    outcome = ImportOutcome()
    present = [f for f in FIELDS if f in ledger.positions or f in ("county", "township", "village")]
    writer = _Writer(present=present, now=now, user=user, source=source)
    counties: set[int] = set()
    staged = 0
    try:
        # Good rows go to the staging table as they are checked, in chunks between progress reports,
        # so that the database stores one chunk while Python checks the next.
        with writer.staging() as stage:
            report("逐行检查", 0, ledger.total)
            for row, values in ledger.rows:
                good, errors = checker.check(row, values)
                outcome.total += 1
                if good is None:
                    outcome.errors.extend(errors)
                else:
                    stage(good)
                    staged += 1
                    counties.add(good[2])
                if outcome.total % PROGRESS_EVERY == 0:
                    report("逐行检查", outcome.total, max(ledger.total, outcome.total))
        # Checking is most of the work the page can count; writing is shown as the last tenth.
        report("写入数据库", outcome.total * 9 // 10, outcome.total)
        with transaction.atomic():
            # Two imports touching the same county wait for each other instead of racing on codes.
            list(County.objects.select_for_update().filter(pk__in=counties).order_by("pk"))
            writer.index_staging()
            outcome.errors.extend(writer.database_errors())
            if outcome.errors:
                outcome.errors.sort(key=lambda e: (e.row, list(BY_HEADER).index(e.column)))
            elif dry_run:
                outcome.created, outcome.updated = writer.count_changes()
            else:
                outcome.updated = writer.update()
                outcome.created = writer.insert()
                if outcome.created + outcome.updated > ANALYZE_AFTER:
                    writer.analyze()
            if outcome.errors or dry_run:
                transaction.set_rollback(True)
                if outcome.errors:
                    return outcome
    finally:
        writer.drop()
    outcome.unchanged = staged - outcome.created - outcome.updated
    return outcome


@contextmanager
def rebuilt_indexes(tables: list[str]) -> Iterator[None]:
    """Drop the tables' secondary indexes, unique and foreign-key constraints, run the block, then
    create them again from their own definitions: each index is built by one sort and each foreign
    key checked by one join. PostgreSQL only; must run inside the transaction that writes."""
    with connection.cursor() as cursor:
        # Deferred checks still pending on these tables would forbid ALTER TABLE: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "SELECT conrelid::regclass::text, quote_ident(conname), pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('u', 'f') "
            "ORDER BY contype DESC",  # unique constraints first: a foreign key may lean on one
            [tables],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index i "
            "WHERE indrelid = ANY(%s::regclass[]) AND NOT indisprimary AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid "
            "AND c.conrelid = i.indrelid)",
            [tables],
        )
        indexes = cursor.fetchall()
        for table, name, _ in reversed(constraints):
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
    yield
    with connection.cursor() as cursor:
        for _, definition in indexes:
            cursor.execute(definition)
        for table, name, definition in constraints:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")


def _column(name: str) -> str:
    field = Household._meta.get_field(name)
    assert isinstance(field, models.Field) and field.column
    return field.column


class _Writer:
    """The set-based SQL of one import; portable between PostgreSQL and SQLite ≥ 3.33."""

    def __init__(
        self, *, present: list[str], now: dt.datetime, user: User | None, source: str
    ) -> None:
        self.table = Household._meta.db_table
        self.columns = [_column(f) for f in FIELDS]
        self.present = [_column(f) for f in present]
        self.now = now
        self.user_id = user.pk if user else None
        self.source = source
        self.postgres = connection.vendor == "postgresql"
        # NULL-safe "differs": PostgreSQL's IS DISTINCT FROM; SQLite's IS NOT does the same.
        distinct = "IS DISTINCT FROM" if self.postgres else "IS NOT"
        self.changed = " OR ".join(f"h.{c} {distinct} s.{c}" for c in self.present)

    def _run(self, sql: str, params: Sequence[Any] = ()) -> Any:
        cursor = connection.cursor()
        cursor.execute(sql, params)
        return cursor

    @contextmanager
    def staging(self) -> Iterator[Callable[[tuple[Any, ...]], None]]:
        """A session-wide staging table, filled in chunks: outside the import's transaction, so that
        progress reports between chunks are seen by the page while the file is being checked."""
        meta = Household._meta
        types = ", ".join(
            f"{c} {meta.get_field(f).db_type(connection)}"
            for f, c in zip(FIELDS, self.columns, strict=True)
        )
        self._run(f"DROP TABLE IF EXISTS {STAGING}")
        self._run(f"CREATE TEMPORARY TABLE {STAGING} (row_no integer, {types})")
        names = ", ".join(["row_no", *self.columns])
        chunk: list[tuple[Any, ...]] = []

        def flush() -> None:
            with connection.cursor() as cursor:
                if self.postgres:
                    with cursor.cursor.copy(f"COPY {STAGING} ({names}) FROM STDIN") as copy:
                        for row in chunk:
                            copy.write_row(row)
                else:
                    marks = ", ".join(["%s"] * (len(self.columns) + 1))
                    cursor.executemany(f"INSERT INTO {STAGING} ({names}) VALUES ({marks})", chunk)
            chunk.clear()

        def stage(row: tuple[Any, ...]) -> None:
            chunk.append(row)
            if len(chunk) == PROGRESS_EVERY:
                flush()

        yield stage
        if chunk:
            flush()

    def index_staging(self) -> None:
        self._run(f"CREATE INDEX ledger_staging_code ON {STAGING} (code)")

    def database_errors(self) -> list[LedgerError]:
        errors = []
        taken = self._run(
            f"SELECT s.row_no, s.id_number, h.code FROM {STAGING} s "
            f"JOIN {self.table} h ON h.id_number = s.id_number WHERE h.code <> s.code"
        ).fetchall()
        for row, id_number, code in taken:
            errors.append(
                LedgerError(
                    row,
                    HEADER_OF["id_number"],
                    id_number,
                    f"身份证号「{id_number}」已登记在户编号 {code}（一个身份证号只能登记一户）",
                )
            )
        counties = dict(County.objects.values_list("pk", "short_name"))
        moved = self._run(
            f"SELECT s.row_no, s.code, h.county_id, s.county_id, h.stage, s.stage FROM {STAGING} s "
            f"JOIN {self.table} h ON h.code = s.code "
            "WHERE h.county_id <> s.county_id OR h.stage <> s.stage"
        ).fetchall()
        for row, code, old_county, new_county, old_stage, new_stage in moved:
            if old_county != new_county:
                errors.append(
                    LedgerError(
                        row,
                        HEADER_OF["code"],
                        code,
                        f"户编号「{code}」已是{counties[old_county]}的户，不能改为{counties[new_county]}",
                    )
                )
            problem = stage_change_problem(old_stage, new_stage)
            if problem is None and Stage.rank(new_stage) < Stage.rank(old_stage):
                problem = (
                    f"实施进度不能从“{Stage(old_stage).label}”回退到“{Stage(new_stage).label}”"
                    "（确需回退的，请在该户页面修改并填写原因）"
                )
            if problem:
                errors.append(LedgerError(row, HEADER_OF["stage"], Stage(new_stage).label, problem))
        accepted_new = self._run(
            f"SELECT s.row_no FROM {STAGING} s WHERE s.stage = %s AND NOT EXISTS "
            f"(SELECT 1 FROM {self.table} h WHERE h.code = s.code)",
            [Stage.ACCEPTED.value],
        ).fetchall()
        for (row,) in accepted_new:
            problem = stage_change_problem(None, Stage.ACCEPTED)
            assert problem
            errors.append(LedgerError(row, HEADER_OF["stage"], Stage.ACCEPTED.label, problem))
        return errors

    def count_changes(self) -> tuple[int, int]:
        created = self._run(
            f"SELECT count(*) FROM {STAGING} s WHERE NOT EXISTS "
            f"(SELECT 1 FROM {self.table} h WHERE h.code = s.code)"
        ).fetchone()[0]
        updated = self._run(
            f"SELECT count(*) FROM {STAGING} s JOIN {self.table} h ON h.code = s.code "
            f"WHERE {self.changed}"
        ).fetchone()[0]
        return created, updated

    def update(self) -> int:
        """UPDATE the changed households and write their history rows ('~')."""
        assignments = ", ".join(f"{c} = s.{c}" for c in self.present)
        return self._with_history(
            f"UPDATE {self.table} AS h SET {assignments}, updated_at = %s, updated_by_id = %s "
            f"FROM {STAGING} AS s WHERE h.code = s.code AND ({self.changed})",
            [self.now, self.user_id],
            history_type="~",
        )

    def insert(self) -> int:
        """INSERT the new households and write their history rows ('+').

        A load that more than doubles the ledger (a city's or a county's first upload) builds the
        indexes and checks the foreign keys once, set-based, after the rows are in, as PostgreSQL's
        manual advises for populating a database: updating seven indexes and queueing four foreign-
        key checks row by row costs three times as much. The tables are locked until the import
        commits, seconds; smaller loads keep them open and go row by row.
        """
        if self.postgres and self._doubles_ledger():
            with rebuilt_indexes([self.table, Household.history.model._meta.db_table]):
                return self._insert()
        return self._insert()

    def _doubles_ledger(self) -> bool:
        new = self._run(
            f"SELECT count(*) FROM {STAGING} s WHERE NOT EXISTS "
            f"(SELECT 1 FROM {self.table} h WHERE h.code = s.code)"
        ).fetchone()[0]
        if new < BULK_MIN:
            return False
        # Counting stops at `new` rows: at a million households there is no need to count them all.
        held = self._run(
            f"SELECT count(*) FROM (SELECT 1 FROM {self.table} LIMIT %s) t", [new]
        ).fetchone()[0]
        return bool(held < new)

    def _insert(self) -> int:
        names = ", ".join(self.columns)
        picked = ", ".join(f"s.{c}" for c in self.columns)
        return self._with_history(
            f"INSERT INTO {self.table} AS h "
            f"({names}, created_at, updated_at, created_by_id, updated_by_id) "
            f"SELECT {picked}, %s, %s, %s, %s FROM {STAGING} s WHERE NOT EXISTS "
            f"(SELECT 1 FROM {self.table} h WHERE h.code = s.code)",
            [self.now, self.now, self.user_id, self.user_id],
            history_type="+",
        )

    def _with_history(self, write: str, params: list[Any], *, history_type: str) -> int:
        """Run an INSERT or UPDATE of households and add one history row for each row it wrote, as
        simple_history keeps them. On PostgreSQL one statement does both; SQLite runs two."""
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
        add_history = (
            f"INSERT INTO {history.db_table} ({', '.join(names)}) SELECT {', '.join(picked)} "
        )
        if self.postgres:
            cursor = self._run(
                f"WITH h AS ({write} RETURNING h.*) {add_history} FROM h", [*params, *values]
            )
            return int(cursor.rowcount)
        written = int(self._run(write, params).rowcount)
        # What this import wrote carries its timestamp: updated rows in updated_at, new in both.
        moment = "created_at" if history_type == "+" else "updated_at"
        self._run(
            f"{add_history} FROM {self.table} h JOIN {STAGING} s ON s.code = h.code "
            f"WHERE h.{moment} = %s",
            [*values, self.now],
        )
        return written

    def analyze(self) -> None:
        self._run(f"ANALYZE {self.table}")

    def drop(self) -> None:
        self._run(f"DROP TABLE IF EXISTS {STAGING}")
