"""A first load (a file that more than doubles the ledger, PostgreSQL only) drops the indexes and
constraints, inserts each chunk from a second thread while the next is checked, and builds them again:
the result is the same table, every constraint checked again, and all or nothing as ever.

The store's thread has its own database connection, which sees only committed rows: these tests are
transactional (and run last, see conftest)."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import IntegrityError, connection, transaction

from heating.access import Scope
from retrofits.ledger import importer
from retrofits.ledger import store as ledger_store
from retrofits.ledger.file import read_ledger
from retrofits.models import Household, TenderItem
from retrofits.models.households import household_writer
from tests.ledger_files import IDS, row, xlsx

TABLES = [Household._meta.db_table, Household.history.model._meta.db_table]


@pytest.fixture(autouse=True)
def postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the rebuild is PostgreSQL's; the PostgreSQL pass runs it")


@pytest.fixture
def rebuilds(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Small files count as large loads; the list records each rebuild."""
    calls: list[list[str]] = []
    real = ledger_store.rebuilt_indexes

    @contextmanager
    def recorded(tables: list[str], **options: bool) -> Iterator[None]:
        calls.append(tables)
        with real(tables, **options):
            yield

    monkeypatch.setattr(ledger_store, "BULK_MIN", 1)
    monkeypatch.setattr(importer, "PROGRESS_EVERY", 2)  # chunks of two rows
    monkeypatch.setattr(importer, "FIRST_CHUNK", 2)
    monkeypatch.setattr(ledger_store, "rebuilt_indexes", recorded)
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


EVERYWHERE = Scope(everything=True)


def load(path: Path) -> importer.ImportOutcome:
    return importer.import_ledger(
        read_ledger(path.read_bytes(), path.name),
        user=None,
        source="测试",
        scope=EVERYWHERE,
        first_load=True,
    )


FIRST_LOAD = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@FIRST_LOAD
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


RANDOM_KEYS = {
    "household_id_number_unique",
    "household_head_name",
    "household_completed_desc",
}


def fill_factors() -> dict[str, str]:
    """Each household index's fillfactor where one is set."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, o.option_value FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid, "
            "pg_options_to_table(c.reloptions) o "
            "WHERE i.indrelid = %s::regclass AND o.option_name = 'fillfactor'",
            [Household._meta.db_table],
        )
        return dict(cursor.fetchall())


@FIRST_LOAD
def test_the_indexes_of_random_keys_are_built_with_room_and_a_first_load_keeps_it(
    tmp_path: Path, tender: list[TenderItem], rebuilds: list[list[str]]
) -> None:
    # A county's upload after a first load adds rows anywhere in these four: built 90% full (the
    # default), nearly every leaf page splits.
    assert fill_factors() == dict.fromkeys(RANDOM_KEYS, "70")
    outcome = load(xlsx(tmp_path, households(range(3))))
    assert (outcome.created, rebuilds) == (3, [TABLES])
    assert fill_factors() == dict.fromkeys(RANDOM_KEYS, "70")


@FIRST_LOAD
def test_a_first_load_with_an_error_writes_nothing_and_lists_every_error(
    tmp_path: Path, tender: list[TenderItem], rebuilds: list[list[str]]
) -> None:
    before = schema()
    rows = [row(户编号=f"XF-{i}", 身份证号=IDS[i]) for i in range(5)]
    rows[4].update(实施进度="已验收", 完工日期=dt.date(2023, 9, 30))
    # Only the database finds this one: the rows before it were already inserted.
    outcome = load(xlsx(tmp_path, rows))
    assert [(e.row, e.column) for e in outcome.errors] == [(6, "实施进度")]
    rows[1]["联系电话"] = "999"
    outcome = load(xlsx(tmp_path, rows, name="two.xlsx"))
    assert [(e.row, e.column) for e in outcome.errors] == [(3, "联系电话"), (6, "实施进度")]
    assert outcome.created == 0
    assert not Household.objects.exists()
    assert not Household.history.exists()
    assert schema() == before


def id_number(serial: int) -> str:
    """A valid GB 11643 number of 忻府区, born 1980-01-01, for as many households as a test needs."""
    body = f"14090219800101{serial:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def households(numbers: range) -> list[dict[str, object]]:
    return [row(户编号=f"XF-{i}", 身份证号=id_number(i)) for i in numbers]


@FIRST_LOAD
def test_a_first_load_lists_codes_and_id_numbers_the_file_repeats(
    tmp_path: Path, tender: list[TenderItem], rebuilds: list[list[str]]
) -> None:
    """These checks run while the indexes are built, after every row was written: the unique
    indexes fail on the repeats, and the import lists the rows instead."""
    before = schema()
    rows = households(range(6))
    rows[2]["户编号"] = "XF-0"
    rows[4]["身份证号"] = id_number(1)
    rows[5]["身份证号"] = id_number(5)[:-1] + ("0" if id_number(5)[-1] != "0" else "1")
    outcome = load(xlsx(tmp_path, rows))
    assert [str(e) for e in outcome.errors] == [
        "第4行「户编号」：户编号「XF-0」与第2行重复",
        "第6行「身份证号」：身份证号与第3行重复（一个身份证号只能登记一户）",
        f"第7行「身份证号」：身份证号「{rows[5]['身份证号']}」校验位错误（按 GB 11643 应为 "
        f"{id_number(5)[-1]}）",
    ]
    assert outcome.created == 0
    assert not Household.objects.exists()
    assert not Household.history.exists()
    assert schema() == before


@FIRST_LOAD
def test_a_first_load_whose_last_checks_fail_writes_nothing(
    tmp_path: Path,
    tender: list[TenderItem],
    rebuilds: list[list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(self: importer.RowChecker) -> list[object]:
        raise RuntimeError("checks broke")

    monkeypatch.setattr(importer.RowChecker, "finish", broken)
    switch = sys.getswitchinterval()
    with pytest.raises(RuntimeError, match="checks broke"):
        load(xlsx(tmp_path, households(range(6))))
    assert not Household.objects.exists()
    assert sys.getswitchinterval() == switch


@FIRST_LOAD
def test_a_first_load_beside_households_held_checks_against_them(
    tmp_path: Path, tender: list[TenderItem], rebuilds: list[list[str]]
) -> None:
    load(xlsx(tmp_path, households(range(1))))
    rows = households(range(4))
    rows[0]["备注"] = "改"
    outcome = load(xlsx(tmp_path, rows, name="more.xlsx"))
    assert (outcome.created, outcome.updated, outcome.errors) == (3, 1, [])
    assert len(rebuilds) == 2
    assert Household.objects.get(code="XF-0").notes == "改"

    # Nine rows against four held: a first load again, one of its new rows with XF-0's ID number.
    taken = [*households(range(1, 9)), row(户编号="XF-99", 身份证号=id_number(0))]
    outcome = load(xlsx(tmp_path, taken, name="taken.xlsx"))
    assert len(rebuilds) == 3
    assert [str(e) for e in outcome.errors] == [
        f"第10行「身份证号」：身份证号「{id_number(0)}」已登记在户编号 XF-0（一个身份证号只能登记一户）"
    ]
    assert Household.objects.count() == 4


@FIRST_LOAD
def test_a_failing_store_fails_the_import_and_writes_nothing(
    tmp_path: Path,
    tender: list[TenderItem],
    rebuilds: list[list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(self: ledger_store.LedgerStore, rows: list[ledger_store.CheckedRow]) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(ledger_store.LedgerStore, "copy_new", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        load(xlsx(tmp_path, [row(户编号=f"XF-{i}", 身份证号=IDS[i]) for i in range(6)]))
    assert not Household.objects.exists()


@FIRST_LOAD
def test_a_load_of_up_to_twice_the_ledger_keeps_the_indexes(
    tmp_path: Path, tender: list[TenderItem], rebuilds: list[list[str]]
) -> None:
    load(xlsx(tmp_path, households(range(3))))
    rebuilds.clear()
    outcome = load(xlsx(tmp_path, households(range(3, 9)), name="six.xlsx"))  # not over twice 3
    assert outcome.created == 6
    assert rebuilds == []


@FIRST_LOAD
def test_a_large_update_from_the_second_thread_lists_every_error(
    tmp_path: Path, tender: list[TenderItem], rebuilds: list[list[str]]
) -> None:
    """Not a first load, but stored by the second thread: the file's last checks and the
    database's own are both listed, and nothing is written."""
    load(xlsx(tmp_path, households(range(4))))
    rows = households(range(3))
    rows[0]["备注"] = "改"
    rows.append(row(户编号="XF-9", 身份证号=id_number(3)))  # held by XF-3
    rows.append(row(户编号="XF-2", 身份证号=id_number(7)))  # the file's second XF-2
    outcome = load(xlsx(tmp_path, rows, name="update.xlsx"))
    assert [str(e) for e in outcome.errors] == [
        f"第5行「身份证号」：身份证号「{id_number(3)}」已登记在户编号 XF-3（一个身份证号只能登记一户）",
        "第6行「户编号」：户编号「XF-2」与第4行重复",
    ]
    assert rebuilds == [TABLES]  # the first load only
    assert Household.objects.get(code="XF-0").notes == ""
    assert Household.objects.count() == 4


@pytest.mark.django_db
def test_the_rebuilt_constraints_are_checked_again(tender: list[TenderItem]) -> None:
    before = schema()
    columns = (
        "code, county_id, township_id, village_id, head_name, id_number, phone, area, "
        "path, stage, low_income, notes, created_at, updated_at"
    )
    with (
        pytest.raises(IntegrityError),
        transaction.atomic(),
        ledger_store.rebuilt_indexes(TABLES),
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


@FIRST_LOAD
def test_only_an_administrators_explicit_first_load_drops_the_indexes(
    tmp_path: Path, tender: list[TenderItem], rebuilds: list[list[str]]
) -> None:
    """A county's upload, however large against the ledger, holds no table for the whole city."""
    from django.core.management import CommandError, call_command

    from heating.models import County, Role, User
    from retrofits.ledger.jobs import ledger_import_file

    official = User.objects.create(
        username="xf", role=Role.COUNTY, county=County.objects.get(short_name="忻府区")
    )
    path = xlsx(tmp_path, [row(户编号=f"XF-{i}", 身份证号=IDS[i]) for i in range(3)])
    _, outcome = ledger_import_file(data=path.read_bytes(), name=path.name, user=official)
    assert outcome is not None and outcome.created == 3
    assert rebuilds == []
    with pytest.raises(CommandError, match="只能由系统管理员运行"):
        call_command("import_ledger", str(path), "--first-load", "--user", "xf")

    Household.history.all().delete()
    with household_writer():
        Household.objects.all().delete()
    call_command("import_ledger", str(path), "--first-load", stdout=sys.stdout)
    assert rebuilds == [TABLES]
    assert Household.objects.count() == 3


@FIRST_LOAD
def test_a_first_load_counts_its_figures_in_its_own_transaction(
    tmp_path: Path, tender: list[TenderItem], rebuilds: list[list[str]]
) -> None:
    """A run of the households it wrote, committed with them (nothing counted after the commit),
    equal to a whole count, whatever the latest run held."""
    from heating.models import County
    from retrofits.models import RollupRun
    from retrofits.services.rollups import rollup_run
    from tests.ledger_files import id_number as numbered
    from tests.ledger_files import yuanping_row
    from tests.test_rollup import figures

    load(xlsx(tmp_path, households(range(3))))
    stale = rollup_run()  # of households then removed: figures a first load must not add to
    Household.history.all().delete()
    with household_writer():
        Household.objects.all().delete()
    rows = [
        *households(range(3, 6)),
        row(户编号="XF-6", 身份证号=id_number(6), 实施进度="已完工", 完工日期="2023-10-02"),
        row(户编号="XF-7", 身份证号=id_number(7), 设备型号="XR-3000"),  # no heat pump, no reason
        yuanping_row(户编号="YP-1", 身份证号=numbered(1, "140981")),
    ]
    outcome = load(xlsx(tmp_path, rows, name="first.xlsx"))
    assert (outcome.created, outcome.counted, len(rebuilds)) == (6, True, 2)
    run = RollupRun.objects.latest_complete()
    assert run is not None and run.pk != stale.pk
    assert run.households == Household.objects.count() == 6
    assert run.electric_other[str(County.objects.get(short_name="忻府区").pk)] == [1, 1]
    assert figures(run) == figures(rollup_run())


@FIRST_LOAD
def test_a_first_load_lets_a_run_of_the_figures_that_began_first_read_the_households(
    tmp_path: Path, tender: list[TenderItem], rebuilds: list[list[str]]
) -> None:
    """A run reads the households under the runs' lock. A first load that held the household
    tables first and asked for that lock at the end, to count its figures, would wait for the run
    while the run waited for the tables: a deadlock, one of the two killed. It asks first."""
    import threading
    import time

    from retrofits.services.rollups import lock_runs

    read: list[int] = []
    locked = threading.Event()

    def run() -> None:
        try:
            with transaction.atomic():
                lock_runs()
                locked.set()
                with connection.cursor() as cursor:
                    for _ in range(200):  # until the first load waits for the lock
                        cursor.execute(
                            "SELECT EXISTS (SELECT 1 FROM pg_locks "
                            "WHERE locktype = 'advisory' AND NOT granted)"
                        )
                        if cursor.fetchone()[0]:
                            break
                        time.sleep(0.05)
                read.append(Household.objects.count())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert locked.wait(10)
        outcome = load(xlsx(tmp_path, households(range(3))))
    finally:
        thread.join()
    assert (outcome.created, outcome.counted, read) == (3, True, [0])
