"""Importing a ledger file: read, check every row, store; all or nothing.

1. the file is read by the sandboxed reader (heating/sheet_reader.py), rows converted as asked for;
2. each row is checked (checks.py), the good rows handed on in chunks;
3. the store (store.py) stages the chunks and, with no error anywhere, writes them in one
   transaction, by one of the two write modes (see the package's docstring).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.utils import timezone

from heating.access import Scope
from heating.models import User
from heating.selectors import upload_plan_year
from heating.sheets import SheetError, SheetFile
from retrofits.ledger.checks import RowChecker
from retrofits.ledger.file import BY_HEADER
from retrofits.ledger.handoff import collector_paused, store_in_thread
from retrofits.ledger.store import FIELDS, CheckedRow, LedgerStore, store_rows

Progress = Callable[[str, int, int], None]
# Rows between progress reports, and in each chunk handed to the store: fewer, larger chunks
# cost the store fewer round trips (measured: 10,000 rows beat 5,000 by a tenth of the import).
PROGRESS_EVERY = 10000
# But the first chunk is smaller: the store begins when it has been checked, and it is the store,
# not the checks, that the import waits for (a county's 30,000 rows: 0.2 s sooner done).
FIRST_CHUNK = 2000


@dataclass
class ImportOutcome:
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[SheetError] = field(default_factory=list)
    counties: frozenset[int] = frozenset()  # of the rows written
    counted: bool = False  # the figures were counted with the write (store._streamed, _first_load)


def import_ledger(
    ledger_file: SheetFile,
    *,
    user: User | None,
    source: str,
    scope: Scope,
    dry_run: bool = False,
    progress: Progress | None = None,
    first_load: bool = False,
) -> ImportOutcome:
    """Check the whole file and, if nothing is wrong and it is not a dry run, write it.

    `scope` is where the file may write: the importing user's whole import scope (every county for
    the server's own commands). A row of a county outside it is an error, whatever the file's
    other rows are: the import fails closed.

    `first_load` (an administrator's explicit act, `import_ledger --first-load`) lets a large file
    into a nearly empty ledger drop the indexes and build them again: faster, but the household
    tables are held for the whole import, so no county's upload may ask for it."""
    report = progress or (lambda phase, done, total: None)
    now = timezone.now()
    today = timezone.localdate(now)
    default = upload_plan_year(today)
    default_year = default.pk if default else None
    checker = RowChecker(
        positions=ledger_file.positions, scope=scope, today=today, default_year=default_year
    )
    outcome = ImportOutcome()
    present = [
        f for f in FIELDS if f in ledger_file.positions or f in ("county", "township", "village")
    ]
    store = LedgerStore(
        present=present, now=now, user=user, source=source, default_year=default_year
    )
    first_load = first_load and not dry_run and store.first_load(ledger_file.total)

    def failed() -> bool:
        """Whether any row failed, once the checks that can wait for the last row are done."""
        outcome.errors.extend(checker.finish())
        return bool(outcome.errors)

    large = store.large(ledger_file.total)
    write = functools.partial(
        store_rows,
        store,
        first_load=first_load,
        dry_run=dry_run,
        streamed=large,
        failing=lambda: bool(outcome.errors),
    )
    chunks = _checked_chunks(ledger_file, checker, outcome, report)
    with collector_paused.held():
        stored = store_in_thread(write, chunks, failed) if large else write(chunks, failed)
    if outcome.errors or stored.errors or stored.breaches:
        outcome.errors.extend(stored.errors)
        outcome.errors.extend(checker.breach_errors(stored.breaches))
        outcome.errors.sort(key=lambda e: (e.row, list(BY_HEADER).index(e.column)))
        return outcome
    outcome.created, outcome.updated = stored.created, stored.updated
    outcome.counties = frozenset(store.counties)
    outcome.counted = stored.counted
    outcome.unchanged = stored.staged - stored.created - stored.updated
    return outcome


def _checked_chunks(
    ledger_file: SheetFile, checker: RowChecker, outcome: ImportOutcome, report: Progress
) -> Iterator[list[CheckedRow]]:
    """The good rows, a chunk between progress reports; errors and the row count go to `outcome`."""
    report("逐行检查", 0, ledger_file.total)
    rows, size = ledger_file.rows, FIRST_CHUNK
    while numbered := list(itertools.islice(rows, size)):
        size = PROGRESS_EVERY
        chunk, errors = checker.check_rows(numbered)
        outcome.total += len(numbered)
        outcome.errors += errors
        if chunk:
            yield chunk
        report("逐行检查", outcome.total, max(ledger_file.total, outcome.total))
    # Checking is most of the work the page can count; writing is shown as the last tenth.
    report("写入数据库", outcome.total * 9 // 10, outcome.total)
