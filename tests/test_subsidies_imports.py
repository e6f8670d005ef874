"""The subsidy imports: 补贴标准 (all or nothing, every error by row and column, history, locked
policies, who may keep which), 计量户号 and 用能计量 (unknown accounts skipped and counted,
duplicates errors by row)."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import Workbook

from heating.models import HeatingPath, User
from retrofits.choices import Stage
from retrofits.models import Household, TenderItem
from subsidies.models import Entitlement, MeterAccount, MeterReading, Policy
from subsidies.services import (
    entitlements_mark_paid,
    meter_accounts_import,
    metered_use_import,
    policy_import,
    subsidy_compute,
)
from tests.test_subsidies import household

pytestmark = pytest.mark.django_db

POLICY_HEADERS = [
    "年度", "县（市、区）", "取暖路径", "补贴类别", "计算方式", "比例或单价", "定额（元）",
    "起补用量", "每户上限（元）", "低收入户加补（元）", "市级承担比例",
]  # fmt: skip


def book(headers: list[str], rows: list[list[Any]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(headers)
    for r in rows:
        sheet.append(r)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def csv_bytes(headers: list[str], rows: list[list[Any]]) -> bytes:
    lines = [",".join(headers)] + [",".join(str(v) for v in r) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


GOOD = [
    [2023, "", "煤改电", "设备购置补贴", "按中标价比例", 0.35, None, None, 7000, 500, 0.6],
    [2023, "", "煤改电", "运行补贴", "按用量", 0.2, None, 1000, 1200, 200, "60%"],
    [2023, "定襄县", "煤改电", "设备购置补贴", "定额", None, 4000, None, 5000, 300, 0.3333],
]


def test_a_good_file_writes_every_row_and_again_changes_nothing(municipal: User) -> None:
    outcome = policy_import(data=book(POLICY_HEADERS, GOOD), name="p.xlsx", user=municipal)
    assert outcome.errors == []
    assert (outcome.total, outcome.created, outcome.updated) == (3, 3, 0)
    running = Policy.objects.get(kind="running")
    assert (running.rate, running.free_use, running.city_share) == (
        Decimal("0.2"), Decimal(1000), Decimal("0.6"),
    )  # fmt: skip
    assert Policy.objects.get(county__short_name="定襄县").amount == Decimal(4000)
    again = policy_import(data=book(POLICY_HEADERS, GOOD), name="p.xlsx", user=municipal)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    changed = [[*GOOD[0][:5], 0.4, *GOOD[0][6:]], *GOOD[1:]]
    third = policy_import(data=book(POLICY_HEADERS, changed), name="p2.xlsx", user=municipal)
    assert third.updated == 1
    rule = Policy.objects.get(kind="equipment", county=None)
    assert [h.rate for h in rule.history.order_by("history_date")] == [
        Decimal("0.35"), Decimal("0.4"),
    ]  # fmt: skip
    assert rule.history.latest().history_change_reason == "导入补贴标准（p2.xlsx第2行）"


def test_every_error_is_named_by_row_and_column_and_nothing_is_written(municipal: User) -> None:
    rows: list[list[Any]] = [
        [2030, "", "煤改电", "设备购置补贴", "按中标价比例", 0.35, None, None, 7000, 0, 0.6],
        [2023, "外县", "煤改电", "设备购置补贴", "按中标价比例", 0.35, None, None, 7000, 0, 0.6],
        [2023, "", "煤改气", "运行补贴", "定额", None, 3000, None, 1000, 0, 0.5],
        [2023, "", "煤改电", "设备购置补贴", "按中标价比例", None, None, None, 7000, 0, 0.6],
        [2023, "", "煤改气", "设备购置补贴", "按中标价比例", 1.5, 200, None, 7000, 0, 1.5],
        [2023, "", "集中供热", "设备购置补贴", "定额", None, 1000, None, -5, 0, 0.5],
        [2023, "", "煤改电", "设备购置补贴", "定额", None, 1000, None, 2000, 0, 0.5],
        [2023, "", "空调", "补贴", "按用量", "一毛", None, None, None, None, None],
        *GOOD,
    ]
    outcome = policy_import(data=book(POLICY_HEADERS, rows), name="bad.xlsx", user=municipal)
    shown = [str(e) for e in outcome.errors]
    assert shown == [
        "第2行「年度」：「2030」没有计划年度（已有年度：2023）",
        "第3行「县（市、区）」：「外县」不是任务分解表的16个县（市、区）之一",
        "第4行「计算方式」：运行补贴的计算方式应为按用量",
        "第5行「比例或单价」：计算方式为按中标价比例时必填",
        "第6行「市级承担比例」：「1.5」应在 0 到 1 之间",
        "第6行「比例或单价」：「1.5」应为大于 0、不大于 1 的比例",
        "第6行「定额（元）」：仅计算方式为定额时填写",
        "第7行「每户上限（元）」：「-5」应为正数",
        "第9行「取暖路径」：「空调」应为 集中供热、煤改电、煤改气、生物质热电联产",
        "第9行「补贴类别」：「补贴」应为 设备购置补贴、运行补贴",
        "第9行「比例或单价」：「一毛」应为数字",
        "第9行「每户上限（元）」：必填，不能为空",
        "第9行「市级承担比例」：必填，不能为空",
        "第10行「补贴类别」：与第8行是同一年度、县、路径和补贴类别",
    ]
    assert not Policy.objects.exists()


def test_a_county_keeps_its_own_policies_only(official: User) -> None:
    rows = [GOOD[0], [2023, "定襄县", *GOOD[2][2:]], [2023, "忻府区", *GOOD[2][2:]]]
    outcome = policy_import(data=book(POLICY_HEADERS, rows), name="p.xlsx", user=official)
    assert [str(e) for e in outcome.errors] == [
        "第2行「县（市、区）」：只有市级用户可以填写全市默认标准（县（市、区）留空）",
        "第3行「县（市、区）」：无权维护定襄县的补贴标准",
    ]
    rows = [[2023, "忻府区", *GOOD[2][2:]]]
    outcome = policy_import(data=book(POLICY_HEADERS, rows), name="p.xlsx", user=official)
    assert outcome.errors == [] and outcome.created == 1


def test_a_policy_used_by_a_paid_subsidy_is_refused_by_row(
    municipal: User, tender: list[TenderItem]
) -> None:
    policy_import(data=book(POLICY_HEADERS, GOOD), name="p.xlsx", user=municipal)
    accepted = household("P-1", HeatingPath.ELECTRIC, equipment=tender[0])
    subsidy_compute(year=2023)
    paid = Entitlement.objects.get(household=accepted)
    entitlements_mark_paid(ids=[paid.pk], paid_on=dt.date(2024, 1, 5))
    changed = [[*GOOD[0][:8], 8000, *GOOD[0][9:]], *GOOD[1:]]
    outcome = policy_import(data=book(POLICY_HEADERS, changed), name="p.xlsx", user=municipal)
    assert [str(e) for e in outcome.errors] == [
        "第2行「补贴类别」：该补贴标准已用于已发放的补贴，不能修改（如需调整请新增下一年度的标准）"
    ]
    assert Policy.objects.get(kind="equipment", county=None).cap == Decimal(7000)


def test_the_command_prints_the_errors_and_fails(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(
        csv_bytes(
            POLICY_HEADERS, [[2023, "", "煤改电", "运行补贴", "按用量", "", "", "", 1, 0, 0.5]]
        )
    )
    err = io.StringIO()
    with pytest.raises(CommandError, match="共 1 处错误，未写入任何数据"):
        call_command("import_subsidy_policies", str(path), stderr=err)
    assert "第2行「比例或单价」：计算方式为按用量时必填" in err.getvalue()
    path.write_bytes(csv_bytes(["年份"], [[2023]]))
    with pytest.raises(CommandError, match="找不到表头"):
        call_command("import_subsidy_policies", str(path))


# ---------------------------------------------------------------- meters

ACCOUNT_HEADERS = ["户编号", "计量类型", "户号"]
USE_HEADERS = ["户号", "计量类型", "起始日期", "截止日期", "用量"]


@pytest.fixture
def metered(tender: list[TenderItem]) -> list[Household]:
    return [
        household("M-1", HeatingPath.ELECTRIC, equipment=tender[0]),
        household("M-2", HeatingPath.GAS, equipment=tender[2]),
        household("M-3", HeatingPath.ELECTRIC, equipment=tender[0], where="原平市"),
        household("M-4", HeatingPath.ELECTRIC, equipment=tender[0], stage=Stage.SELECTED),
    ]


def accounts(user: User | None = None, rows: list[list[Any]] | None = None) -> Any:
    rows = rows or [["M-1", "电", "E001"], ["M-2", "气", "G001"], ["M-3", "电", "E003"]]
    return meter_accounts_import(data=book(ACCOUNT_HEADERS, rows), name="a.xlsx", user=user)


def test_meter_accounts_are_upserted_by_household_and_kind(metered: list[Household]) -> None:
    first = accounts()
    assert (first.created, first.errors) == (3, [])
    assert accounts().unchanged == 3
    assert MeterAccount.objects.count() == 3
    moved = accounts(rows=[["M-1", "电", "E001-新"], ["M-2", "气", "G001"]])
    assert (moved.updated, moved.unchanged, moved.created) == (1, 1, 0)
    assert MeterAccount.objects.get(household=metered[0]).number == "E001-新"


def test_meter_account_errors_by_row(metered: list[Household], official: User) -> None:
    accounts()
    rows = [
        ["M-9", "电", "E009"],
        ["M-1", "水", "W001"],
        ["M-4", "电", "E001"],  # held by M-1
        ["M-4", "电", "E004"],
        ["M-2", "气", ""],
    ]
    outcome = accounts(rows=rows)
    assert [str(e) for e in outcome.errors] == [
        "第2行「户编号」：台账中没有户编号「M-9」",
        "第3行「计量类型」：「水」应为 电 或 气",
        "第5行「户编号」：该户的电户号与第4行重复",
        "第6行「户号」：必填，不能为空",
    ]
    outcome = accounts(rows=[["M-4", "电", "E001"]])
    assert [str(e) for e in outcome.errors] == ["第2行「户号」：户号「E001」已登记给其他户"]
    outcome = accounts(official, rows=[["M-3", "电", "E333"]])  # 原平市's, and xinfu is 忻府区's
    assert [str(e) for e in outcome.errors] == [
        "第2行「户编号」：户编号「M-3」不是本县的户，无权登记"
    ]
    assert MeterAccount.objects.count() == 3


def use_file(rows: list[list[Any]], name: str = "use.xlsx") -> Any:
    data = book(USE_HEADERS, rows) if name.endswith("xlsx") else csv_bytes(USE_HEADERS, rows)
    return metered_use_import(data=data, name=name, user=None)


def test_unknown_accounts_are_skipped_and_counted(metered: list[Household]) -> None:
    accounts()
    rows = [
        ["E001", "电", "2023-11-01", "2023-11-30", 812.5],
        ["E001", "电", "2023-12-01", "2023-12-31", 930],
        ["G001", "气", "2023/11/01", "2023/11/30", 120.25],
        ["E999", "电", "2023-11-01", "2023-11-30", 500],  # not in the programme
        ["G001", "电", "2023-11-01", "2023-11-30", 500],  # a 电 account of that number: none
    ]
    outcome = use_file(rows)
    assert outcome.errors == []
    assert (outcome.total, outcome.written, outcome.skipped) == (5, 3, 2)
    assert MeterReading.objects.count() == 3
    # A later file's row for the same period replaces the use; the CSV reads the same.
    again = use_file([["E001", "电", "2023-11-01", "2023-11-30", 800]], name="use.csv")
    assert (again.written, again.skipped) == (1, 0)
    november = MeterReading.objects.get(account__number="E001", start_date=dt.date(2023, 11, 1))
    assert november.use == Decimal(800)


def test_a_period_twice_and_bad_cells_are_errors_by_row(metered: list[Household]) -> None:
    accounts()
    rows = [
        ["E001", "电", "2023-11-01", "2023-11-30", 812.5],
        ["E999", "电", "2023-11-01", "2023-11-30", 1],
        ["E999", "电", "2023-11-01", "2023-11-30", 2],  # twice, but not ours: skipped
        ["E001", "电", "2023-11-01", "2023-11-30", 900],
    ]
    outcome = use_file(rows)
    assert [str(e) for e in outcome.errors] == [
        "第5行「户号」：户号「E001」2023-11-01至2023-11-30的用量与第2行重复"
    ]
    bad = [
        ["E001", "水", "2023-11-01", "2023-11-30", 1],
        ["E001", "电", "11月", "2023-11-30", 1],
        ["E001", "电", "2023-11-30", "2023-11-01", 1],
        ["E001", "电", "2023-11-01", "2023-11-30", -3],
        ["E001", "电", "2023-11-01", "2023-11-30", 1.234],
    ]
    outcome = use_file(bad)
    assert [str(e) for e in outcome.errors] == [
        "第2行「计量类型」：「水」应为 电 或 气",
        "第3行「起始日期」：「11月」应为日期，如 2023-11-30",
        "第4行「截止日期」：截止日期早于起始日期2023-11-30",
        "第5行「用量」：用量不能小于 0",
        "第6行「用量」：「1.234」最多2位小数",
    ]
    assert not MeterReading.objects.exists()


def test_the_use_command_reports_skipped_rows(metered: list[Household], tmp_path: Path) -> None:
    accounts()
    path = tmp_path / "use.csv"
    path.write_bytes(
        csv_bytes(
            USE_HEADERS,
            [
                ["E001", "电", "2023-11-01", "2023-11-30", 1],
                ["X", "气", "2023-11-01", "2023-11-30", 1],
            ],
        )
    )
    out = io.StringIO()
    call_command("import_metered_use", str(path), stdout=out)
    assert "共 2 行，写入 1，跳过未登记户号 1" in out.getvalue()


def test_a_csvs_odd_cells_take_the_careful_path(metered: list[Household]) -> None:
    """A neutralised account ('-01, as exports write a leading -), an impossible date, a tab
    inside a cell: the rows the fast path does not take are read as the template's rules say,
    and written safely."""
    accounts(rows=[["M-1", "电", "E\t01"], ["M-2", "气", "'-01"]])
    data = (
        "户号,计量类型,起始日期,截止日期,用量\n"
        '"E\t01",电,2023-11-01,2023-11-30,10.5\n'
        "'-01,气,2023-02-01,2023-02-30,3\n"
    ).encode()
    outcome = metered_use_import(data=data, name="odd.csv", user=None)
    assert [str(e) for e in outcome.errors] == [
        "第3行「截止日期」：「2023-02-30」应为日期，如 2023-11-30"
    ]
    fixed = data.replace(b"2023-02-30", b"2023-02-28")
    outcome = metered_use_import(data=fixed, name="odd.csv", user=None)
    assert (outcome.errors, outcome.written) == ([], 2)
    assert MeterReading.objects.get(account__number="E\t01").use == Decimal("10.5")
    assert MeterReading.objects.get(account__number="-01").use == Decimal(3)
