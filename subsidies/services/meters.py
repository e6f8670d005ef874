"""Writing the households' meter accounts (计量户号) and the utility's metered use (用能计量).

The metered-use file is a whole area's season: a million rows, most of them customers outside the
programme. Its rows are converted as they are read and go in chunks into a staging table (binary
COPY on PostgreSQL); the database then answers what only a look at every row can (accounts not
registered, a period given twice) and writes the registered accounts' rows in one statement, so
memory stays bounded by a chunk, not by the file."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction

from heating import access
from heating.access import Action
from heating.models import User
from heating.sheets import SheetError, SheetFileError
from retrofits.models import Household
from subsidies.models import MeterAccount, MeterKind
from subsidies.services import use_copy
from subsidies.sheets import (
    ACCOUNT_COLUMNS,
    ACCOUNT_TEMPLATE,
    USE_COLUMNS,
    Problem,
    csv_encoding,
    parse_date,
    parse_decimal,
    read_small,
    read_use,
    text,
)

KINDS = {k.label: k.value for k in MeterKind}
CHUNK = 10_000
# A file with more bad rows than this is the wrong file: the first ones say what is wrong.
MAX_ERRORS = 1000
STAGE = "subsidies_use_stage"
KNOWN = "subsidies_use_known"


def _allowed(user: User | None) -> access.Scope:
    if user is None:  # the server itself (the CLI without --user)
        return access.Scope(everything=True)
    return access.scope(user, Action.SUBSIDY_POLICY)


# ---------------------------------------------------------------- meter accounts


@dataclass
class AccountImport:
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[SheetError] = field(default_factory=list)


@transaction.atomic
def meter_accounts_import(
    *, data: bytes, name: str, user: User | None, dry_run: bool = False
) -> AccountImport:
    """Each household's 户号 per 计量类型, all or nothing: an upsert by (户编号, 计量类型). A 户号
    held by another household, or given twice in the file, is an error of the row."""
    headers = {c.field: c.header for c in ACCOUNT_COLUMNS}
    sheet = read_small(data, name, ACCOUNT_TEMPLATE)
    allowed = _allowed(user)
    outcome = AccountImport()
    rows: list[tuple[int, dict[str, Any], dict[str, object]]] = []
    for number, cells in sheet.rows:
        raw = {f: cells[i] if i < len(cells) else None for f, i in sheet.positions.items()}
        values = {f: text(raw.get(f)) for f in headers}
        rows.append((number, values, raw))
    outcome.total = len(rows)

    households: dict[str, tuple[int, int]] = {}
    codes = sorted({v["code"] for _, v, _ in rows if v["code"]})
    for chunk in _chunks(codes, CHUNK):
        households.update(
            (code, (pk, county))
            for code, pk, county in Household.objects.filter(code__in=chunk).values_list(
                "code", "pk", "county_id"
            )
        )
    seen_number: dict[tuple[str, str], int] = {}
    seen_household: dict[tuple[int, str], int] = {}
    wanted: dict[tuple[int, str], tuple[int, str]] = {}  # (household, kind) -> (row, number)
    for number, values, raw in rows:
        problems: list[tuple[str, str]] = []
        for f in headers:
            if not values[f]:
                problems.append((f, "必填，不能为空"))
        kind = KINDS.get(values["kind"]) if values["kind"] else None
        if values["kind"] and kind is None:
            problems.append(("kind", f"「{values['kind']}」应为 电 或 气"))
        found = households.get(values["code"]) if values["code"] else None
        if values["code"] and found is None:
            problems.append(("code", f"台账中没有户编号「{values['code']}」"))
        elif found is not None and found[1] not in allowed:
            problems.append(("code", f"户编号「{values['code']}」不是本县的户，无权登记"))
        if len(values["number"]) > 40:
            problems.append(
                ("number", f"最多40个字符，「{values['number']}」有{len(values['number'])}个")
            )
        if kind and values["number"]:
            first = seen_number.setdefault((kind, values["number"]), number)
            if first != number:
                problems.append(("number", f"户号「{values['number']}」与第{first}行重复"))
        if kind and found is not None:
            first = seen_household.setdefault((found[0], kind), number)
            if first != number:
                problems.append(("code", f"该户的{values['kind']}户号与第{first}行重复"))
        if problems:
            outcome.errors += [
                SheetError(number, headers[f], text(raw.get(f)), m) for f, m in problems
            ]
        elif kind and found is not None:
            wanted[(found[0], kind)] = (number, values["number"])
    if outcome.errors:
        return outcome

    # What the database holds of these households and numbers: one query each, by chunk.
    held: dict[tuple[int, str], tuple[int, str]] = {}  # (household, kind) -> (pk, number)
    owners: dict[tuple[str, str], int] = {}  # (kind, number) -> household
    for chunk in _chunks(sorted({h for h, _ in wanted}), CHUNK):
        for pk, household, kind, account in MeterAccount.objects.filter(
            household_id__in=chunk
        ).values_list("pk", "household_id", "kind", "number"):
            held[(household, kind)] = (pk, account)
    numbers = sorted({n for _, n in wanted.values()})
    for chunk in _chunks(numbers, CHUNK):
        for household, kind, account in MeterAccount.objects.filter(number__in=chunk).values_list(
            "household_id", "kind", "number"
        ):
            owners[(kind, account)] = household
    creating: list[MeterAccount] = []
    updating: list[MeterAccount] = []
    for (household, kind), (number, account) in wanted.items():
        owner = owners.get((kind, account))
        # Held by a household that this file does not move to another number.
        if (
            owner is not None
            and owner != household
            and wanted.get((owner, kind), (0, account))[1] == account
        ):
            outcome.errors.append(
                SheetError(number, headers["number"], account, f"户号「{account}」已登记给其他户")
            )
            continue
        current = held.get((household, kind))
        if current is None:
            creating.append(MeterAccount(household_id=household, kind=kind, number=account))
        elif current[1] != account:
            updating.append(
                MeterAccount(pk=current[0], household_id=household, kind=kind, number=account)
            )
        else:
            outcome.unchanged += 1
    if outcome.errors:
        return outcome
    outcome.created, outcome.updated = len(creating), len(updating)
    # Moved numbers first go out of the way, so that two households trading numbers do not
    # collide with each other in the unique index.
    for moving in updating:
        moving.number = f"~{moving.pk}~{moving.number}"[:40]
    MeterAccount.objects.bulk_update(updating, ["number"], batch_size=CHUNK)
    for moving in updating:
        moving.number = wanted[(moving.household_id, moving.kind)][1]
    MeterAccount.objects.bulk_update(updating, ["number"], batch_size=CHUNK)
    MeterAccount.objects.bulk_create(creating, batch_size=CHUNK)
    if dry_run:
        transaction.set_rollback(True)
    return outcome


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for at in range(0, len(items), size):
        yield items[at : at + size]


# ---------------------------------------------------------------- metered use


@dataclass
class UseImport:
    total: int = 0
    written: int = 0  # rows of registered accounts, inserted or updated
    skipped: int = 0  # rows of accounts not in the programme (or not the importer's county)
    errors: list[SheetError] = field(default_factory=list)
    more_errors: int = 0  # errors beyond those listed


Staged = tuple[int, str, str, Any, Any, Any]  # row, number, kind, start, end, use


# An account number with nothing to trim, unneutralise or escape; two ISO dates; a plain number.
_FAST_ROW = re.compile(
    r"[^\s'\\](?:[^\t\n\r\\]*[^\s\\])?\t\d{4}-\d{2}-\d{2}\t\d{4}-\d{2}-\d{2}\t\d{1,12}(?:\.\d{1,2})?"
)


def _converted(
    rows: Iterable[tuple[int, Sequence[object]]], positions: dict[str, int], outcome: UseImport
) -> Iterator[Staged]:
    headers = {c.field: c.header for c in USE_COLUMNS}
    p_number, p_kind = positions["number"], positions["kind"]
    p_start, p_end, p_use = positions["start_date"], positions["end_date"], positions["use"]

    escape = connection.vendor == "postgresql"

    def error(row: int, f: str, value: object, message: str) -> None:
        if len(outcome.errors) < MAX_ERRORS:
            outcome.errors.append(SheetError(row, headers[f], text(value), message))
        else:
            outcome.more_errors += 1

    last = max(p_number, p_kind, p_start, p_end, p_use)
    for number, cells in rows:
        if not any(cells) and not any(v not in (None, "") for v in cells):
            continue  # a blank row (a row of zeros is not blank: the second test keeps it)
        outcome.total += 1
        if len(cells) > last:  # the common case, without a bound check per cell
            raw_number, raw_kind = cells[p_number], cells[p_kind]
            raw_start, raw_end, raw_use = cells[p_start], cells[p_end], cells[p_use]
        else:
            width = len(cells)
            raw_number = cells[p_number] if p_number < width else None
            raw_kind = cells[p_kind] if p_kind < width else None
            raw_start = cells[p_start] if p_start < width else None
            raw_end = cells[p_end] if p_end < width else None
            raw_use = cells[p_use] if p_use < width else None
        # The common row of a utility's CSV (ISO dates, a plain number) is checked by one pattern
        # and goes on as text, which the database parses: converting a million rows' dates and
        # numbers to Python objects only to write them out again would double the import. The
        # pattern also keeps out what COPY's text format would need escaped.
        if (
            type(raw_number) is str
            and type(raw_start) is str
            and type(raw_end) is str
            and type(raw_use) is str
            and _FAST_ROW.fullmatch(f"{raw_number}\t{raw_start}\t{raw_end}\t{raw_use}")
            and raw_start <= raw_end  # ISO dates compare as text
            and (fast_kind := KINDS.get(str(raw_kind))) is not None
        ):
            try:
                dt.date.fromisoformat(raw_start)
                dt.date.fromisoformat(raw_end)
            except ValueError:
                pass  # 2023-02-30: the slow path below says what is wrong
            else:
                yield number, raw_number, fast_kind, raw_start, raw_end, raw_use
                continue
        bad = False
        account = text(raw_number)
        if not account:
            error(number, "number", raw_number, "必填，不能为空")
            bad = True
        kind = KINDS.get(text(raw_kind))
        if kind is None:
            error(number, "kind", raw_kind, f"「{text(raw_kind)}」应为 电 或 气")
            bad = True
        start = end = use = None
        try:
            start = parse_date(raw_start)
        except Problem as exc:
            error(number, "start_date", raw_start, str(exc))
            bad = True
        try:
            end = parse_date(raw_end)
        except Problem as exc:
            error(number, "end_date", raw_end, str(exc))
            bad = True
        if start is not None and end is not None and end < start:
            error(number, "end_date", raw_end, f"截止日期早于起始日期{start:%Y-%m-%d}")
            bad = True
        try:
            use = parse_decimal(raw_use, places=2, digits=14)
            if use < 0:
                error(number, "use", raw_use, "用量不能小于 0")
                bad = True
        except Problem as exc:
            error(number, "use", raw_use, str(exc))
            bad = True
        if not bad:
            # The fast path's rows need no escaping for COPY; these may.
            yield number, _copy_text(account) if escape else account, str(kind), start, end, use


def _stage_create() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        # A temporary table: private to this connection, gone with it.
        cursor.execute(
            f"CREATE TEMPORARY TABLE {STAGE} (row_no integer NOT NULL, number text NOT NULL,"
            " kind varchar(16) NOT NULL, start_date date NOT NULL, end_date date NOT NULL,"
            " use numeric(14, 2) NOT NULL)"
        )


def _copy_lines(chunk: list[Staged]) -> str:
    # COPY's text format written at once: a chunk's lines in one string cost a tenth of writing
    # each row's values. Only the account number is free text, escaped before it gets here.
    return "".join(f"{r[0]}\t{r[1]}\t{r[2]}\t{r[3]}\t{r[4]}\t{r[5]}\n" for r in chunk)


def _stage_rows(chunks: Iterator[list[Staged]]) -> None:
    """Every chunk into the staging table. On PostgreSQL a second thread sends each chunk by
    COPY while this one converts the next: the server's work and Python's overlap, and at most
    two chunks are held. The thread uses this connection (the staging table is private to it),
    which this thread leaves alone until the last chunk is sent."""
    if connection.vendor != "postgresql":
        for chunk in chunks:
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO {STAGE} (row_no, number, kind, start_date, end_date, use)"
                    " VALUES (%s, %s, %s, %s, %s, %s)",
                    [(r[0], r[1], r[2], r[3], r[4], str(r[5])) for r in chunk],
                )
        return
    connection.ensure_connection()
    raw = connection.connection
    assert raw is not None

    def send(chunk: list[Staged]) -> None:
        with (
            raw.cursor() as cursor,
            cursor.copy(
                f"COPY {STAGE} (row_no, number, kind, start_date, end_date, use) FROM STDIN"
            ) as copy,
        ):
            copy.write(_copy_lines(chunk))

    with ThreadPoolExecutor(max_workers=1) as writer:
        sending: Future[None] | None = None
        for chunk in chunks:
            if sending is not None:
                sending.result()  # the previous chunk is in: at most two are held
            sending = writer.submit(send, chunk)
        if sending is not None:
            sending.result()


_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")


def _copy_text(value: str) -> str:
    """A value in COPY's text format: backslash, tab and line ends escaped."""
    if _COPY_SPECIAL.search(value) is None:
        return value
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def _scope_sql(allowed: access.Scope) -> tuple[str, list[Any]]:
    """The accounts of households the importer may keep, as an SQL condition on account `a`."""
    if allowed.everything:
        return "", []
    ids = sorted(allowed.ids) or [0]
    households = Household.objects.filter(county_id__in=ids).values("pk").order_by()
    sql, params = households.query.sql_with_params()
    return f" AND a.household_id IN ({sql})", list(params)


@transaction.atomic
def metered_use_import(
    *, data: bytes, name: str, user: User | None, dry_run: bool = False
) -> UseImport:
    """The utility's export, all or nothing: rows of registered accounts written (a period
    given again by a later file replaces its use), others skipped and counted; a period given
    twice in the file is an error of the later row."""
    sheet = read_use(data, name)
    outcome = UseImport()
    _stage_create()
    # No finally: a failure rolls back the transaction, the staging tables with it.
    start = (
        use_copy.plain_header(data, sheet)
        if connection.vendor == "postgresql" and name.lower().endswith(".csv")
        else None
    )
    copied = (
        use_copy.copy_raw(data, start, len(sheet.header), csv_encoding(data))
        if start is not None
        else None
    )
    if copied is not None:
        _copied_and_write(copied, sheet.positions, outcome, _allowed(user))
        use_copy.drop(copied)
    else:
        _stage_and_write(sheet.rows, sheet.positions, outcome, _allowed(user))
    if not outcome.total:
        raise SheetFileError("文件中没有数据行。")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {STAGE}")
    if dry_run:
        transaction.set_rollback(True)
    return outcome


def _stage_and_write(
    rows: Iterable[tuple[int, Sequence[object]]],
    positions: dict[str, int],
    outcome: UseImport,
    allowed: access.Scope,
) -> None:
    converted = _converted(rows, positions, outcome)
    _stage_rows(iter(lambda: list(itertools.islice(converted, CHUNK)), []))
    if outcome.errors:
        return
    _write_known(outcome, allowed)


def _copied_and_write(
    copied: use_copy.Copied, positions: dict[str, int], outcome: UseImport, allowed: access.Scope
) -> None:
    """The file already copied as it is: the rows SQL did not take go through the Python checks
    (and into the staging table) in file order; then both parts as the Python path's."""
    slow, rows = use_copy.slow_rows(copied, positions)
    outcome.total = copied.rows - slow  # the taken rows; the others count as they are checked
    converted = _converted(rows, positions, outcome)
    _stage_rows(iter(lambda: list(itertools.islice(converted, CHUNK)), []))
    if outcome.errors:
        return
    _write_known(outcome, allowed, copied=(copied, positions))


def _write_known(
    outcome: UseImport,
    allowed: access.Scope,
    *,
    copied: tuple[use_copy.Copied, dict[str, int]] | None = None,
) -> None:
    """The staged rows of registered accounts (and the taken rows of a file `copied` as it is):
    checked for periods given twice, then written in one statement."""
    scope_sql, scope_params = _scope_sql(allowed)
    accounts = MeterAccount._meta.db_table
    known = (
        f"SELECT a.id AS account_id, s.row_no, s.number, s.start_date, s.end_date, s.use"
        f" FROM {STAGE} s JOIN {accounts} a ON a.kind = s.kind AND a.number = s.number{scope_sql}"
    )
    params = list(scope_params)
    if copied is not None:
        known = f"{use_copy.known_sql(*copied, scope_sql, accounts)} UNION ALL {known}"
        params = [*scope_params, *scope_params]
    with connection.cursor() as cursor:
        # The registered accounts' rows, once: the programme's few among the area's many.
        cursor.execute(f"DROP TABLE IF EXISTS {KNOWN}")
        with use_copy.parallel(cursor) if copied else contextlib.nullcontext():
            cursor.execute(f"CREATE TEMPORARY TABLE {KNOWN} AS {known}", params)
        cursor.execute(f"SELECT COUNT(*) FROM {KNOWN}")
        (matched,) = cursor.fetchone()
        # A period given twice for one registered account: an error of each later row.
        cursor.execute(
            f"SELECT k.row_no, k.number, k.start_date, k.end_date, d.first_row FROM {KNOWN} k"
            f" JOIN (SELECT account_id, start_date, end_date, MIN(row_no) AS first_row"
            f" FROM {KNOWN} GROUP BY account_id, start_date, end_date HAVING COUNT(*) > 1) d"
            " ON d.account_id = k.account_id AND d.start_date = k.start_date"
            " AND d.end_date = k.end_date WHERE k.row_no <> d.first_row ORDER BY k.row_no"
        )
        header = {c.field: c.header for c in USE_COLUMNS}["number"]
        for row, account, start, end, first in cursor.fetchall():
            if len(outcome.errors) >= MAX_ERRORS:
                outcome.more_errors += 1
                continue
            message = f"户号「{account}」{start}至{end}的用量与第{first}行重复"
            outcome.errors.append(SheetError(row, header, account, message))
        if outcome.errors:
            return
        outcome.skipped = outcome.total - matched
        # WHERE true: SQLite needs it to tell the SELECT's end from the ON CONFLICT clause.
        cursor.execute(
            "INSERT INTO subsidies_meterreading (account_id, start_date, end_date, use)"
            f" SELECT account_id, start_date, end_date, use FROM {KNOWN} WHERE true"
            " ON CONFLICT (account_id, start_date, end_date) DO UPDATE SET use = excluded.use"
            # A period imported again unchanged is not rewritten (nor its index entries).
            " WHERE subsidies_meterreading.use <> excluded.use"
        )
        outcome.written = matched
        cursor.execute(f"DROP TABLE {KNOWN}")
