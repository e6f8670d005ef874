"""The metered-use CSV handed to PostgreSQL as it is.

A utility's export is a million plain lines (an account number, 电 or 气, two ISO dates, a number).
Reading them in Python only to write them out again for COPY cost the import 2.8 times the raw
limit; here the file's own bytes go to `COPY … (FORMAT csv)` into a table of text columns, and SQL
finds the rows the Python path would take at once (its fast path's checks, written in SQL, narrower
where that is cheaper). Every other row (a few in a real export) is read back in file order and goes
through the Python path's checks (`meters._converted`), so the errors, their order and what is
written are the same.

Only a file COPY reads exactly as Python's csv module does is taken: its header on the first line,
no double quotes after it (PostgreSQL opens a quoted section in the middle of a field; Python does
not), no `\\.` (COPY's end-of-data marker on a line of its own) and no NUL. Anything COPY still
refuses (a row of another width, mixed line ends, a blank line) rolls back to a savepoint and the
file is read by the Python path instead: slower, never different."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from django.db import DatabaseError, connection, transaction

from heating.sheets import SheetFile

PIECE = 1 << 20  # bytes handed to COPY at a time


@dataclass(frozen=True)
class Copied:
    """The file's rows in `raw` (c0 … c{width-1} as text, row_no from 1 in file order), and the
    rows the SQL checks did not take in `slow`: UNLOGGED tables named for this session, so that
    PostgreSQL may scan them in parallel (a temporary table is the leader's alone), created and
    dropped inside the import's transaction (never seen by another session; a failure takes
    them with it)."""

    raw: str
    slow: str
    width: int
    rows: int


# The Python fast path's checks (meters._FAST_ROW, KINDS, date.fromisoformat), in SQL, by the
# cheapest means (a regular expression costs a second a column at a million rows):
# - the account number: its first and last characters ASCII letters or digits, so that text()
#   (strip, unneutralise) leaves it as it is; what lies between matters to no check;
# - the dates: one of the ISO dates of 2000–2099, every one that exists, made here by Python (a
#   hashed lookup); another year takes the Python path, which says what it says of it;
# - the use: 1 to 12 digits, then optionally a point and 1 or 2 digits.
@functools.cache
def iso_dates() -> list[str]:
    """Made when a file is first copied, not at start-up: 36,525 dates cost every process
    that loads the app (a ledger import's among them) 60 ms."""
    start = dt.date(2000, 1, 1)
    return [
        (start + dt.timedelta(days=n)).isoformat()
        for n in range((dt.date(2100, 1, 1) - start).days)
    ]


def _alnum(code: str) -> str:
    return f"({code} BETWEEN 48 AND 57 OR {code} BETWEEN 65 AND 90 OR {code} BETWEEN 97 AND 122)"


def _use(u: str) -> str:
    dot = f"strpos({u}, '.')"
    return (
        f"(length({u}) BETWEEN 1 AND 15 AND ltrim({u}, '0123456789.') = '' AND"
        f" ({dot} = 0 AND length({u}) <= 12 OR {dot} BETWEEN 2 AND 13"
        f" AND length({u}) - {dot} BETWEEN 1 AND 2 AND strpos(substr({u}, {dot} + 1), '.') = 0))"
    )


def plain_header(data: bytes, sheet: SheetFile) -> int | None:
    """Where the rows start (the byte after the header line) when COPY may read the file as it
    is, else None."""
    end = data.find(b"\n")
    if end < 0:
        return None
    first = data[:end].rstrip(b"\r")
    # A backslash and a point anywhere, not only the marker's line: found at memchr's speed.
    if b'"' in first or data.find(b'"', end) >= 0 or b"\x00" in data or b"\\." in data:
        return None
    try:
        header = next(csv.reader([first.decode("utf-8-sig")]))
    except (UnicodeDecodeError, csv.Error, StopIteration):
        try:
            header = next(csv.reader([first.decode("gb18030")]))
        except (UnicodeDecodeError, csv.Error, StopIteration):
            return None
    if list(header) != [str(v) for v in sheet.header]:
        return None  # the header is not on the first line: the Python path finds it
    return end + 1


def copy_raw(data: bytes, start: int, width: int, encoding: str) -> Copied | None:
    """The rows after the header into a new raw table, in a savepoint; None, with nothing left
    behind, if COPY refuses the file."""
    columns = ", ".join(f"c{i}" for i in range(width))
    try:
        with transaction.atomic():
            raw = connection.connection
            assert raw is not None
            name = f"subsidies_use_raw_{raw.info.backend_pid}"
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {name}")
                cursor.execute(
                    f"CREATE UNLOGGED TABLE {name} (row_no bigint GENERATED ALWAYS AS IDENTITY,"
                    f" {', '.join(f'c{i} text' for i in range(width))})"
                )
            encoded = "UTF8" if encoding.startswith("utf-8") else "GB18030"
            view = memoryview(data)
            with raw.cursor() as cursor:
                with cursor.copy(
                    f"COPY {name} ({columns}) FROM STDIN (FORMAT csv, ENCODING '{encoded}')"
                ) as copy:
                    for at in range(start, len(data), PIECE):
                        copy.write(view[at : at + PIECE])
                rows = cursor.rowcount  # set when the COPY ends
    except (psycopg.Error, DatabaseError):
        return None
    return Copied(raw=name, slow=name.replace("_raw_", "_slow_"), width=width, rows=rows)


def fast_condition(positions: dict[str, int]) -> str:
    """True for the rows the Python path would take at once; its one parameter is iso_dates()."""
    n, k = f"r.c{positions['number']}", f"r.c{positions['kind']}"
    s, e, u = (
        f"r.c{positions['start_date']}",
        f"r.c{positions['end_date']}",
        f"r.c{positions['use']}",
    )
    return (
        f"({_alnum(f'ascii({n})')} AND {_alnum(f'ascii(right({n}, 1))')}"
        f" AND {k} IN ('电', '气') AND {s} = ANY(%(dates)s::text[]) AND {e} = ANY(%(dates)s::text[])"
        f' AND {s} COLLATE "C" <= {e} COLLATE "C" AND {_use(u)})'
    )


@contextlib.contextmanager
def parallel(cursor: Any) -> Iterator[None]:
    """A scan of the raw table in parallel workers: the planner, which cannot know how few rows
    come out, would price sending a million back from the workers and keep to one process (the
    checks took a second alone, half of that with two workers). Set for the statements inside,
    then as it was."""
    names = ("parallel_setup_cost", "parallel_tuple_cost")
    cursor.execute(f"SELECT {', '.join('current_setting(%s)' for _ in names)}", names)
    before = cursor.fetchone()
    for name in names:
        cursor.execute("SELECT set_config(%s, '0', true)", [name])
    yield
    for name, value in zip(names, before, strict=True):
        cursor.execute("SELECT set_config(%s, %s, true)", [name, value])


def slow_rows(
    copied: Copied, positions: dict[str, int]
) -> tuple[int, Iterator[tuple[int, Sequence[object]]]]:
    """How many rows the SQL checks did not take, and those rows in file order as the csv module
    gives them (an empty cell is "", not NULL), numbered as in the file."""
    with connection.cursor() as cursor, parallel(cursor):
        cursor.execute(f"DROP TABLE IF EXISTS {copied.slow}")
        cursor.execute(
            f"CREATE UNLOGGED TABLE {copied.slow} AS SELECT r.* FROM {copied.raw} r"
            f" WHERE {fast_condition(positions)} IS NOT TRUE",
            {"dates": iso_dates()},
        )
        slow = cursor.rowcount

    def rows() -> Iterator[tuple[int, Sequence[object]]]:
        columns = ", ".join(f"COALESCE(c{i}, '')" for i in range(copied.width))
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT row_no + 1, {columns} FROM {copied.slow} ORDER BY row_no")
            while chunk := cursor.fetchmany(5000):
                for row in chunk:
                    yield row[0], list(row[1:])

    return int(slow), rows()


def known_sql(copied: Copied, positions: dict[str, int], scope_sql: str, accounts: str) -> str:
    """The taken rows (those not in slow) of registered accounts, typed: KNOWN's first part."""
    n, k = f"r.c{positions['number']}", f"r.c{positions['kind']}"
    s, e, u = (
        f"r.c{positions['start_date']}",
        f"r.c{positions['end_date']}",
        f"r.c{positions['use']}",
    )
    return (
        f"SELECT a.id AS account_id, CAST(r.row_no + 1 AS integer) AS row_no, {n} AS number,"
        f" CAST({s} AS date) AS start_date, CAST({e} AS date) AS end_date,"
        f" CAST({u} AS numeric(14, 2)) AS use FROM {copied.raw} r JOIN {accounts} a"
        f" ON a.number = {n} AND a.kind = CASE {k} WHEN '电' THEN 'electric' WHEN '气' THEN 'gas'"
        f" END{scope_sql} WHERE NOT EXISTS (SELECT 1 FROM {copied.slow} w WHERE w.row_no = r.row_no)"
    )


def drop(copied: Copied) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {copied.raw}, {copied.slow}")
