"""Benchmark: a 10,000-row gas-network file (燃气管网工程) imported through the web, end to end, on
SQLite and on PostgreSQL.

    .venv/bin/python bench/supply_import.py [--rounds 5] [--rows 10000] [--households 0.05]
        [--databases sqlite,postgres]
        [--database-url postgres://postgres@127.0.0.1:5432/supply_bench]

Each database gets a fresh copy (a SQLite file in a temporary folder; the PostgreSQL database of
--database-url, dropped and created again) with the 2023 plan, the demo supply (a ready network in
every township) and the demo households (--households × the city, so that the supply rules have
households to ask about), in a process of its own.

What is timed is in-process and end to end, as under `make run` (no REDIS_URL: Celery runs the
task in the calling process): Django's test client posts the file to /supply/networks/import/ as
the bureau's user, the view keeps the file and queues the job, the job reads the file (in the
sandboxed reader's child process), checks every row and writes it, and the client opens the job's
page, which shows it finished. Each round times three uploads of a file of new codes (a new
prefix each round, villages across the whole city, written as Excel writes a workbook):
  dry run   只检查，不写入: every check and the supply rules, rolled back;  bar <= 5 s
  import    the same file written: 10,000 works created with their history rows;
  changed   the file again with every length changed and every other works taken back from
            已通气 to 施工中: 10,000 updates with history, the withdrawal rule asked for 5,000.
The median over the rounds is the figure compared to the bar; the minimum and maximum are shown
because the machine is shared.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/supply_bench"
BAR_SECONDS = 5.0
PHASES = ("dry run", "import", "changed")


def network_file(path: Path, prefix: str, rows: int, *, changed: bool = False) -> None:
    """Gas networks in the template's columns, a village each in turn across the city, written
    as Excel writes a workbook (XlsxWriter without constant_memory: a shared strings table)."""
    import xlsxwriter

    from energy_supply.sheets import NETWORK
    from heating.models import Village

    villages = list(
        Village.objects.select_related("township__county").order_by("township__code", "code")
    )
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet(NETWORK.name)
    date = book.add_format({"num_format": "yyyy-mm-dd"})
    for index, column in enumerate(NETWORK.columns):
        sheet.write_string(0, index, column.header)
    for number in range(1, rows + 1):
        village = villages[number % len(villages)]
        back = changed and number % 2 == 0
        cells = [
            f"{prefix}-{number:05d}",
            village.township.county.short_name,
            village.township.name,
            village.name,
            3.5 + (1 if changed else 0),
            f"{village.township.county.short_name}燃气公司",
            "施工中" if back else "已通气",
        ]
        for index, value in enumerate(cells):
            sheet.write(number, index, value)
        if not back:
            sheet.write_datetime(number, len(cells), dt.datetime(2023, 9, 1), date)
    book.close()


def child(url: str, rounds: int, rows: int, households: float, folder: Path) -> dict[str, Any]:
    """One database's rounds, in this process: set up, then the uploads, timed."""
    os.environ["MEDIA_ROOT"] = str(folder / "media")
    os.environ.pop("REDIS_URL", None)  # Celery in-process, as under make run
    sys.path.insert(0, str(HERE))
    from common import load_plan, recreate_database, setup_django

    if url.startswith("postgres"):
        recreate_database(url)
    setup_django(url)
    started = time.perf_counter()
    load_plan()
    from django.core.management import call_command
    from django.test import Client
    from django.urls import resolve, reverse

    from energy_supply.models import GasNetwork, SupplyImport
    from heating.models import Role
    from heating.services import user_create

    if households:
        with open(os.devnull, "w") as quiet:
            call_command("generate_households", "--scale", str(households), stdout=quiet)
    setup = time.perf_counter() - started
    client = Client()
    client.force_login(user_create(username="bench", password="x" * 20, role=Role.MUNICIPAL))

    def upload(path: Path, dry_run: bool) -> tuple[float, SupplyImport]:
        begun = time.perf_counter()
        with path.open("rb") as f:
            data = {"file": f, **({"dry_run": "on"} if dry_run else {})}
            response = client.post(reverse("supply-import", args=["networks"]), data)
        page = client.get(response["Location"])
        seconds = time.perf_counter() - begun
        assert page.status_code == 200 and "hx-get" not in page.content.decode()  # finished
        job = SupplyImport.objects.get(pk=resolve(response["Location"]).kwargs["pk"])
        if job.status != "succeeded":
            raise SystemExit(f"{path.name}: {job.message} {job.errors[:5]}")
        return seconds, job

    times: dict[str, list[float]] = {phase: [] for phase in PHASES}
    for number in range(rounds):
        prefix = f"B{number}"
        new, changed = folder / f"{prefix}.xlsx", folder / f"{prefix}-changed.xlsx"
        network_file(new, prefix, rows)
        network_file(changed, prefix, rows, changed=True)
        seconds, job = upload(new, dry_run=True)
        assert job.created_count == rows and not GasNetwork.objects.filter(code=f"{prefix}-00001")
        times["dry run"].append(seconds)
        seconds, job = upload(new, dry_run=False)
        assert job.created_count == rows
        times["import"].append(seconds)
        seconds, job = upload(changed, dry_run=False)
        assert job.updated_count == rows
        times["changed"].append(seconds)
    from django.db import connection

    version = (
        connection.Database.sqlite_version
        if connection.vendor == "sqlite"
        else (
            connection.cursor().connection.info.server_version  # type: ignore[attr-defined]
        )
    )
    return {
        "database": f"{connection.vendor} {version}",
        "households": households,
        "setup_seconds": round(setup, 1),
        "times": times,
    }


def run_child(name: str, url: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    command = [
        sys.executable, __file__, "--child", url, "--rounds", str(args.rounds),
        "--rows", str(args.rows), "--households", str(args.households), "--folder", str(folder),
    ]  # fmt: skip
    env = {**os.environ, "DEBUG": "1"}
    env.pop("REDIS_URL", None)
    out = subprocess.run(command, capture_output=True, text=True, env=env)
    lines = out.stdout.strip().splitlines()
    if out.returncode or not lines:
        raise SystemExit(f"{name} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def report(name: str, result: dict[str, Any], rows: int) -> bool:
    print(f"\n{name} ({result['database']}; households ×{result['households']}; "
          f"set up in {result['setup_seconds']} s)")  # fmt: skip
    print(f"  {'':10} {'median':>8} {'min':>8} {'max':>8}   rounds (s)")
    ok = True
    for phase, seconds in result["times"].items():
        median = statistics.median(seconds)
        line = f"  {phase:10} {median:8.2f} {min(seconds):8.2f} {max(seconds):8.2f}   "
        line += " ".join(f"{s:.2f}" for s in seconds)
        if phase == "dry run":
            passed = median <= BAR_SECONDS
            ok &= passed
            line += f"   bar {BAR_SECONDS:.0f} s: {'ok' if passed else 'MISSED'}"
        print(line)
    print(f"  ({rows:,} rows; each figure from the POST of the file to its finished job page)")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--households", type=float, default=0.05)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--database-url", default=DEFAULT_PG)
    parser.add_argument("--child")
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    if args.child:
        result = child(args.child, args.rounds, args.rows, args.households, args.folder)
        print(json.dumps(result))
        return
    ok = True
    for name in args.databases.split(","):
        with tempfile.TemporaryDirectory(prefix="supply-bench-") as folder:
            url = args.database_url if name == "postgres" else f"sqlite:///{folder}/bench.sqlite3"
            result = run_child(name, url, args, Path(folder))
        ok &= report(name, result, args.rows)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
