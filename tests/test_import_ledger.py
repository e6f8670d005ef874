"""`import_ledger` and `export_ledger`: every bad-input kind of the template refused with its row,
column and message, nothing written; re-import is an upsert by 户编号; exports re-import unchanged."""

from __future__ import annotations

import datetime as dt
import gc
import io
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from heating.models import User
from retrofits.choices import Stage
from retrofits.ledger import store as ledger_store
from retrofits.ledger.handoff import ProcessSetting
from retrofits.models import Household, TenderItem
from retrofits.models.households import household_writer
from tests.ledger_files import HEADERS, IDS, csv_file, id_number, row, xlsx, yuanping_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def past_midnight(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock at 2026-12-08 00:30 in Shanghai, still 2026-12-07 in UTC."""
    moment = dt.datetime(2026, 12, 7, 16, 30, tzinfo=dt.UTC)
    monkeypatch.setattr(timezone, "now", lambda: moment)


def run(path: Path, *args: str) -> str:
    out = io.StringIO()
    call_command("import_ledger", str(path), *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def refused(path: Path, *args: str) -> str:
    before = list(Household.objects.values_list("code", "stage", "updated_at"))
    history = Household.history.count()
    err = io.StringIO()
    with pytest.raises(CommandError, match="未写入任何数据") as raised:
        call_command("import_ledger", str(path), *args, stdout=io.StringIO(), stderr=err)
    assert list(Household.objects.values_list("code", "stage", "updated_at")) == before
    assert Household.history.count() == history
    return err.getvalue() + str(raised.value)


def test_it_creates_then_changes_nothing(tmp_path: Path, tender: list[TenderItem]) -> None:
    path = xlsx(tmp_path, [row(), row(户编号="XF-0002", 身份证号=IDS[1], 设备型号="XR-3000")])
    assert "新增 2，更新 0，未变 0" in run(path)
    assert "新增 0，更新 0，未变 2" in run(path)
    household = Household.objects.get(code="XF-0001")
    assert household.equipment is not None
    assert (household.village.name, household.equipment.model) == ("辛庄村委会", "KRS-8P")
    assert household.history.count() == 1


def test_a_changed_row_is_updated_and_kept_in_history(
    tmp_path: Path, tender: list[TenderItem]
) -> None:
    run(xlsx(tmp_path, [row()]))
    changed = row(实施进度="已完工", 完工日期=dt.date(2023, 9, 30))
    assert "新增 0，更新 1，未变 0" in run(xlsx(tmp_path, [changed], name="v2.xlsx"))
    household = Household.objects.get(code="XF-0001")
    assert household.stage == Stage.COMPLETED
    latest = household.history.first()
    assert latest.history_type == "~"
    assert latest.history_change_reason == "台账导入：v2.xlsx"


def test_names_without_suffix_and_codes_match(tmp_path: Path, tender: list[TenderItem]) -> None:
    rows = [
        row(village="辛庄村"),
        row(户编号="XF-0002", 身份证号=IDS[1], village="辛庄"),
        row(户编号="XF-0003", 身份证号=IDS[2], county="140902", township="140902101"),
        row(
            户编号="CQ-0001", 身份证号=IDS[5], county="忻州城区", township="秀容街道",
            village="东大街社区", 城乡类型="城区/县城", 取暖路径="集中供热（工业余热）", 设备型号=None,
        ),
    ]  # fmt: skip
    assert "新增 4" in run(xlsx(tmp_path, rows))
    assert Household.objects.get(code="CQ-0001").county.short_name == "忻州城区"


def test_csv_in_gbk_as_chinese_excel_saves_it(tmp_path: Path, tender: list[TenderItem]) -> None:
    assert "新增 1" in run(csv_file(tmp_path, [row()], encoding="gb18030"))


def test_dry_run_writes_nothing(tmp_path: Path, tender: list[TenderItem]) -> None:
    assert "检查通过，未写入：共 1 行，新增 1" in run(xlsx(tmp_path, [row()]), "--dry-run")
    assert not Household.objects.exists()


@pytest.mark.parametrize(
    ("changes", "column", "message"),
    [
        ({"户编号": ""}, "户编号", "必填，不能为空"),
        ({"户编号": "X" * 33}, "户编号", "户编号最多32个字符"),
        (
            {"县（市、区）": "忻州县"},
            "县（市、区）",
            "「忻州县」不是任务分解表的16个县（市、区）之一",
        ),
        (
            {"乡（镇、街道）": "秀容街道"},
            "乡（镇、街道）",
            "「秀容街道」不是忻府区的乡（镇、街道）",
        ),
        ({"村（社区）": "东大街社区"}, "村（社区）", "「东大街社区」不是奇村镇的村（社区）"),
        ({"户主姓名": None}, "户主姓名", "必填，不能为空"),
        ({"身份证号": "14090219650308012"}, "身份证号", "身份证号应为18位"),
        ({"身份证号": "140902196503080121"}, "身份证号", "校验位错误（按 GB 11643 应为 X）"),
        ({"身份证号": "140902196502300127"}, "身份证号", "出生日期19650230不存在"),
        ({"身份证号": 140902197001013458}, "身份证号", "被存成了数字"),
        ({"联系电话": "12345"}, "联系电话", "应为11位手机号或带区号的固定电话"),
        ({"城乡类型": "郊区"}, "城乡类型", "应为 城区/县城 或 农村"),
        ({"取暖路径": "煤改油"}, "取暖路径", "应为 集中供热、煤改电、煤改气 或 生物质热电联产"),
        ({"设备型号": None}, "设备型号", "煤改电的户自“已选型”起须填写中标设备型号"),
        ({"设备型号": "NOPE-1"}, "设备型号", "设备型号「NOPE-1」不在中标设备清单中"),
        ({"设备型号": "BG-20"}, "设备型号", "是煤改气设备，与取暖路径煤改电不符"),
        (
            {"取暖路径": "集中供热", "设备型号": "KRS-8P"},
            "设备型号",
            "集中供热的设备不在市统一招标范围",
        ),
        ({"实施进度": "快完了"}, "实施进度", "应为 已确户、已选型、施工中 或 已完工"),
        (
            {"实施进度": "已验收", "完工日期": dt.date(2023, 9, 1)},
            "实施进度",
            "“已验收”只能由验收记录产生",
        ),
        ({"实施进度": "已完工"}, "完工日期", "实施进度为“已完工”时须填写完工日期"),
        ({"完工日期": dt.date(2023, 9, 1)}, "完工日期", "实施进度为“已选型”时不应填写完工日期"),
        ({"实施进度": "已完工", "完工日期": "2023-13-01"}, "完工日期", "应为日期"),
        (
            {"实施进度": "已完工", "完工日期": dt.date(2026, 12, 9)},
            "完工日期",
            "晚于今天",
        ),
        ({"低收入户": "也许"}, "低收入户", "应为 是 或 否"),
    ],
)
def test_it_refuses_a_bad_cell_naming_row_and_column(
    tmp_path: Path,
    tender: list[TenderItem],
    past_midnight: None,
    changes: dict[str, Any],
    column: str,
    message: str,
) -> None:
    # The clock is fixed: a "tomorrow" computed when the cases are collected would be today by the
    # time a case runs after midnight in Shanghai (CI collected before it and ran after).
    errors = refused(xlsx(tmp_path, [row(户编号="OK-1", 身份证号=IDS[3]), row(**changes)]))
    assert f"第3行「{column}」：" in errors
    assert message in errors
    assert "第2行" not in errors


def test_today_is_shanghai_today_whatever_the_hour_in_utc(
    tmp_path: Path, tender: list[TenderItem], past_midnight: None
) -> None:
    """At 00:30 in Shanghai it is still the day before in UTC: a household finished that morning
    is not "later than today"."""
    finished = row(实施进度="已完工", 完工日期=dt.date(2026, 12, 8))
    assert "新增 1" in run(xlsx(tmp_path, [finished]))
    assert Household.objects.get().completed_on == dt.date(2026, 12, 8)


def test_it_lists_every_error_at_once(tmp_path: Path, tender: list[TenderItem]) -> None:
    rows = [
        row(county="忻州县"),
        row(户编号="XF-0002", 身份证号=IDS[0], 联系电话="999"),
        row(户编号="XF-0002", 身份证号=IDS[2], 城乡类型="郊区"),
    ]
    errors = refused(xlsx(tmp_path, rows))
    for expected in (
        "第2行「县（市、区）」",
        "第3行「身份证号」：身份证号与第2行重复",
        "第3行「联系电话」",
        "第4行「户编号」：户编号「XF-0002」与第3行重复",
        "第4行「城乡类型」",
    ):
        assert expected in errors
    assert "共 5 处错误" in errors


def test_an_id_number_may_hold_only_one_household(tmp_path: Path, tender: list[TenderItem]) -> None:
    run(xlsx(tmp_path, [row()]))
    errors = refused(xlsx(tmp_path, [row(户编号="XF-0099")], name="two.xlsx"))
    assert "第2行「身份证号」：身份证号「14090219650308012X」已登记在户编号 XF-0001" in errors


def test_lower_case_x_is_accepted(tmp_path: Path, tender: list[TenderItem]) -> None:
    run(xlsx(tmp_path, [row(身份证号=IDS[0].lower())]))
    assert Household.objects.get().id_number == IDS[0]


def test_a_stage_may_not_go_back_in_an_import(tmp_path: Path, tender: list[TenderItem]) -> None:
    run(xlsx(tmp_path, [row(实施进度="施工中")]))
    errors = refused(xlsx(tmp_path, [row(实施进度="已选型")], name="back.xlsx"))
    assert "第2行「实施进度」：实施进度不能从“施工中”回退到“已选型”" in errors


def test_an_accepted_household_keeps_its_stage(tmp_path: Path, tender: list[TenderItem]) -> None:
    run(xlsx(tmp_path, [row(实施进度="已完工", 完工日期=dt.date(2023, 9, 1))]))
    with household_writer():  # a shortcut for an acceptance visit
        Household.objects.update(stage=Stage.ACCEPTED, accepted_on=dt.date(2023, 10, 20))
    accepted = row(实施进度="已验收", 完工日期=dt.date(2023, 9, 1))
    assert "未变 1" in run(xlsx(tmp_path, [accepted], name="same.xlsx"))
    errors = refused(
        xlsx(tmp_path, [row(实施进度="已完工", 完工日期=dt.date(2023, 9, 1))], name="b.xlsx")
    )
    assert "该户已验收，实施进度只能由验收记录更改" in errors


def test_a_household_cannot_move_to_another_county(
    tmp_path: Path, tender: list[TenderItem]
) -> None:
    run(xlsx(tmp_path, [row()]))
    moved = row(county="定襄县", township="晋昌镇", village="城内村")
    errors = refused(xlsx(tmp_path, [moved], name="moved.xlsx"))
    assert (
        "第2行「县（市、区）」：该户编号已登记在其他县（市、区），导入不能更改户所属的县（市、区）"
        in errors
    )
    assert Household.objects.get().county.short_name == "忻府区"


def test_a_county_official_imports_only_their_county(
    tmp_path: Path, tender: list[TenderItem], official: User
) -> None:
    other = yuanping_row()
    errors = refused(xlsx(tmp_path, [row(), other]), "--user", "xinfu")
    assert "第3行「县（市、区）」：只能导入本县（忻府区）的户，此行为「原平市」" in errors
    assert "第2行" not in errors


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ([h for h in HEADERS if h != "身份证号"], "缺少必填列 「身份证号」"),
        ([*HEADERS, "房屋面积"], "有模板以外的列 「房屋面积」"),
    ],
)
def test_it_refuses_other_headers(tmp_path: Path, headers: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run(xlsx(tmp_path, [row()], headers=headers))


def test_headers_match_after_trimming_and_in_any_order(
    tmp_path: Path, tender: list[TenderItem]
) -> None:
    shuffled = [f" {h}\u3000" for h in reversed(HEADERS)]
    book = Workbook()
    book.active.append(shuffled)
    book.active.append([row()[h] for h in reversed(HEADERS)])
    path = tmp_path / "shuffled.xlsx"
    book.save(path)
    assert "新增 1" in run(path)


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "empty.xlsx", "文件为空"),
        (b"not a spreadsheet", "fake.xlsx", "无法读取文件"),
        ("户编号,县（市、区）\n".encode(), "header-only.csv", "缺少必填列"),
    ],
)
def test_it_refuses_a_file_that_is_not_a_ledger(
    tmp_path: Path, content: bytes, name: str, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        run(path)


def test_the_export_reimports_with_no_change(tmp_path: Path, tender: list[TenderItem]) -> None:
    rows = [
        row(备注="=HYPERLINK(\"http://x\")", 户主姓名="@张三"),
        row(户编号="XF-0002", 身份证号=IDS[1], 联系电话="0350-3031234", 低收入户="是",
            实施进度="已完工", 完工日期=dt.date(2023, 10, 12)),
    ]  # fmt: skip
    run(csv_file(tmp_path, rows))  # text, as a form or CSV brings it, not an Excel formula
    exported = tmp_path / "export.xlsx"
    call_command("export_ledger", str(exported), stdout=io.StringIO())
    sheet = load_workbook(exported).active
    assert [c.value for c in sheet[1]] == [*HEADERS, "任务年度"]  # the export writes the year
    assert sheet["O2"].value == 2023
    assert sheet["N2"].value == '\'=HYPERLINK("http://x")'  # neutralised, never run
    assert sheet["E2"].value == "'@张三"
    assert sheet["N2"].data_type == "s"
    assert "新增 0，更新 0，未变 2" in run(exported)


def test_export_of_one_county(tmp_path: Path, tender: list[TenderItem]) -> None:
    other = yuanping_row()
    run(xlsx(tmp_path, [row(), other]))
    exported = tmp_path / "yp.xlsx"
    call_command("export_ledger", str(exported), "--county", "原平市", stdout=io.StringIO())
    assert [r[0].value for r in load_workbook(exported).active.iter_rows(min_row=2)] == ["YP-1"]


def test_rows_are_numbered_as_the_sheet_numbers_them(
    tmp_path: Path, tender: list[TenderItem]
) -> None:
    """Blank lines above the header: the error still names the sheet's own row."""
    book = Workbook()
    sheet = book.active
    for column, header in enumerate(HEADERS, start=1):
        sheet.cell(row=3, column=column, value=header)
    sheet.append([row(联系电话="999").get(h) for h in HEADERS])
    path = tmp_path / "titled.xlsx"
    book.save(path)
    errors = refused(path)
    assert "第4行「联系电话」" in errors


def test_a_process_setting_is_put_back_by_the_last_import() -> None:
    default = sys.getswitchinterval()
    interval = ProcessSetting(sys.getswitchinterval, sys.setswitchinterval, default / 10)
    with interval.held():
        with interval.held():  # a second import in the same process, started meanwhile
            assert sys.getswitchinterval() == default / 10
        assert sys.getswitchinterval() == default / 10  # the first one still runs
    assert sys.getswitchinterval() == default


def test_the_collector_runs_again_after_an_import_even_a_failed_one(
    tmp_path: Path, tender: list[TenderItem]
) -> None:
    assert gc.isenabled()
    refused(xlsx(tmp_path, [row(联系电话="999")]))
    assert gc.isenabled()


def test_statistics_are_refreshed_when_the_written_counties_grew_by_more_than_half(
    tmp_path: Path, tender: list[TenderItem], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A county's first upload leaves PostgreSQL's planner blind to it: ANALYZE at once. Its next
    households, fewer than half what it holds, are autovacuum's. SQLite's planner keeps no
    statistics unless asked: an import of any size there analyzes nothing (its ANALYZE takes no
    column list: a large import failed on it)."""
    monkeypatch.setattr(ledger_store, "ANALYZE_AFTER", 1)
    analyzed: list[str] = []
    real = ledger_store.LedgerStore.analyze

    def spied(self: ledger_store.LedgerStore) -> None:
        analyzed.append(self.source)
        real(self)

    monkeypatch.setattr(ledger_store.LedgerStore, "analyze", spied)
    for name, numbers in (("a", range(0, 4)), ("b", range(4, 6)), ("c", range(6, 10))):
        rows = [row(户编号=f"XF-{i}", 身份证号=id_number(i)) for i in numbers]
        run(xlsx(tmp_path, rows, name=f"{name}.xlsx"))
    assert Household.objects.count() == 10
    # 4 into none; 2 onto 4 (no); 4 onto 6 (yes)
    expected = ["台账导入：a.xlsx", "台账导入：c.xlsx"] if connection.vendor == "postgresql" else []
    assert analyzed == expected
