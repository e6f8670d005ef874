"""Shared test set-up: the real reference data and 2023 targets in every test database, and the
standard actors (a municipal user, two county officials of different counties, an inspector, an
administrator)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from pytest_django.fixtures import Settings
from pytest_django.plugin import DjangoDbBlocker

from energy_supply.demo import supply_everywhere
from heating.models import County, PlanYear, Role, User
from heating.resources import TargetBreakdownResource, TaskBreakdownXLSX
from heating.services import divisions_load, plan_years_load, user_create
from retrofits.models import TenderItem

TABLE_2023 = settings.FIXTURES_DIR / "plans" / "task-breakdown-2023.xlsx"
PASSWORD = "correct-horse-battery"


def load_table(path: Path, year: int = 2023) -> None:
    dataset = TaskBreakdownXLSX().create_dataset(path.read_bytes())
    result = TargetBreakdownResource(plan_year=PlanYear.objects.get(year=year)).import_data(dataset)
    assert not result.has_validation_errors()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Iterator[None]:
    with django_db_blocker.unblock():
        divisions_load(directory=settings.FIXTURES_DIR / "divisions")
        plan_years_load(directory=settings.FIXTURES_DIR / "plans")
        load_table(TABLE_2023)
        # The supply the plan wants before any works (电网改造前置, 以气定改): tests of those rules
        # take it away where they need to.
        supply_everywhere(season=2023, minimum=1000)
        # Transactional tests (serialized_rollback=True) empty the database when they end; this is
        # what they restore before they start, so every one of them sees the reference data.
        connection._test_serialized_contents = connection.creation.serialize_db_to_string()  # type: ignore[attr-defined]
    yield


@pytest.fixture(autouse=True)
def test_settings(settings: Settings, tmp_path: Path) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"  # uploads never land in the checkout
    settings.ROLLUP_DEBOUNCE_SECONDS = 0  # a write's count runs at once, in the test
    cache.clear()  # figures kept for one test's database are not another's


@pytest.fixture
def tender(db: None) -> list[TenderItem]:
    """A small tender list: two 煤改电 models and one 煤改气 model."""
    return [
        TenderItem.objects.create(
            category="空气源热泵",
            path="electric",
            model="KRS-8P",
            vendor="甲公司",
            rated_power_kw=8,
            unit_price=20000,
        ),
        TenderItem.objects.create(
            category="蓄热式电暖器",
            path="electric",
            model="XR-3000",
            vendor="乙公司",
            rated_power_kw=3,
            unit_price=3600,
        ),
        TenderItem.objects.create(
            category="燃气壁挂炉",
            path="gas",
            model="BG-20",
            vendor="丙公司",
            rated_power_kw=20,
            unit_price=5600,
        ),
    ]


def county(short_name: str) -> County:
    return County.objects.get(short_name=short_name)


@pytest.fixture
def municipal(db: None) -> User:
    return user_create(
        username="shi", password=PASSWORD, role=Role.MUNICIPAL, organisation="忻州市能源局"
    )


@pytest.fixture
def official(db: None) -> User:
    """A county official of 忻府区."""
    return user_create(
        username="xinfu", password=PASSWORD, role=Role.COUNTY, county=county("忻府区")
    )


@pytest.fixture
def other_official(db: None) -> User:
    """A county official of 原平市."""
    return user_create(
        username="yuanping", password=PASSWORD, role=Role.COUNTY, county=county("原平市")
    )


@pytest.fixture
def inspector(db: None) -> User:
    """An inspector for 忻府区 and 定襄县."""
    return user_create(
        username="yanshou",
        password=PASSWORD,
        role=Role.INSPECTOR,
        counties=[county("忻府区"), county("定襄县")],
    )


@pytest.fixture
def administrator(db: None) -> User:
    return user_create(username="root", password=PASSWORD, role=Role.ADMIN)


def login(client: Client, user: User) -> Client:
    client.force_login(user)
    return client
