"""The metered-use CSV handed to COPY as it is (PostgreSQL): the same outcome as the Python path,
row for row (what is written, skipped and counted, every error in the same words and order),
whether a row is taken by SQL or read back and checked in Python; and a file COPY may not read as
Python's csv module does goes the Python way."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from heating.models import HeatingPath, User
from retrofits.models import Household, TenderItem
from subsidies.models import MeterAccount, MeterReading
from subsidies.services import meter_accounts_import, metered_use_import, use_copy
from tests.test_subsidies import household
from tests.test_subsidies_imports import ACCOUNT_HEADERS, book

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's"),
]

COPY_RAW = use_copy.copy_raw  # the real one, whatever a test has patched
HEADER = "户号,计量类型,起始日期,截止日期,用量\n"
GOOD = (
    "E001,电,2023-11-01,2023-11-30,812.5\n"
    "E001,电,2023-12-01,2023-12-31,930\n"
    "G001,气,2023-11-01,2023-11-30,120.25\n"
    "OUT-1,电,2023-11-01,2023-11-30,500\n"  # not in the programme
    "G001,电,2023-11-01,2023-11-30,500\n"  # no 电 account of that number
    "E001,电,2024-02-01,2024-02-29,10\n"  # a leap day
    "忻001,电,2023-11-01,2023-11-30,7\n"  # a number SQL leaves to Python
    "G001,气,2023/12/01,2023/12/31,3\n"  # a date only Python reads
    ",,,,\n"  # blank: not counted
    "E001,电,2024-01-01,2024-01-31,0\n"
)
BAD = (
    "E001,水,2023-11-01,2023-11-30,1\n"
    "E001,电,2023-02-01,2023-02-29,1\n"  # not a leap year
    "E001,电,2023-13-01,2023-13-31,1\n"
    "E001,电,0000-01-01,0000-01-31,1\n"
    "E001,电,2023-11-30,2023-11-01,1\n"
    "E001,电,2023-11-01,2023-11-30,-3\n"
    "E001,电,2023-11-01,2023-11-30,1.234\n"
    " E009,电,2023-11-01,2023-11-30,1\n"
    ",电,2023-11-01,2023-11-30,1\n"
    "E001,电,2023-11-01,2023-11-30,\n"
    "OUT-1,电,2023-11-01,2023-11-30,x\n"
)


@pytest.fixture
def registered(tender: list[TenderItem]) -> list[Household]:
    homes = [
        household("C-1", HeatingPath.ELECTRIC, equipment=tender[0]),
        household("C-2", HeatingPath.GAS, equipment=tender[2]),
        household("C-3", HeatingPath.ELECTRIC, equipment=tender[0]),
    ]
    rows = [["C-1", "电", "E001"], ["C-2", "气", "G001"], ["C-3", "电", "忻001"]]
    assert not meter_accounts_import(
        data=book(ACCOUNT_HEADERS, rows), name="a.xlsx", user=None
    ).errors
    return homes


def both_ways(data: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any, list[Any]]:
    """The file imported by COPY (asserted taken), then by Python (COPY refused), each rolled back:
    both outcomes, and whether COPY took it each time."""
    taken: list[bool] = []

    def spy(*args: Any) -> use_copy.Copied | None:
        copied = COPY_RAW(*args)
        taken.append(copied is not None)
        return copied

    monkeypatch.setattr(use_copy, "copy_raw", spy)
    copied = metered_use_import(data=data, name="use.csv", user=None, dry_run=True)

    def refuse(*args: Any) -> None:
        taken.append(False)

    monkeypatch.setattr(use_copy, "copy_raw", refuse)
    python = metered_use_import(data=data, name="use.csv", user=None, dry_run=True)
    return copied, python, taken


def summary(outcome: Any) -> tuple[Any, ...]:
    return (outcome.total, outcome.written, outcome.skipped, [str(e) for e in outcome.errors],
            outcome.more_errors)  # fmt: skip


def test_a_plain_file_goes_by_copy_with_the_python_paths_outcome(
    registered: list[Household], monkeypatch: pytest.MonkeyPatch
) -> None:
    copied, python, taken = both_ways((HEADER + GOOD).encode(), monkeypatch)
    assert taken == [True, False]
    assert summary(copied) == summary(python) == (9, 7, 2, [], 0)
    outcome = metered_use_import(data=(HEADER + GOOD).encode(), name="use.csv", user=None)
    assert (outcome.written, outcome.errors) == (7, [])
    readings = {(r.account.number, str(r.start_date), str(r.use)) for r in
                MeterReading.objects.select_related("account")}  # fmt: skip
    assert ("E001", "2024-02-01", "10.00") in readings and (
        "G001",
        "2023-12-01",
        "3.00",
    ) in readings
    assert ("忻001", "2023-11-01", "7.00") in readings and len(readings) == 7


def test_every_error_is_the_python_paths_in_the_same_order(
    registered: list[Household], monkeypatch: pytest.MonkeyPatch
) -> None:
    copied, python, taken = both_ways((HEADER + GOOD + BAD).encode(), monkeypatch)
    assert taken == [True, False]
    assert summary(copied) == summary(python)
    assert [str(e) for e in copied.errors][:3] == [
        "第12行「计量类型」：「水」应为 电 或 气",
        "第13行「截止日期」：「2023-02-29」应为日期，如 2023-11-30",
        "第14行「起始日期」：「2023-13-01」应为日期，如 2023-11-30",
    ]
    assert len(copied.errors) == 12
    # A period given twice for a registered account: found by SQL across both parts.
    twice = HEADER + GOOD + "G001,气,2023-12-01,2023-12-31,4\n"
    copied, python, _ = both_ways(twice.encode(), monkeypatch)
    assert summary(copied) == summary(python)
    assert [str(e) for e in copied.errors] == [
        "第12行「户号」：户号「G001」2023-12-01至2023-12-31的用量与第9行重复"
    ]
    assert not MeterReading.objects.exists()


def test_columns_in_another_order_and_gbk(
    registered: list[Household], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = (
        "用量,截止日期,起始日期,计量类型,户号\n"
        "812.5,2023-11-30,2023-11-01,电,E001\n"
        "3,2023-12-31,2023/12/01,气,G001\n"
        "1,2023-11-30,2023-11-01,水,E001\n"
    )
    for encoded in (data.encode(), data.encode("gb18030")):
        copied, python, taken = both_ways(encoded, monkeypatch)
        assert taken[-2:] == [True, False]
        assert summary(copied) == summary(python)
        assert [str(e) for e in copied.errors] == ["第4行「计量类型」：「水」应为 电 或 气"]


@pytest.mark.parametrize(
    "data",
    [
        HEADER + 'E001,电,2023-11-01,2023-11-30,"1,5"\n',  # a quoted cell
        HEADER + 'E"001,电,2023-11-01,2023-11-30,1\n',  # a quote inside a cell
        HEADER + "E001,电,2023-11-01,2023-11-30,1,extra\n",  # a wider row
        HEADER + "E001,电,2023-11-01,2023-11-30,1\n\nG001,气,2023-11-01,2023-11-30,1\n",
        HEADER + "\\.\nE001,电,2023-11-01,2023-11-30,1\n",  # COPY's end-of-data marker
        "用能计量\n" + HEADER + "E001,电,2023-11-01,2023-11-30,1\n",  # a title above the header
        HEADER + "E001,电,2023-11-01,2023-11-30,1\r\nG001,气,2023-11-01,2023-11-30,1\n",
    ],
)
def test_a_file_copy_would_read_otherwise_goes_the_python_way(
    data: str, registered: list[Household], monkeypatch: pytest.MonkeyPatch
) -> None:
    copied, python, taken = both_ways(data.encode(), monkeypatch)
    assert True not in taken
    assert summary(copied) == summary(python)
    assert MeterAccount.objects.count() == 3


def test_a_countys_file_writes_its_own_accounts_only_and_leaves_no_table(
    registered: list[Household], tender: list[TenderItem], official: User
) -> None:
    household("C-9", HeatingPath.ELECTRIC, equipment=tender[0], where="原平市")
    rows = [["C-9", "电", "E009"]]
    assert not meter_accounts_import(
        data=book(ACCOUNT_HEADERS, rows), name="a.xlsx", user=None
    ).errors
    data = (HEADER + "E001,电,2023-11-01,2023-11-30,5\nE009,电,2023-11-01,2023-11-30,5\n").encode()
    outcome = metered_use_import(data=data, name="use.csv", user=official)  # 忻府区's
    assert (outcome.total, outcome.written, outcome.skipped) == (2, 1, 1)
    assert list(MeterReading.objects.values_list("account__number", flat=True)) == ["E001"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'subsidies_use_%%'")
        assert cursor.fetchone() == (0,)
