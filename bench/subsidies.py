"""Benchmark: the subsidies at the whole demo city, on PostgreSQL.

    .venv/bin/python bench/subsidies.py [--scale 1.0] [--rounds 3] [--use-rows 1000000]
        [--database-url postgres://postgres@127.0.0.1:5432/helper_d_bench] [--reuse]

A fresh database (dropped and created again unless --reuse) gets the 2023 plan and the demo city
(generate_households, whose subsidy step loads the demo policies, meter accounts and a season of
use). Then, each round:

  compute   subsidy_compute --year 2023 into an empty entitlement table, against the raw limit: the
            same rows written into that table by one hand-written INSERT … SELECT (no merge,
            no clawbacks, no temporary table). Bar: ≤ 3×.
  use       a metered-use CSV of --use-rows rows (every registered account's five months, the rest
            customers outside the programme, as an area's export is) through import_metered_use,
            against the raw limit: csv.reader over the same file and COPY of its rows into a
            scratch table. Bar: ≤ 2.5×. Run in a child process each, to report its peak RSS.
  export    subsidy_export of every entitlement: time and the child's peak RSS (constant memory:
            the rows are streamed; the 一卡通 roster will be written the same way).

Medians over the rounds are compared to the bars; the machine is shared, so min and max are shown.
"""

from __future__ import annotations

import argparse
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
sys.path.insert(0, str(HERE.parent))

from bench.common import load_plan, recreate_database, setup_django  # noqa: E402

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/helper_d_bench"

# The raw limit of the computation: the template's formula in one statement, both kinds, written
# into the same table with its keys and constraints (committed: the foreign keys are checked then).
# The bench may name the household table; the product reads it through the ORM.
RAW = """
INSERT INTO subsidies_entitlement (household_id, county_id, kind, season, policy_id, use,
  amount_fen, city_fen, county_fen, status, computed_at)
WITH p AS (
  SELECT id, county_id, path, kind, method,
         CAST(ROUND(COALESCE(rate, 0) * 10000) AS BIGINT) AS rate_u,
         CAST(ROUND(COALESCE(amount, 0) * 100) AS BIGINT) AS amount_fen,
         CAST(ROUND(free_use * 100) AS BIGINT) AS free_c,
         CAST(ROUND(cap * 100) AS BIGINT) AS cap_fen,
         CAST(ROUND(low_income_bonus * 100) AS BIGINT) AS bonus_fen,
         CAST(ROUND(city_share * 10000) AS BIGINT) AS share_u
  FROM subsidies_policy WHERE plan_year_id = 2023
),
h AS (
  SELECT h.id, h.county_id, h.path, h.low_income, h.plan_year_id,
         CAST(ROUND(t.unit_price * 100) AS BIGINT) AS price_fen
  FROM retrofits_household h LEFT JOIN retrofits_tenderitem t ON t.id = h.equipment_id
  WHERE h.stage = 'accepted' AND h.plan_year_id <= 2023
),
used AS (
  SELECT a.household_id, a.kind, CAST(SUM(CAST(ROUND(r.use * 100) AS BIGINT)) AS BIGINT) AS use_c
  FROM subsidies_meterreading r JOIN subsidies_meteraccount a ON a.id = r.account_id
  WHERE r.end_date BETWEEN %s AND %s GROUP BY a.household_id, a.kind
),
chosen AS (
  SELECT h.id AS h_id, h.county_id AS h_county, h.path, h.low_income, h.plan_year_id,
         h.price_fen, p.id AS policy_id, p.kind, p.method,
         p.rate_u, p.amount_fen, p.free_c, p.cap_fen, p.bonus_fen, p.share_u
  FROM h JOIN p ON p.path = h.path AND (p.county_id = h.county_id OR
    (p.county_id IS NULL AND NOT EXISTS (SELECT 1 FROM p o WHERE o.path = p.path
     AND o.kind = p.kind AND o.county_id = h.county_id)))
),
based AS (
  SELECT c.h_id, c.h_county, c.policy_id, CAST(NULL AS BIGINT) AS use_c, c.kind, c.share_u,
         c.bonus_fen, c.low_income,
         LEAST(CASE WHEN c.method = 'ratio' THEN (c.price_fen * c.rate_u + 5000) / 10000
                    ELSE c.amount_fen END, c.cap_fen) AS base
  FROM chosen c
  WHERE c.kind = 'equipment' AND c.plan_year_id = 2023
    AND NOT (c.method = 'ratio' AND c.price_fen IS NULL)
  UNION ALL
  SELECT c.h_id, c.h_county, c.policy_id, u.use_c, c.kind, c.share_u, c.bonus_fen,
         c.low_income,
         LEAST((GREATEST(u.use_c - c.free_c, 0) * c.rate_u + 5000) / 10000, c.cap_fen)
  FROM chosen c
  JOIN used u ON u.household_id = c.h_id AND u.kind = c.path
  WHERE c.kind = 'running'
)
SELECT h_id, h_county, kind, 2023, policy_id, use_c::numeric / 100, amount,
       (amount * share_u + 5000) / 10000, amount - (amount * share_u + 5000) / 10000,
       'unpaid', now()
FROM (
  SELECT h_id, h_county, policy_id, use_c, kind, share_u,
         base + CASE WHEN base > 0 AND low_income THEN bonus_fen ELSE 0 END AS amount
  FROM based) a
WHERE amount > 0
"""

# Both writers' rows compared: how many, the amounts, the splits, and which household got what.
CHECKSUM = (
    "SELECT COUNT(*), SUM(amount_fen), SUM(city_fen), SUM(household_id * amount_fen),"
    " SUM(CASE WHEN kind = 'running' THEN household_id * ROUND(use * 100) END)"
    " FROM subsidies_entitlement"
)


def child(args: list[str]) -> dict[str, Any]:
    """Run one phase in a fresh process: its seconds and peak RSS (MB)."""
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def peak_mb() -> float:
    """The process's own peak (VmHWM): getrusage's ru_maxrss would carry the parent's over."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def phase(name: str, url: str, path: str) -> None:
    setup_django(url)
    from django.core.management import call_command
    from django.db import connection

    quiet = open(os.devnull, "w")  # noqa: SIM115
    started = time.perf_counter()
    if name == "use":
        call_command("import_metered_use", path, stdout=quiet)
    elif name == "raw-use":
        import csv

        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_raw_use")
            cursor.execute(
                "CREATE UNLOGGED TABLE bench_raw_use (number text, kind text, start_date date,"
                " end_date date, use numeric(14, 2))"
            )
            with (
                open(path, newline="", encoding="utf-8") as source,
                cursor.cursor.copy("COPY bench_raw_use FROM STDIN") as copy,
            ):
                rows = csv.reader(source)
                next(rows)
                for row in rows:
                    copy.write_row(row)
    elif name == "export":
        call_command("subsidy_export", "--year", "2023", "--out", path, stdout=quiet)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb()}))


def use_file(path: Path, rows: int) -> int:
    """Every registered account's five months, then outsiders up to `rows`."""
    import csv
    import datetime as dt

    from subsidies.demo import months
    from subsidies.models import MeterAccount

    periods = list(months(2023, dt.date(2024, 4, 30)))
    written = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["户号", "计量类型", "起始日期", "截止日期", "用量"])
        for number, kind in MeterAccount.objects.values_list("number", "kind").iterator():
            label = "电" if kind == "electric" else "气"
            for start, end, share in periods:
                writer.writerow([number, label, start, end, f"{1000 * share:.2f}"])
                written += 1
        n = 0
        while written < rows:
            start, end, share = periods[n % len(periods)]
            writer.writerow([f"OUT{n // len(periods):08d}", "电", start, end, f"{800 * share:.2f}"])
            n += 1
            written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--use-rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=DEFAULT_PG)
    parser.add_argument("--reuse", action="store_true", help="keep the database of a last run")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase(args.phase, args.database_url, args.path)
        return

    if not args.reuse:
        recreate_database(args.database_url)
    setup_django(args.database_url)
    from django.core.management import call_command
    from django.db import connection, transaction

    from heating.models import PlanYear
    from subsidies.services import subsidy_compute
    from subsidies.services.compute import RUNNING_HOLDS

    if not args.reuse:
        load_plan()
        started = time.perf_counter()
        call_command("generate_households", scale=args.scale, stdout=open(os.devnull, "w"))  # noqa: SIM115
        print(f"demo city at scale {args.scale}: {time.perf_counter() - started:.0f} s")
    season = PlanYear.objects.get(year=2023).heating_season()

    def empty() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM subsidies_batchline")
            cursor.execute("DELETE FROM subsidies_clawback")
            cursor.execute("DELETE FROM subsidies_entitlement")

    figures: dict[str, list[float]] = {k: [] for k in ("compute", "raw", "use", "raw-use")}
    peaks: dict[str, list[float]] = {"use": [], "raw-use": [], "export": []}
    export_seconds: list[float] = []
    with tempfile.TemporaryDirectory() as scratch:
        csv_path = Path(scratch) / "use.csv"
        rows = use_file(csv_path, args.use_rows)
        print(f"metered-use file: {rows:,} rows, {csv_path.stat().st_size / 2**20:.0f} MB")
        for n in range(args.rounds):
            # An empty table before each: every row inserted, as a first run of the season.
            empty()
            with connection.cursor() as cursor:  # autocommit: the statement and its commit
                started = time.perf_counter()
                cursor.execute(RAW, [season.start, season.end])
                # The running subsidies other apps withhold (回头看's 散煤复烧), as the engine does.
                held = sorted(set().union(*(hold(2023) for hold in RUNNING_HOLDS)))
                if held:
                    cursor.execute(
                        "DELETE FROM subsidies_entitlement WHERE kind = 'running'"
                        " AND household_id = ANY(%s)",
                        [held],
                    )
                figures["raw"].append(time.perf_counter() - started)
                cursor.execute(CHECKSUM)
                raw = cursor.fetchone()
            empty()
            started = time.perf_counter()
            outcome = subsidy_compute(year=2023)
            figures["compute"].append(time.perf_counter() - started)
            with connection.cursor() as cursor:
                cursor.execute(CHECKSUM)
                mine = cursor.fetchone()
            assert raw == mine, (raw, mine)  # the same rows, to the fen
            for name in ("use", "raw-use"):
                got = child(
                    ["--phase", name, "--database-url", args.database_url, "--path", str(csv_path)]
                )
                figures[name].append(got["seconds"])
                peaks[name].append(got["peak_mb"])
            got = child(
                ["--phase", "export", "--database-url", args.database_url,
                 "--path", str(Path(scratch) / "export.xlsx")]
            )  # fmt: skip
            export_seconds.append(got["seconds"])
            peaks["export"].append(got["peak_mb"])
            print(
                f"round {n + 1}: compute {figures['compute'][-1]:.2f} s (raw {figures['raw'][-1]:.2f} s,"
                f" {mine[0]:,} entitlements, {outcome.created:,} created); use {figures['use'][-1]:.2f} s"
                f" (raw {figures['raw-use'][-1]:.2f} s); export {export_seconds[-1]:.2f} s"
            )

    def ratio(a: str, b: str) -> tuple[float, float, float]:
        each = [x / y for x, y in zip(figures[a], figures[b], strict=True)]
        return statistics.median(each), min(each), max(each)

    compute, use = ratio("compute", "raw"), ratio("use", "raw-use")
    print(
        f"subsidy_compute / raw INSERT … SELECT: {compute[0]:.2f} (rounds {compute[1]:.2f}–{compute[2]:.2f}), bar 3"
    )
    print(
        f"import_metered_use / raw parse + COPY: {use[0]:.2f} (rounds {use[1]:.2f}–{use[2]:.2f}), bar 2.5"
    )
    print(
        f"peak RSS: use {max(peaks['use']):.0f} MB, raw {max(peaks['raw-use']):.0f} MB;"
        f" export {statistics.median(export_seconds):.2f} s, {max(peaks['export']):.0f} MB"
    )


if __name__ == "__main__":
    main()
