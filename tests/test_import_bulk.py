"""A load that more than doubles the ledger drops the indexes and constraints, writes, and builds
them again (PostgreSQL only): the result is the same table, every constraint checked again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import IntegrityError, connection, transaction

from retrofits import importer
from retrofits.ledger import read_ledger
from retrofits.models import Household, TenderItem
from tests.ledger_files import IDS, row, xlsx

pytestmark = pytest.mark.django_db

TABLES = [Household._meta.db_table, Household.history.model._meta.db_table]


@pytest.fixture(autouse=True)
def postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the rebuild is PostgreSQL's; the PostgreSQL pass runs it")


@pytest.fixture
def rebuilds(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Small files count as large loads; the list records each rebuild."""
    calls: list[list[str]] = []
    real = importer.rebuilt_indexes

    @contextmanager
    def recorded(tables: list[str]) -> Iterator[None]:
        calls.append(tables)
        with real(tables):
            yield

    monkeypatch.setattr(importer, "BULK_MIN", 1)
    monkeypatch.setattr(importer, "rebuilt_indexes", recorded)
    return calls


def schema() -> set[tuple[str, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)",
            [TABLES],
        )
        indexes = {tuple(r) for r in cursor.fetchall()}
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE conrelid = ANY(%s::regclass[])",
            [TABLES],
        )
        return indexes | {tuple(r) for r in cursor.fetchall()}


def load(path: Path) -> importer.ImportOutcome:
    return importer.import_ledger(
        read_ledger(path.read_bytes(), path.name), user=None, source="测试"
    )


def test_a_first_load_rebuilds_and_keeps_every_index_and_constraint(
    tmp_path: Path, tender: list[TenderItem], rebuilds: list[list[str]]
) -> None:
    before = schema()
    rows = [row(户编号=f"XF-{i}", 身份证号=IDS[i]) for i in range(3)]
    outcome = load(xlsx(tmp_path, rows))
    assert (outcome.created, outcome.errors) == (3, [])
    assert rebuilds == [TABLES]
    assert schema() == before
    assert sorted(Household.objects.values_list("code", flat=True)) == ["XF-0", "XF-1", "XF-2"]
    assert list(Household.history.values_list("history_type", flat=True)) == ["+"] * 3


def test_a_small_load_into_a_larger_ledger_goes_row_by_row(
    tmp_path: Path, tender: list[TenderItem], rebuilds: list[list[str]]
) -> None:
    load(xlsx(tmp_path, [row(户编号=f"XF-{i}", 身份证号=IDS[i]) for i in range(3)]))
    rebuilds.clear()
    outcome = load(xlsx(tmp_path, [row(户编号="XF-9", 身份证号=IDS[5])], name="one.xlsx"))
    assert outcome.created == 1
    assert rebuilds == []


def test_the_rebuilt_constraints_are_checked_again(tender: list[TenderItem]) -> None:
    before = schema()
    columns = (
        "code, county_id, township_id, village_id, head_name, id_number, phone, area, "
        "path, stage, low_income, notes, created_at, updated_at"
    )
    with (
        pytest.raises(IntegrityError),
        transaction.atomic(),
        importer.rebuilt_indexes(TABLES),
        connection.cursor() as cursor,
    ):
        # A second household with the same code and ID number, and a village that does not exist:
        # nothing stops the rows now, the rebuilt constraints must.
        for village in ("(SELECT min(id) FROM heating_village)", "-1"):
            cursor.execute(
                f"INSERT INTO {TABLES[0]} ({columns}) SELECT 'DUP', t.county_id, t.id, "
                f"{village}, '张三', %s, '', 'rural', 'district', 'confirmed', false, '', "
                "now(), now() FROM heating_township t LIMIT 1",
                [IDS[0]],
            )
    assert schema() == before
    assert not Household.objects.exists()
