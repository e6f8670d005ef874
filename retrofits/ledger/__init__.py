"""The ledger engine: everything that writes households in bulk.

Three names, each for one thing:
- **the ledger** (台账) is the households, the `Household` table and its history;
- **a ledger file** is an upload in the template's layout, an xlsx or CSV (`file.py`);
- **the store** is the writer: set-based SQL that puts a checked file into the ledger (`store.py`).

Besides the one-household service (`retrofits.services.household_save`), this package is the
only code that writes households; `tests/test_layout.py` fails on any other SQL naming their table.

How a ledger file goes in (`importer.import_ledger`, run as a job by `jobs.py` for the web upload,
the CLI and the demo generator):
1. the sandboxed reader (`heating/sheet_reader.py`) parses it in a child process under a memory
   ceiling and streams the rows back;
2. `checks.py` checks each row against look-ups loaded once (the value rules), in chunks, and the
   checks that wait for the last row (codes and ID numbers twice in the file);
3. the store writes the good rows, by one of two modes.

**The regular mode** (every county's upload, the CLI, the demo): the rows are copied into a
temporary staging table, outside any transaction so that the page's progress is seen; then, in
one transaction under the locks of the counties the file touches, the database is asked what only
it knows (ID numbers held by other households; the change rules, once per distinct old and new
state), and one UPDATE of the changed households and one INSERT of the new ones write them with
their history rows, the indexes kept up to date row by row. A large file of new households (a
city's or a county's first upload, a county's next thousands) is not staged: that one transaction
begins with the first chunk, each chunk's rows are copied straight into the ledger while the next
is checked, the counties' locks taken as the chunks bring them, until a chunk brings a code or an
ID number the ledger holds: it and the rest are staged (`store._streamed`). It guarantees: all
or nothing; every error listed by sheet row and column; the plan rules (`retrofits/rules.py`)
hold after the write, checked in the same transaction; other counties' writes go on meanwhile,
and readers see the ledger as it was until the commit; an unchanged row writes nothing, not even
history. The progress figures follow: a streamed file that only added households, all copied in,
adds them to the latest figures in its own transaction (`retrofits.services.rollups.rollup_added`,
from a tally of the rows as they were copied); any other write's counties are counted again after
it commits.

**The first load** (only by an administrator's `import_ledger --first-load`, PostgreSQL, a file of
at least `store.BULK_MIN` rows with more than twice the rows the ledger holds): the household tables'
indexes and constraints are dropped (`indexes.py`; not the foreign keys, where the import checks
its rows' keys itself: `store.LedgerStore.own_foreign_keys`), the checked chunks are copied
straight into the ledger while the next ones are checked, and the indexes are built and the
constraints checked once at the end. It guarantees the same result, the same errors and the same
plan rules, all or nothing; but it holds the household tables exclusively until it commits, so
nobody reads or writes households meanwhile: for a city's first upload, not for a county's. Its
figures are counted in its transaction, before the tables are let go.

`acceptances.py` is the store's other bulk write: many households made 已验收 at once, with the
same change rules, plan rules and county locks.

Why set-based SQL and not the ORM row by row: docs/import-performance.md.
"""
