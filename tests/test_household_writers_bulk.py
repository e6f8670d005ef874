"""The plan rules where only PostgreSQL shows them: a first load (its indexes dropped, its rows
written from a second thread) and two imports at once, each on its own connection. Transactional
tests: the connections see only what was committed."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from django.db import connection

from energy_supply.models import GasContract
from heating.access import Scope
from retrofits.choices import Stage
from retrofits.ledger import importer
from retrofits.ledger.file import read_ledger
from retrofits.ledger.importer import ImportOutcome
from retrofits.models import Household, TenderItem
from retrofits.rules import PLAN_RULES
from tests import plan_rules
from tests.ledger_files import IDS, row, xlsx
from tests.test_import_bulk import rebuilds, schema  # noqa: F401 (a fixture, and its check)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(autouse=True)
def postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks and a first load are PostgreSQL's; the PostgreSQL pass runs these")


def building(*numbers: int, prefix: str = "XF") -> list[dict[str, object]]:
    return [row(户编号=f"{prefix}-{i}", 身份证号=IDS[i], 实施进度="施工中") for i in numbers]


EVERYWHERE = Scope(everything=True)


def load(path: Path) -> ImportOutcome:
    return importer.import_ledger(
        read_ledger(path.read_bytes(), path.name),
        user=None,
        source=path.name,
        scope=EVERYWHERE,
        first_load=True,
    )


def at_once(files: dict[str, Path]) -> dict[str, ImportOutcome]:
    """Import the files at the same moment, each from its own thread and connection."""
    start = threading.Barrier(len(files))
    outcomes: dict[str, ImportOutcome] = {}

    def run(name: str) -> None:
        try:
            start.wait()
            outcomes[name] = load(files[name])
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(name,)) for name in files]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_a_first_load_that_breaches_a_plan_rule_writes_nothing(
    tmp_path: Path,
    tender: list[TenderItem],
    rebuilds: list[list[str]],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = schema()
    monkeypatch.setitem(PLAN_RULES, "test", plan_rules.at_most(Stage.BUILDING, 2))
    outcome = load(xlsx(tmp_path, building(0, 1, 2)))
    message = "忻府区施工中及以后的户最多 2 户，写入后为 3 户"
    assert [(e.row, e.column, e.message) for e in outcome.errors] == [
        (2, "实施进度", message),
        (3, "实施进度", message),
        (4, "实施进度", message),
    ]
    assert rebuilds, "the file went the first-load way"
    assert not Household.objects.exists()
    assert schema() == before

    monkeypatch.setitem(PLAN_RULES, "test", plan_rules.at_most(Stage.BUILDING, 3))
    assert load(xlsx(tmp_path, building(0, 1, 2), name="again.xlsx")).created == 3


def test_two_imports_that_each_fit_alone_do_not_both_pass(
    tmp_path: Path, tender: list[TenderItem], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each file brings two households to 施工中 against a limit of three. The rule pauses after
    # counting: without the county lock both imports would count only their own rows there.
    monkeypatch.setitem(PLAN_RULES, "test", plan_rules.at_most(Stage.BUILDING, 3, pause=0.5))
    files = {
        "a": xlsx(tmp_path, building(0, 1, prefix="A"), name="a.xlsx"),
        "b": xlsx(tmp_path, building(2, 3, prefix="B"), name="b.xlsx"),
    }
    outcomes = at_once(files)

    refused = [name for name, outcome in outcomes.items() if outcome.errors]
    assert len(outcomes) == 2 and len(refused) == 1
    (error, *_) = outcomes[refused[0]].errors
    assert error.message == "忻府区施工中及以后的户最多 3 户，写入后为 4 户"
    (passed,) = set(files) - set(refused)
    written = set(Household.objects.values_list("code", flat=True))
    assert written == {"a": {"A-0", "A-1"}, "b": {"B-2", "B-3"}}[passed]


def test_a_first_load_meets_the_change_rules(
    tmp_path: Path,
    tender: list[TenderItem],
    rebuilds: list[list[str]],  # noqa: F811
) -> None:
    rows = building(0, 1, 2)
    rows[1].update(实施进度="已验收", 完工日期=dt.date(2023, 9, 30))
    outcome = load(xlsx(tmp_path, rows))
    assert [(e.row, e.column, e.value, e.message) for e in outcome.errors] == [
        (3, "实施进度", "已验收", "“已验收”只能由验收记录产生")
    ]
    assert rebuilds and not Household.objects.exists()


def test_two_imports_that_each_fit_the_gas_alone_do_not_both_pass(
    tmp_path: Path, tender: list[TenderItem]
) -> None:
    """以气定改 with its real rule: a contract for three, two files of two 煤改气 households each."""
    GasContract.objects.filter(county__short_name="忻府区").update(households=3)
    gas = {"取暖路径": "煤改气", "设备型号": "BG-20", "实施进度": "已选型"}
    files = {
        name: xlsx(
            tmp_path,
            [row(户编号=f"{name}-{i}", 身份证号=IDS[i], **gas) for i in numbers],
            name=f"{name}.xlsx",
        )
        for name, numbers in (("a", (0, 1)), ("b", (2, 3)))
    }
    outcomes = at_once(files)
    refused = [o for o in outcomes.values() if o.errors]
    assert len(outcomes) == 2 and len(refused) == 1
    assert "可保障 3 户，写入后煤改气已选型及以后的户为 4 户" in refused[0].errors[0].message
    assert Household.objects.count() == 2


def test_a_countys_lock_does_not_hold_up_rows_that_only_refer_to_the_county() -> None:
    """Found by bench/deadline_day.py: the county lock was FOR UPDATE, which every foreign-key
    check on a row naming the county (a rollup's counts, an import job) waits for at COMMIT, so
    the city's figures waited seconds for each county's upload. The lock now stops only other
    writers of that county's households."""
    from django.db import transaction

    from heating.models import County
    from retrofits.models import LedgerImport
    from retrofits.rules import lock_counties

    county = County.objects.get(short_name="忻府区")
    locked, release = threading.Event(), threading.Event()

    def writer() -> None:
        try:
            with transaction.atomic():
                lock_counties({county.pk})
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert locked.wait(10)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '1s'")
            LedgerImport.objects.create(file="a.xlsx", original_name="a.xlsx", county=county)
    finally:
        release.set()
        thread.join()
    assert LedgerImport.objects.filter(county=county).exists()
