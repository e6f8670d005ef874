"""Benchmark: the ledger import, each phase a whole process, against the raw limit, on PostgreSQL.

    .venv/bin/python bench/import_ledger.py [--rounds 5] [--files DIR] [--database-url URL]

It (re)creates the benchmark database (default heating_bench) with the 2023 plan, the demo tender
list and supply for every target, and writes the full synthetic ledger of 209,683 households the
way Excel saves a workbook: XlsxWriter *without* constant_memory, so that every string is in the
shared strings table as Excel keeps it (constant_memory would write inline strings, which Excel
never does), the ID-number, code and phone cells text cells of a text-formatted ("@") column, and
the completion dates numbers with a yyyy-mm-dd date style, the 任务年度 a number. Two more files
are cut from the same rows: a county's upload (30,000 of 原平市's households, new) and the rest of
the city (the other 179,683), loaded once into a template database (heating_bench_city) that
each round clones.

Each phase is a whole process, timed from its start to its exit by this one:
  raw        python-calamine reading the file + COPY of its rows into a bare scratch table: the raw
             limit, for the whole file and for the county's;
  first      `manage.py import_ledger FILE --first-load` into an empty ledger;      bar <= 2.0 x raw
  regular    `manage.py import_ledger FILE` (a county's upload's way) of the whole file into an
             empty household table;                                                 bar <= 3.0 x raw
  county     `manage.py import_ledger COUNTY-FILE` into the city holding the other 179,683
             households;                                                bar <= 3.0 x the county raw
  unchanged  `manage.py import_ledger FILE` again, every row unchanged (after first and after
             regular);                                                              bar <= 1.5 x raw
The project's modules are compiled to bytecode first, as a deployed image has them (the Dockerfile
compiles them) and as Python leaves them on a developer's machine after the first run: an
environment with PYTHONDONTWRITEBYTECODE would otherwise compile 100 modules from source in every
phase, 0.07-0.1 s that no import in production pays.
The imports run under DEBUG=1 with no REDIS_URL, as on a developer's machine: the CLI runs the
rollup after the import, in the same process, and its time counts. Peak RSS of the importing
process (bar <= 400 MB) and, separately, of the sandboxed reader child (heating/sheet_reader.py)
are taken by the process itself (getrusage SELF and CHILDREN) as it exits.

The machine is shared and drifts (by a third from one minute to the next), so every round runs
each phase once, the order reversed every other round, the full raw limit timed at the start and
the end of each round and the county's just before and just after its import; a ratio is taken
within a round (to the mean of its two raw timings), and the median over the rounds is the figure
compared to the bar.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import runpy
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/heating_bench"
COUNTY, COUNTY_ROWS = "原平市", 30000
BARS = {"first": 2.0, "regular": 3.0, "county": 3.0, "unchanged": 1.5}
PEAK_BAR_MB = 400
DONE = re.compile(r"共 (\d+) 行，新增 (\d+)，更新 (\d+)，未变 (\d+)")


# ---------------------------------------------------------------- phases, each in its own process


def phase_raw(url: str, path: Path) -> dict[str, Any]:
    """The raw limit: read every row with calamine, COPY them into a bare table."""
    import psycopg
    from python_calamine import load_workbook

    rows = load_workbook(str(path)).get_sheet_by_index(0).to_python()[1:]
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE scratch (code text, county text, township text, village text, "
            "head_name text, id_number text, phone text, area text, path text, equipment text, "
            "stage text, completed_on date, low_income text, notes text, plan_year numeric)"
        )
        with cursor.copy("COPY scratch FROM STDIN") as copy:
            for row in rows:
                copy.write_row([v if v != "" else None for v in row])
        conn.commit()
    return {"rows": len(rows), "peak_mb": _peak_mb(resource.RUSAGE_SELF)}


def phase_cli(args: list[str]) -> dict[str, Any]:
    """`manage.py ARGS`, run as manage.py runs it, then its peak memory and the reader child's."""
    sys.argv = [str(ROOT / "manage.py"), *args]
    sys.path.insert(0, str(ROOT))
    status = 0
    try:
        runpy.run_path(str(ROOT / "manage.py"), run_name="__main__")
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    sys.stdout.flush()
    return {
        "status": status,
        "peak_mb": _peak_mb(resource.RUSAGE_SELF),
        "reader_peak_mb": _peak_mb(resource.RUSAGE_CHILDREN),
    }


def _peak_mb(who: int) -> int:
    return resource.getrusage(who).ru_maxrss // 1024


def _run(env: dict[str, str], *args: str) -> tuple[float, dict[str, Any], str]:
    """A phase in a process of its own: its wall time, its JSON line and what else it printed.
    What the previous phase left in PostgreSQL's buffers is written out first, not during it."""
    execute(env["DATABASE_URL"], "CHECKPOINT")
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--phase", *args], capture_output=True, text=True, env=env
    )
    seconds = time.perf_counter() - started
    lines = out.stdout.strip().splitlines()
    if out.returncode or not lines:
        raise SystemExit(f"phase {args} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    result = json.loads(lines[-1])
    if result.get("status"):
        raise SystemExit(f"phase {args} exited {result['status']}:\n{out.stderr[-3000:]}")
    return seconds, result, "\n".join(lines[:-1])


# ---------------------------------------------------------------- the files and the databases


def phase_files(url: str, full: Path, county: Path, rest: Path) -> dict[str, Any]:
    """The three files, from the synthetic ledger of the plan in the database at `url`."""
    sys.path.insert(0, str(HERE))
    from common import setup_django

    setup_django(url)
    from retrofits.demo import household_rows

    rows = list(household_rows(scale=1.0))
    ours = [i for i, row in enumerate(rows) if row[1] == COUNTY][-COUNTY_ROWS:]
    taken = set(ours)
    write_excel_like(rows, full)
    write_excel_like([rows[i] for i in ours], county)
    write_excel_like([r for i, r in enumerate(rows) if i not in taken], rest)
    return {"rows": len(rows)}


def write_excel_like(rows: list[list[object]], path: Path) -> None:
    """The ledger's columns as Excel would save them (see the module's docstring)."""
    import xlsxwriter

    from retrofits.ledger.file import COLUMNS

    book = xlsxwriter.Workbook(str(path))  # not constant_memory: a shared strings table
    sheet = book.add_worksheet("清洁取暖改造户台账")
    text = book.add_format({"num_format": "@"})
    date = book.add_format({"num_format": "yyyy-mm-dd"})
    formats = {"text": text, "date": date}
    for index, column in enumerate(COLUMNS):
        sheet.set_column(index, index, column.width or 12, formats.get(column.format or ""))
        sheet.write_string(0, index, column.header)
    for number, row in enumerate(rows, start=1):
        for index, value in enumerate(row):
            if value is None or value == "":
                continue
            if isinstance(value, str):
                sheet.write_string(number, index, value, text if COLUMNS[index].format else None)
            elif isinstance(value, int):  # the 任务年度, as Excel keeps a typed 2023: a number
                sheet.write_number(number, index, value)
            else:
                sheet.write_datetime(number, index, value, date)
    book.close()


def database(url: str, name: str) -> str:
    return f"{url.rsplit('/', 1)[0]}/{name}"


def admin(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(database(url, "postgres"), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def execute(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def empty_ledger(url: str) -> None:
    execute(url, "TRUNCATE retrofits_household, retrofits_historicalhousehold CASCADE")


def prepare(url: str, folder: Path, env: dict[str, str]) -> dict[str, Path]:
    """The benchmark database with the plan, the three files (kept in `folder` for the next run:
    the synthetic ledger is the same every time) and the city's template database."""
    sys.path.insert(0, str(HERE))
    from common import load_plan, recreate_database, setup_django

    name = url.rsplit("/", 1)[1]
    city = f"{name}_city"
    admin(url, f'DROP DATABASE IF EXISTS "{name}_county"', f'DROP DATABASE IF EXISTS "{city}"')
    recreate_database(url)
    setup_django(url)
    load_plan()
    files = {
        "full": folder / "ledger-209683.xlsx",
        "county": folder / f"ledger-county-{COUNTY_ROWS}.xlsx",
        "rest": folder / f"ledger-rest-{209683 - COUNTY_ROWS}.xlsx",
    }
    if not all(p.exists() for p in files.values()):
        # In a process of its own: the phases are started from this one, and a process started
        # by fork and exec reports, as its peak RSS, at least what this one held at the fork.
        subprocess.run(
            [sys.executable, __file__, "--phase", "files", url, *map(str, files.values())],
            check=True,
            env=env,
        )
    from django.db import connections

    connections.close_all()
    # The city's template: the plan and the other households, as a first load leaves them.
    admin(url, f'CREATE DATABASE "{city}" TEMPLATE "{name}"')
    city_env = {**env, "DATABASE_URL": database(url, city)}
    _, _, said = _run(city_env, "cli", "import_ledger", str(files["rest"]), "--first-load")
    execute(database(url, city), "VACUUM ANALYZE")
    print(f"the city's template: {said.strip()}")
    return files


def compile_project() -> None:
    """The project's bytecode, where the phases' imports look for it (see the module's docstring)."""
    import compileall

    for folder in sorted(p for p in ROOT.iterdir() if (p / "__init__.py").exists()):
        compileall.compile_dir(folder, quiet=1)


def clone_city(url: str) -> str:
    name = url.rsplit("/", 1)[1]
    admin(
        url,
        f'DROP DATABASE IF EXISTS "{name}_county"',
        f'CREATE DATABASE "{name}_county" TEMPLATE "{name}_city"',
    )
    return database(url, f"{name}_county")


# ---------------------------------------------------------------- the rounds


def counts(said: str) -> tuple[int, ...]:
    found = DONE.search(said)
    if not found:
        raise SystemExit(f"the import did not finish: {said[-2000:]}")
    return tuple(int(n) for n in found.groups())


def run_round(
    number: int, url: str, files: dict[str, Path], env: dict[str, str], total: int
) -> dict[str, Any]:
    timed: dict[str, list[float]] = {"raw": [], "unchanged": []}
    peaks: dict[str, tuple[int, int]] = {}

    def cli(kind: str, db_url: str, *args: str) -> tuple[int, ...]:
        seconds, result, said = _run({**env, "DATABASE_URL": db_url}, "cli", "import_ledger", *args)
        timed.setdefault(kind, []).append(seconds)
        old = peaks.get(kind, (0, 0))
        peaks[kind] = (
            max(old[0], result["peak_mb"]),
            max(old[1], result["reader_peak_mb"]),
        )
        return counts(said)

    def raw() -> None:
        seconds, result, _ = _run(env, "raw", url, str(files["full"]))
        assert result["rows"] == total, result
        timed["raw"].append(seconds)

    def raw_county() -> None:
        seconds, result, _ = _run(env, "raw", url, str(files["county"]))
        assert result["rows"] == COUNTY_ROWS, result
        timed.setdefault("county raw", []).append(seconds)

    def fresh(kind: str, *flags: str) -> None:
        empty_ledger(url)
        assert cli(kind, url, str(files["full"]), *flags) == (total, total, 0, 0)
        # The same file again: every row unchanged.
        assert cli("unchanged", url, str(files["full"])) == (total, 0, 0, total)

    def county() -> None:
        county_url = clone_city(url)
        got = cli("county", county_url, str(files["county"]))
        assert got == (COUNTY_ROWS, COUNTY_ROWS, 0, 0), got

    steps = [
        lambda: fresh("first", "--first-load"),
        raw_county,
        county,
        raw_county,  # a county's raw limit drifts as much as the whole file's: timed on each side
        lambda: fresh("regular"),
    ]
    raw()
    for step in steps if number % 2 else steps[::-1]:
        step()
    raw()
    full_raw = statistics.mean(timed["raw"])
    ratios = {
        "first": timed["first"][0] / full_raw,
        "regular": timed["regular"][0] / full_raw,
        "county": timed["county"][0] / statistics.mean(timed["county raw"]),
        "unchanged": statistics.mean(timed["unchanged"]) / full_raw,
    }
    print(
        f"round {number}: raw {'/'.join(f'{s:.1f}' for s in timed['raw'])} s  "
        f"first {timed['first'][0]:.1f} s ({ratios['first']:.2f}x)  "
        f"regular {timed['regular'][0]:.1f} s ({ratios['regular']:.2f}x)  "
        f"unchanged {'/'.join(f'{s:.1f}' for s in timed['unchanged'])} s "
        f"({ratios['unchanged']:.2f}x)  "
        f"county raw {'/'.join(f'{s:.2f}' for s in timed['county raw'])} s, "
        f"county {timed['county'][0]:.2f} s "
        f"({ratios['county']:.2f}x)",
        flush=True,
    )
    return {"seconds": timed, "ratios": ratios, "peaks": peaks}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--files", type=Path, default=Path("/tmp/ledger-bench"), help="kept between runs"
    )
    parser.add_argument("--phase", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.phase:
        kind, *rest = args.phase
        if kind == "files":
            result = phase_files(rest[0], *map(Path, rest[1:]))
        else:
            result = phase_raw(rest[0], Path(rest[1])) if kind == "raw" else phase_cli(rest)
        print(json.dumps(result))
        return

    args.files.mkdir(parents=True, exist_ok=True)
    media = args.files / "media"
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(DEBUG="1", MEDIA_ROOT=str(media), PYTHONPATH=str(ROOT))
    env["DATABASE_URL"] = args.database_url
    started = time.perf_counter()
    compile_project()
    files = prepare(args.database_url, args.files, env)
    sizes = ", ".join(f"{k} {p.stat().st_size / 1e6:.1f} MB" for k, p in files.items())
    print(f"prepared in {time.perf_counter() - started:.0f} s: {sizes}", flush=True)
    total = 209683

    rounds = []
    for number in range(1, args.rounds + 1):
        rounds.append(run_round(number, args.database_url, files, env, total))
        subprocess.run(["rm", "-rf", str(media)], check=False)  # the jobs' copies of the files

    def median(key: str) -> float:
        return statistics.median(r["ratios"][key] for r in rounds)

    def seconds(key: str) -> float:
        return statistics.median(s for r in rounds for s in r["seconds"][key])

    print(f"medians of {len(rounds)} rounds (each ratio taken within its round):")
    print(f"  raw limit, calamine + COPY, whole file:   {seconds('raw'):6.2f} s")
    print(f"  raw limit, the county's {COUNTY_ROWS:,} rows:     {seconds('county raw'):6.2f} s")
    met = True
    for key, label in (
        ("first", "first load, --first-load, empty ledger"),
        ("regular", "regular import, empty household table"),
        ("county", f"county's {COUNTY_ROWS:,} into the other 179,683"),
        ("unchanged", "the whole file again, unchanged"),
    ):
        ratio = median(key)
        ok = ratio <= BARS[key]
        met &= ok
        print(
            f"  {label:44s} {seconds(key):6.2f} s  {ratio:.2f}x raw  "
            f"(bar <= {BARS[key]:.1f}x: {'met' if ok else 'NOT met'})"
        )
    for key in ("first", "regular", "county", "unchanged"):
        process = max(r["peaks"][key][0] for r in rounds)
        reader = max(r["peaks"][key][1] for r in rounds)
        ok = process <= PEAK_BAR_MB
        met &= ok
        print(
            f"  peak RSS, {key:9s}: importing process {process} MB "
            f"(bar <= {PEAK_BAR_MB} MB: {'met' if ok else 'NOT met'}), "
            f"sandboxed reader child {reader} MB"
        )
    print("every bar met" if met else "some bar NOT met")


if __name__ == "__main__":
    main()
