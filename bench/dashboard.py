"""Benchmark: rollups and the dashboard, API and household list at a million households (PostgreSQL).

    .venv/bin/python bench/dashboard.py [--database-url postgres://postgres@127.0.0.1:5432/heating_bench_1m]
                                        [--households 1000000] [--keep]

It (re)creates the database unless --keep finds it filled, loads the 2023 plan, generates the synthetic
households through the ledger import, then times in one run:
  - the rollup against a raw GROUP BY over the same table (target: rollup <= 2 x raw);
  - the city dashboard, a county dashboard and /api/progress through Django's test client
    (targets: p50 <= 50 ms, p95 <= 150 ms);
  - the household list with filters and searches as people type (target: p95 <= 150 ms).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import load_plan, recreate_database, setup_django

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/heating_bench_1m"


def prepare(url: str, households: int, keep: bool) -> None:
    if keep:
        try:
            setup_django(url)
            from django.core.management import call_command

            from retrofits.models import Household

            call_command("migrate", verbosity=0)
            if Household.objects.count() >= households * 0.99:
                print(f"kept {Household.objects.count()} households")
                return
        except Exception as exc:  # no such database yet
            sys.exit(f"--keep: {exc}; run once without --keep")
    recreate_database(url)
    setup_django(url)
    load_plan(supply_scale=households / 209683)
    from django.core.management import call_command

    started = time.perf_counter()
    with open(os.devnull, "w") as quiet:
        call_command("generate_households", "--scale", str(households / 209683), stdout=quiet)
    print(f"generated households in {time.perf_counter() - started:.0f} s")


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return times


def p(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    prepare(args.database_url, args.households, args.keep)

    from django.db import connection, reset_queries
    from django.test import Client

    from heating.models import County, Role, User
    from heating.services import user_create
    from retrofits.models import Household
    from retrofits.services.rollups import rollup_run

    total = Household.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE retrofits_household")

    def raw() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT county_id, township_id, village_id, path, area, stage, COUNT(*) "
                "FROM retrofits_household GROUP BY county_id, township_id, village_id, path, area, stage"
            )
            cursor.fetchall()

    rollup_run()  # warm
    raw_ms = statistics.median(timed(raw, 5))
    rollup_ms = statistics.median(timed(rollup_run, 5))
    print(f"households: {total}")
    print(
        f"raw GROUP BY: {raw_ms:7.0f} ms   rollup: {rollup_ms:7.0f} ms   ratio {rollup_ms / raw_ms:.2f} (target <= 2)"
    )

    users = {}
    for name, role, county in (
        ("bench-city", Role.MUNICIPAL, None),
        ("bench-yuanping", Role.COUNTY, "原平市"),
    ):
        # A kept database has them from the last run: users are never deleted once their pages
        # were looked at (the personal-data log points at them).
        users[name] = User.objects.filter(username=name).first() or user_create(
            username=name,
            password="x-Long-pass-1",
            role=role,
            county=County.objects.get(short_name=county) if county else None,
        )
    yuanping = County.objects.get(short_name="原平市")

    def page_times(user: str, url: str, repeat: int = 40) -> list[float]:
        client = Client()
        client.force_login(users[user])
        client.get(url)  # warm

        def get() -> None:
            reset_queries()
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)

        return timed(get, repeat)

    checks = [
        ("city dashboard", "bench-city", "/dashboard/"),
        ("county page", "bench-yuanping", f"/counties/{yuanping.pk}/"),
        ("API /api/progress", "bench-city", "/api/progress?year=2023"),
    ]
    for label, user, url in checks:
        times = page_times(user, url)
        print(
            f"{label:22} p50 {p(times, 0.5):6.0f} ms  p95 {p(times, 0.95):6.0f} ms  (targets 50 / 150)"
        )

    lists = [
        ("bench-city", "/households/"),
        ("bench-city", "/households/?stage=completed"),
        ("bench-city", "/households/?path=electric&area=rural&low_income=true"),
        ("bench-city", "/households/?order=-completed_on"),
        ("bench-yuanping", "/households/"),
        ("bench-yuanping", "/households/?stage=building&order=-code"),
        ("bench-yuanping", "/households/?q=张伟"),
        ("bench-city", "/households/?q=傅"),  # as people type: a surname
        ("bench-yuanping", "/households/?q=2023"),  # a code's tail, an ID number's last digits
        ("bench-yuanping", "/households/?q=000123"),
        ("bench-yuanping", "/households/?page=100"),
    ]
    all_times: list[float] = []
    for user, url in lists:
        times = page_times(user, url, repeat=15)
        all_times += times
        print(f"list {url:52} p50 {p(times, 0.5):6.0f} ms  p95 {p(times, 0.95):6.0f} ms")
    print(
        f"household list, all filters: p50 {p(all_times, 0.5):.0f} ms  p95 {p(all_times, 0.95):.0f} ms (target p95 <= 150)"
    )


if __name__ == "__main__":
    main()
