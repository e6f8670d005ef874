"""What the benchmarks share: a fresh PostgreSQL database holding the 2023 plan."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heating.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def recreate_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def load_plan(*, supply_scale: float = 1.0) -> None:
    """Migrate, then the divisions, the 2023 targets, the demo tender list and supply for
    `supply_scale` × the targets (works everywhere, the gas contracted), so that the plan's supply
    rules let the synthetic ledger in."""
    from django.conf import settings
    from django.core.management import call_command

    quiet = open(os.devnull, "w")  # noqa: SIM115
    call_command("migrate", verbosity=0)
    call_command("load_reference", stdout=quiet)
    call_command(
        "import_targets",
        str(settings.FIXTURES_DIR / "plans/task-breakdown-2023.xlsx"),
        year=2023,
        stdout=quiet,
    )
    call_command(
        "import_tender", str(settings.FIXTURES_DIR / "demo/tender-list-demo.csv"), stdout=quiet
    )
    from energy_supply.demo import supply_everywhere

    supply_everywhere(season=2023, scale=supply_scale)
