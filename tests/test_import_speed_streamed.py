"""A large regular import of new households is written while it is checked: each chunk's
households are copied straight into the ledger, in the import's one transaction, under the locks of
the counties the chunks bring, until a chunk brings a code or ID number the ledger holds (from
there on, the staged way); and the foreign keys of what an import writes are checked
by the import itself, a statement a key, where PostgreSQL lets it turn the rows' triggers off. The
result is the staged way's: the same rows, history and errors, all or nothing.

PostgreSQL only (the PostgreSQL pass runs these); transactional, as the store writes from its own
thread and connection."""

from __future__ import annotations

import datetime as dt
import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from heating.access import Scope
from heating.models import County, User
from retrofits import tasks
from retrofits.choices import Stage
from retrofits.ledger import importer
from retrofits.ledger import store as ledger_store
from retrofits.ledger.file import read_ledger
from retrofits.ledger.store import FIELDS
from retrofits.models import Household, LedgerImport, RollupRun, TenderItem
from retrofits.rules import PLAN_RULES, lock_counties
from retrofits.services.rollups import rollup_run
from tests import plan_rules
from tests.conftest import login
from tests.ledger_files import id_number, row, xlsx, yuanping_row
from tests.test_rollup import figures

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(autouse=True)
def postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the streamed write is PostgreSQL's; the PostgreSQL pass runs it")


@pytest.fixture
def copied(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Small files count as large ones, in chunks of two rows; the list counts the rows copied
    straight into the ledger."""
    rows: list[int] = []
    real = ledger_store.LedgerStore.copy_new

    def counted(self: ledger_store.LedgerStore, chunk: list[ledger_store.CheckedRow]) -> int:
        done = real(self, chunk)
        rows.append(len(chunk))
        return done

    monkeypatch.setattr(ledger_store, "BULK_MIN", 1)
    monkeypatch.setattr(importer, "PROGRESS_EVERY", 2)
    monkeypatch.setattr(importer, "FIRST_CHUNK", 2)
    monkeypatch.setattr(ledger_store.LedgerStore, "copy_new", counted)
    return rows


def households(numbers: range, prefix: str = "XF") -> list[dict[str, object]]:
    return [row(户编号=f"{prefix}-{i}", 身份证号=id_number(i)) for i in numbers]


def yuanping_households(numbers: range) -> list[dict[str, object]]:
    return [yuanping_row(户编号=f"YP-{i}", 身份证号=id_number(i, "140981")) for i in numbers]


def load(path: Path) -> importer.ImportOutcome:
    return importer.import_ledger(
        read_ledger(path.read_bytes(), path.name),
        user=None,
        source=path.name,
        scope=Scope(everything=True),
    )


def test_a_large_import_into_an_empty_ledger_is_copied_in_as_it_is_checked(
    tmp_path: Path, tender: list[TenderItem], copied: list[int]
) -> None:
    outcome = load(xlsx(tmp_path, households(range(5))))
    assert (outcome.created, outcome.updated, outcome.errors) == (5, 0, [])
    assert copied == [2, 2, 1]
    assert sorted(Household.objects.values_list("code", flat=True)) == [f"XF-{i}" for i in range(5)]
    history = Household.history.filter(history_type="+")
    assert sorted(history.values_list("code", "version", "history_change_reason")) == [
        (f"XF-{i}", 0, "ledger.xlsx") for i in range(5)
    ]
    assert {h.id for h in history} == set(Household.objects.values_list("id", flat=True))
    with connection.cursor() as cursor:  # the triggers are back once the import ends
        cursor.execute("SHOW session_replication_role")
        assert cursor.fetchone()[0] == "origin"

    # Then the ledger holds households: staged, compared, written the staged way.
    copied.clear()
    rows = households(range(6))
    rows[1]["备注"] = "改"
    outcome = load(xlsx(tmp_path, rows, name="again.xlsx"))
    assert (outcome.created, outcome.updated, outcome.unchanged) == (1, 1, 4)
    assert copied == []
    changed = Household.objects.get(code="XF-1")
    assert (changed.notes, changed.version) == ("改", 1)
    assert changed.history.count() == 2


def test_the_first_chunk_is_the_smaller_one_so_that_the_store_begins_sooner(
    tmp_path: Path,
    tender: list[TenderItem],
    copied: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importer, "FIRST_CHUNK", 1)
    monkeypatch.setattr(importer, "PROGRESS_EVERY", 3)
    outcome = load(xlsx(tmp_path, households(range(6))))
    assert (outcome.created, outcome.errors) == (6, [])
    assert copied == [1, 3, 2]


def test_a_streamed_import_lists_every_error_and_writes_nothing(
    tmp_path: Path, tender: list[TenderItem], copied: list[int]
) -> None:
    """A code and an ID number the file repeats in a later chunk, a wrong cell, and a stage only
    acceptance gives: each listed as the staged way lists it; no unique index is broken, nothing
    is kept."""
    rows = households(range(7))
    rows[3]["户编号"] = "XF-0"  # the second chunk repeats the first one's code
    rows[5]["身份证号"] = id_number(1)  # and the third one an ID number
    rows[4]["联系电话"] = "999"
    rows[6].update(实施进度="已验收", 完工日期=dt.date(2023, 9, 30))
    outcome = load(xlsx(tmp_path, rows))
    assert [str(e) for e in outcome.errors] == [
        "第5行「户编号」：户编号「XF-0」与第2行重复",
        "第6行「联系电话」：联系电话「999」应为11位手机号或带区号的固定电话（如 0350-3031234）",
        "第7行「身份证号」：身份证号与第3行重复（一个身份证号只能登记一户）",
        "第8行「实施进度」：“已验收”只能由验收记录产生",
    ]
    assert outcome.created == 0
    assert not Household.objects.exists()
    assert not Household.history.exists()


def test_a_streamed_import_that_breaches_a_plan_rule_writes_nothing(
    tmp_path: Path,
    tender: list[TenderItem],
    copied: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The plan rules run after the copies, in the same transaction, over what was copied; a
    breach names the rows of the households that count against it."""
    monkeypatch.setitem(PLAN_RULES, "test", plan_rules.at_most(Stage.BUILDING, 2))
    rows = households(range(5))
    for at in (1, 3, 4):
        rows[at]["实施进度"] = "施工中"
    outcome = load(xlsx(tmp_path, rows))
    message = "忻府区施工中及以后的户最多 2 户，写入后为 3 户"
    assert [(e.row, e.column, e.message) for e in outcome.errors] == [
        (3, "实施进度", message),
        (5, "实施进度", message),
        (6, "实施进度", message),
    ]
    assert copied == [2, 2, 1]
    assert not Household.objects.exists()
    assert not Household.history.exists()


def test_two_streamed_imports_that_each_fit_alone_do_not_both_pass(
    tmp_path: Path,
    tender: list[TenderItem],
    copied: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both find the ledger empty; the second waits for the county's lock at its first chunk,
    then finds the first one's households (none with its codes: it copies its own in), and its
    plan rules count both."""
    monkeypatch.setitem(PLAN_RULES, "test", plan_rules.at_most(Stage.BUILDING, 3, pause=0.5))
    files = {}
    for name, numbers in (("a", range(0, 2)), ("b", range(2, 4))):
        rows = households(numbers, prefix=name.upper())
        for r in rows:
            r["实施进度"] = "施工中"
        files[name] = xlsx(tmp_path, rows, name=f"{name}.xlsx")
    start = threading.Barrier(2)
    outcomes: dict[str, importer.ImportOutcome] = {}

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
    refused = [name for name, outcome in outcomes.items() if outcome.errors]
    assert len(outcomes) == 2 and len(refused) == 1
    assert (
        outcomes[refused[0]].errors[0].message == "忻府区施工中及以后的户最多 3 户，写入后为 4 户"
    )
    assert Household.objects.count() == 2


def test_a_county_found_holding_a_households_code_is_staged_from_that_chunk(
    tmp_path: Path, tender: list[TenderItem], copied: list[int]
) -> None:
    """Another upload wrote one of this file's households before it: the chunk that brings it
    breaks a unique index as it is copied, which undoes that chunk's copy alone, and from that
    chunk on the rows are staged and written the staged way, beside those already copied."""
    assert load(xlsx(tmp_path, yuanping_households(range(1, 2)), name="other.xlsx")).created == 1
    copied.clear()
    rows = [*households(range(2)), *yuanping_households(range(3))]
    rows[3]["备注"] = "改"  # YP-1, in the second chunk
    outcome = load(xlsx(tmp_path, rows))
    assert (outcome.created, outcome.updated, outcome.unchanged, outcome.errors) == (4, 1, 0, [])
    assert copied == [2]
    assert Household.objects.count() == Household.history.filter(history_type="+").count() == 5
    changed = Household.objects.get(code="YP-1")
    assert (changed.notes, changed.version) == ("改", 1)


def test_new_households_of_a_county_that_holds_some_are_copied_in_as_they_are_checked(
    tmp_path: Path, tender: list[TenderItem], copied: list[int]
) -> None:
    """A county's next thousands: none of the file's codes or ID numbers is in the ledger, so its
    rows are copied in as they are checked, beside the county's households, with their history;
    the plan rules count them all."""
    assert load(xlsx(tmp_path, households(range(3)), name="first.xlsx")).created == 3
    copied.clear()
    outcome = load(xlsx(tmp_path, households(range(3, 8)), name="next.xlsx"))
    assert (outcome.created, outcome.updated, outcome.errors) == (5, 0, [])
    assert copied == [2, 2, 1]
    assert Household.objects.count() == Household.history.count() == 8
    assert (
        Household.history.filter(history_type="+", history_change_reason="next.xlsx").count() == 5
    )


def test_a_later_chunk_that_changes_a_household_goes_the_staged_way(
    tmp_path: Path, tender: list[TenderItem], copied: list[int]
) -> None:
    """New households first, then a chunk with one the ledger holds, changed: the first chunk is
    copied, the rest compared and written the staged way (a change with its version and history,
    an unchanged row left alone, a new one inserted)."""
    load(xlsx(tmp_path, households(range(3)), name="first.xlsx"))
    copied.clear()
    rows = [*households(range(3, 5)), *households(range(0, 3)), *households(range(5, 6))]
    rows[2]["备注"] = "改"  # XF-0
    outcome = load(xlsx(tmp_path, rows, name="next.xlsx"))
    assert (outcome.created, outcome.updated, outcome.unchanged, outcome.errors) == (3, 1, 2, [])
    assert copied == [2]
    changed = Household.objects.get(code="XF-0")
    assert (changed.notes, changed.version, changed.history.count()) == ("改", 1, 2)
    assert Household.objects.count() == Household.history.filter(history_type="+").count() == 6


def test_a_countys_first_upload_into_a_city_is_copied_in_as_it_is_checked(
    tmp_path: Path, tender: list[TenderItem], copied: list[int]
) -> None:
    """The ledger holds another county's households, the file's county none: its rows are copied
    in as they are checked, with their history, as into an empty ledger."""
    assert load(xlsx(tmp_path, households(range(3)), name="xinfu.xlsx")).created == 3
    copied.clear()
    outcome = load(xlsx(tmp_path, yuanping_households(range(5))))
    assert (outcome.created, outcome.updated, outcome.errors) == (5, 0, [])
    assert copied == [2, 2, 1]
    assert Household.objects.count() == Household.history.count() == 8
    assert Household.objects.filter(county__short_name="原平市").count() == 5


def test_a_chunk_with_another_countys_id_number_goes_the_staged_way(
    tmp_path: Path, tender: list[TenderItem], copied: list[int]
) -> None:
    """An ID number another county's household holds, in the second chunk: that chunk and the rest
    are staged, and the join tells the row (copied, it would have broken the unique index)."""
    load(xlsx(tmp_path, households(range(3)), name="xinfu.xlsx"))
    copied.clear()
    rows = yuanping_households(range(5))
    rows[3]["身份证号"] = id_number(1)  # 忻府区's XF-1
    outcome = load(xlsx(tmp_path, rows))
    assert copied == [2]
    assert [(e.row, e.column) for e in outcome.errors] == [(5, "身份证号")]
    assert "已登记在户编号 XF-1" in outcome.errors[0].message
    assert not Household.objects.filter(county__short_name="原平市").exists()
    assert Household.history.count() == 3


def test_a_chunk_with_another_countys_code_goes_the_staged_way(
    tmp_path: Path, tender: list[TenderItem], copied: list[int]
) -> None:
    """A code another county's household holds is that household: staged, compared and changed
    the staged way (here, as the change rules allow a move between counties or refuse it)."""
    load(xlsx(tmp_path, households(range(3)), name="xinfu.xlsx"))
    rows = yuanping_households(range(4))
    rows[2].update(户编号="XF-1", 身份证号=id_number(1))
    staged = ledger_store.BULK_MIN
    ledger_store.BULK_MIN = 10**6  # the staged way's answer, for the same file
    try:
        expected = load(xlsx(tmp_path, rows, name="staged.xlsx"))
    finally:
        ledger_store.BULK_MIN = staged
    assert expected.errors  # (a move would be kept: the comparison below would then not run)
    copied.clear()
    outcome = load(xlsx(tmp_path, rows))
    assert copied == [2]
    assert [(e.row, e.column, e.message) for e in outcome.errors] == [
        (e.row, e.column, e.message) for e in expected.errors
    ]
    assert Household.objects.count() == Household.history.count() == 3


def test_a_county_held_out_of_order_makes_the_import_wait_the_staged_way(
    tmp_path: Path, tender: list[TenderItem], copied: list[int]
) -> None:
    """The file brings a county after one later in the counties' order, while another writer
    holds the earlier one: the streamed write does not wait for it (two writers could then wait
    for each other), but rolls back and stores the file the staged way, which waits."""
    xinfu, yuanping = (County.objects.get(short_name=n) for n in ("忻府区", "原平市"))
    later, earlier = sorted([xinfu, yuanping], key=lambda c: c.pk, reverse=True)
    file_rows = {
        xinfu.pk: households(range(2)),
        yuanping.pk: [
            yuanping_row(户编号=f"YP-{i}", 身份证号=id_number(i, "140981")) for i in range(2)
        ],
    }
    locked, release = threading.Event(), threading.Event()

    def writer() -> None:
        try:
            with transaction.atomic():
                lock_counties({earlier.pk})
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert locked.wait(10)
        threading.Timer(1.0, release.set).start()
        outcome = load(xlsx(tmp_path, [*file_rows[later.pk], *file_rows[earlier.pk]]))
    finally:
        release.set()
        thread.join()
    assert (outcome.created, outcome.errors) == (4, [])
    assert copied == [2]  # the first chunk, rolled back with the rest
    assert Household.objects.count() == Household.history.count() == 4


@pytest.fixture
def store() -> Iterator[ledger_store.LedgerStore]:
    present = [f for f in FIELDS if f != "equipment"]
    with transaction.atomic():
        yield ledger_store.LedgerStore(present=present, now=timezone.now(), user=None, source="")
        transaction.set_rollback(True)


def test_the_import_checks_its_foreign_keys_itself_where_it_turns_the_triggers_off(
    store: ledger_store.LedgerStore,
) -> None:
    assert store.own_foreign_keys()
    county = County.objects.get(short_name="忻府区")
    checked = (2, "XF-1", county.pk, -1, -1, "张三", id_number(1), "", "rural", "district", None)
    store.note_references([(*checked, "confirmed", None, False, "", None)])  # type: ignore[list-item]
    with pytest.raises(IntegrityError, match="heating_township"):
        store.hold_references()


def test_a_trigger_of_its_own_keeps_the_tables_triggers_on(
    store: ledger_store.LedgerStore,
) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION pg_temp.noop() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RETURN NEW; END $$"
        )
        cursor.execute(
            f"CREATE TRIGGER noop BEFORE INSERT ON {store.tables[1]} "
            "FOR EACH ROW EXECUTE FUNCTION pg_temp.noop()"
        )
    assert not store.own_foreign_keys()
    with connection.cursor() as cursor:
        cursor.execute("SHOW session_replication_role")
        assert cursor.fetchone()[0] == "origin"


@pytest.fixture
def delayed(monkeypatch: pytest.MonkeyPatch) -> list[list[int] | None]:
    """The counts an import asks for after its commit (of its counties)."""
    asked: list[list[int] | None] = []
    monkeypatch.setattr(tasks.run_rollup, "delay", asked.append)
    return asked


def new_households() -> list[dict[str, object]]:
    """Households no run has counted, in two counties: built, completed (a day of the trend), and
    煤改电 with storage heaters (no heat pump) and no reason given."""
    return [
        *households(range(3, 6)),
        row(户编号="XF-6", 身份证号=id_number(6), 实施进度="已完工", 完工日期="2023-10-02"),
        row(户编号="XF-7", 身份证号=id_number(7), 设备型号="XR-3000"),
        *yuanping_households(range(2)),
    ]


def test_a_streamed_import_adds_its_households_to_the_figures_in_its_own_transaction(
    tmp_path: Path, tender: list[TenderItem], copied: list[int], delayed: list[list[int] | None]
) -> None:
    """From the tally of the rows as they were copied, in the store's thread and connection: the
    latest run equals a whole count, and its counties are not counted again after the commit."""
    load(xlsx(tmp_path, households(range(3))))
    before = rollup_run()
    copied.clear()
    outcome = load(xlsx(tmp_path, new_households(), name="new.xlsx"))
    assert (outcome.created, outcome.counted, sum(copied)) == (7, True, 7)
    run = RollupRun.objects.latest_complete()
    assert run is not None and run.pk != before.pk
    assert run.households == before.households + 7 == Household.objects.count()
    xinfu = str(County.objects.get(short_name="忻府区").pk)
    assert run.electric_other[xinfu] == [1, 1]
    assert figures(run) == figures(rollup_run())


def test_the_cli_and_the_upload_page_add_new_households_the_same_way(
    client: Client, official: User, tmp_path: Path, tender: list[TenderItem], copied: list[int],
    delayed: list[list[int] | None],
) -> None:  # fmt: skip
    load(xlsx(tmp_path, households(range(3))))
    before = rollup_run()
    call_command(
        "import_ledger", str(xlsx(tmp_path, households(range(3, 6)))), stdout=io.StringIO()
    )
    cli = RollupRun.objects.latest_complete()
    assert cli is not None and cli.households == before.households + 3
    login(client, official)
    with xlsx(tmp_path, households(range(6, 9)), name="page.xlsx").open("rb") as f:
        client.post(reverse("ledger-import"), {"file": f})
    assert LedgerImport.objects.latest("pk").created_count == 3
    page = RollupRun.objects.latest_complete()
    assert page is not None and page.households == cli.households + 3 == 9
    assert delayed == []
    assert figures(page) == figures(rollup_run())


def test_a_streamed_import_that_changes_a_household_or_finds_no_run_counts_after_its_commit(
    tmp_path: Path, tender: list[TenderItem], copied: list[int], delayed: list[list[int] | None]
) -> None:
    """With no run to add to, or a household changed (its old figures are in the latest run), the
    import's counties are counted after its commit, as every other write's."""
    xinfu = County.objects.get(short_name="忻府区").pk
    outcome = load(xlsx(tmp_path, households(range(3))))
    assert (outcome.created, outcome.counted, RollupRun.objects.count()) == (3, False, 0)
    before = rollup_run()
    rows = households(range(5))
    rows[0]["实施进度"] = "施工中"
    call_command(
        "import_ledger", str(xlsx(tmp_path, rows, name="again.xlsx")), stdout=io.StringIO()
    )
    assert delayed == [[xinfu]]
    assert RollupRun.objects.latest_complete() == before  # until that count runs
    call_command(
        "import_ledger", str(xlsx(tmp_path, households(range(5, 7)), name="dry.xlsx")),
        "--dry-run", stdout=io.StringIO(),
    )  # fmt: skip
    assert RollupRun.objects.latest_complete() == before and delayed == [[xinfu]]


def test_a_streamed_import_that_changes_a_household_after_copying_new_ones_counts_after_its_commit(
    tmp_path: Path, tender: list[TenderItem], copied: list[int], delayed: list[list[int] | None]
) -> None:
    """The first chunks' new households copied in, a later chunk's changed household staged: the
    figures of the new ones alone would miss the change."""
    load(xlsx(tmp_path, households(range(3))))
    before = rollup_run()
    copied.clear()
    rows = [*households(range(3, 7)), *households(range(3))]
    rows[4]["实施进度"] = "施工中"
    outcome = load(xlsx(tmp_path, rows, name="later.xlsx"))
    assert (outcome.created, outcome.updated, sum(copied)) == (4, 1, 4)
    assert not outcome.counted
    assert RollupRun.objects.latest_complete() == before
