"""Benchmark: the full 209,683-household ledger import against the raw limit, on PostgreSQL.

    .venv/bin/python bench/import_ledger.py [--rounds 3] [--database-url postgres://postgres@127.0.0.1:5432/heating_bench]

It (re)creates the benchmark database, loads the 2023 plan and the demo tender list, writes the full
synthetic ledger as an xlsx, then times, each phase in its own process so that peak RSS is its own:
  (a) the raw limit: python-calamine reading the file + COPY of its rows into a scratch table;
  (b) the project's full validated import of the file into an empty ledger;
  (c) importing the same file again (every row unchanged).
Targets: (b) <= 2 x (a), (c) <= (b), peak RSS under 600 MB; (b) and (c) are timed with the plan's
supply rules registered and again without them, which may add at most 10%. Figures drift between runs (on this
project's shared 2-core machine, by a third from one minute to the next), so the three phases run
in turn for several rounds, the ledger emptied before each (b), and the ratios are taken of the
medians; every round's figures are printed too.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import load_plan, recreate_database, setup_django

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/heating_bench"


def peak_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def reader_peak_mb() -> int:
    """The process that parsed the file under its memory ceiling (heating/sheet_reader.py)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024


def prepare(url: str, path: Path) -> int:
    """Fresh database with the plan, then the full ledger written to `path`."""
    recreate_database(url)
    setup_django(url)
    load_plan()
    from retrofits.demo import household_rows
    from retrofits.ledger.file import ChoiceLists, write_ledger

    rows = list(household_rows(scale=1.0))
    path.write_bytes(write_ledger(rows, ChoiceLists(counties=[])))
    return len(rows)


def phase_raw(url: str, path: Path) -> dict[str, Any]:
    import psycopg
    from python_calamine import load_workbook

    started = time.perf_counter()
    sheet = load_workbook(str(path)).get_sheet_by_index(0)
    rows = sheet.to_python()[1:]
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE scratch (code text, county text, township text, village text, "
            "head_name text, id_number text, phone text, area text, path text, equipment text, "
            "stage text, completed_on date, low_income text, notes text)"
        )
        with cursor.copy("COPY scratch FROM STDIN") as copy:
            for row in rows:
                copy.write_row([v if v != "" else None for v in row])
        conn.commit()
    return {"seconds": time.perf_counter() - started, "rows": len(rows), "peak_mb": peak_mb()}


def phase_import(url: str, path: Path, *, rules: bool = True) -> dict[str, Any]:
    setup_django(url)
    from retrofits.ledger.file import read_ledger
    from retrofits.ledger.importer import import_ledger
    from retrofits.rules import PLAN_RULES

    if not rules:
        PLAN_RULES.clear()  # what the import costs without the plan's supply rules

    started = time.perf_counter()
    outcome = import_ledger(
        read_ledger(path.read_bytes(), path.name), user=None, source="benchmark"
    )
    return {
        "seconds": time.perf_counter() - started,
        "created": outcome.created,
        "updated": outcome.updated,
        "unchanged": outcome.unchanged,
        "errors": len(outcome.errors),
        "peak_mb": peak_mb(),
        "reader_peak_mb": reader_peak_mb(),
    }


def empty_ledger(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE retrofits_household, retrofits_historicalhousehold CASCADE")


def run_phase(name: str, url: str, path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--phase", name, "--database-url", url, "--file", str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--phase", choices=["raw", "import", "import-without-rules"])
    parser.add_argument("--file", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.phase:
        if args.phase == "raw":
            result = phase_raw(args.database_url, args.file)
        else:
            result = phase_import(args.database_url, args.file, rules=args.phase == "import")
        print(json.dumps(result))
        return

    rounds: list[tuple[dict[str, Any], ...]] = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ledger-209683.xlsx"
        started = time.perf_counter()
        count = prepare(args.database_url, path)
        print(
            f"generated {count} rows, {path.stat().st_size / 1e6:.1f} MB xlsx, in {time.perf_counter() - started:.1f} s"
        )
        for number in range(1, args.rounds + 1):
            measured = {}
            # Which goes first alternates, so that neither gains from the machine's drift.
            order = ("import-without-rules", "import")
            for imports in order if number % 2 else order[::-1]:
                empty_ledger(args.database_url)
                fresh = run_phase(imports, args.database_url, path)
                again = run_phase(imports, args.database_url, path)
                assert fresh["created"] == count and again["unchanged"] == count, (fresh, again)
                assert fresh["errors"] == again["errors"] == 0, (fresh, again)
                measured[imports] = (fresh, again)
            raw = run_phase("raw", args.database_url, path)
            (bare_fresh, bare_again), (fresh, again) = (measured[kind] for kind in order)
            rounds.append((raw, fresh, again, bare_fresh, bare_again))
            print(
                f"round {number}: (a) {raw['seconds']:5.1f} s  (b) {fresh['seconds']:5.1f} s  "
                f"(c) {again['seconds']:5.1f} s  (b)/(a) {fresh['seconds'] / raw['seconds']:.2f}  "
                f"without the plan rules: (b) {bare_fresh['seconds']:5.1f} s  "
                f"(c) {bare_again['seconds']:5.1f} s"
            )

    a, b, c, b0, c0 = (statistics.median(r[i]["seconds"] for r in rounds) for i in range(5))
    peak = max(max(r[1]["peak_mb"], r[2]["peak_mb"]) for r in rounds)
    print(f"medians of {len(rounds)} rounds:")
    print(f"(a) raw limit, calamine + COPY:  {a:6.1f} s  peak {rounds[0][0]['peak_mb']} MB")
    print(f"(b) full validated import:       {b:6.1f} s  created {count} into an empty ledger")
    print(f"(c) re-import, unchanged:        {c:6.1f} s  unchanged {count}")
    print(f"(b)/(a) = {b / a:.2f}  (target <= 2)")
    print(f"(c)/(a) = {c / a:.2f}  (c)/(b) = {c / b:.2f}  (target <= 1)")
    reader = max(max(r[1].get("reader_peak_mb", 0), r[2].get("reader_peak_mb", 0)) for r in rounds)
    print(f"peak RSS {peak} MB (target < 600); the reading process's {reader} MB")
    print(
        f"the plan rules (以气定改, 电网改造前置, 以供定改): (b)/(b without) = {b / b0:.2f}, "
        f"(c)/(c without) = {c / c0:.2f}  (target <= 1.10)"
    )


if __name__ == "__main__":
    main()
