"""`import_targets` and `export_targets`: the printed table in and out, and every broken table refused."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from heating.models import Target
from tests.conftest import TABLE_2023

pytestmark = pytest.mark.django_db

# Rows and columns of the printed 2023 sheet.
XINZHOU_CITY, XINFU, DINGXIANG, TOTAL = 5, 6, 7, 21
TOTAL_URBAN, TOTAL_RURAL, TOTAL_SUM = "B", "C", "D"
DISTRICT_URBAN, DISTRICT_RURAL, DISTRICT_SUM = "E", "F", "G"
ELECTRIC_RURAL, ELECTRIC_SUM = "I", "J"


def edited_table(tmp_path: Path, edit: Callable[[Worksheet], None]) -> Path:
    book = load_workbook(TABLE_2023)
    edit(book.active)
    path = tmp_path / "table.xlsx"
    book.save(path)
    return path


def snapshot() -> list[tuple[int, str, str, int]]:
    return list(Target.objects.values_list("county_id", "path", "area", "households"))


def run_import(path: Path, year: int = 2023) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_targets", str(path), "--year", str(year), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def refused(path: Path) -> str:
    """Import a broken table: it must fail, list its errors on stderr and change nothing."""
    before = snapshot()
    err = io.StringIO()
    with pytest.raises(CommandError, match="未写入任何数据"):
        call_command("import_targets", str(path), "--year", "2023", stderr=err)
    assert snapshot() == before
    return err.getvalue()


def test_it_prints_the_city_total() -> None:
    out, _ = run_import(TABLE_2023)
    assert "209683" in out
    assert "未变 16 个县" in out


def test_the_export_reimports_to_identical_targets(tmp_path: Path) -> None:
    Target.objects.all().delete()
    run_import(TABLE_2023)
    before = snapshot()
    exported = tmp_path / "out.xlsx"
    call_command("export_targets", str(exported), "--year", "2023", stdout=io.StringIO())

    Target.objects.all().delete()
    out, _ = run_import(exported)
    assert "新增 16 个县" in out
    assert sorted(snapshot()) == sorted(before)


def test_the_export_keeps_the_printed_layout(tmp_path: Path) -> None:
    exported = tmp_path / "out.xlsx"
    call_command("export_targets", str(exported), "--year", "2023", stdout=io.StringIO())
    original, ours = load_workbook(TABLE_2023).active, load_workbook(exported).active
    assert sorted(map(str, ours.merged_cells.ranges)) == sorted(
        map(str, original.merged_cells.ranges)
    )
    assert [[c.value for c in row] for row in ours.iter_rows()] == [
        [c.value for c in row] for row in original.iter_rows()
    ]


def test_a_changed_cell_updates_only_that_county(tmp_path: Path) -> None:
    def move_100_households(sheet: Worksheet) -> None:
        # 定襄县: 100 households from 煤改电 to 集中供热, all sums kept.
        sheet[f"{DISTRICT_RURAL}{DINGXIANG}"] = 1700
        sheet[f"{DISTRICT_SUM}{DINGXIANG}"] = 1700
        sheet[f"{ELECTRIC_RURAL}{DINGXIANG}"] = 1292
        sheet[f"{ELECTRIC_SUM}{DINGXIANG}"] = 1292
        for column, delta in ((DISTRICT_RURAL, 100), (DISTRICT_SUM, 100)):
            sheet[f"{column}{TOTAL}"] = sheet[f"{column}{TOTAL}"].value + delta
        for column in (ELECTRIC_RURAL, ELECTRIC_SUM):
            sheet[f"{column}{TOTAL}"] = sheet[f"{column}{TOTAL}"].value - 100

    out, _ = run_import(edited_table(tmp_path, move_100_households))
    assert "更新 1 个县" in out
    assert (
        Target.objects.get(county__short_name="定襄县", path="district", area="rural").households
        == 1700
    )
    assert Target.objects.for_year(2023).total() == 209683


def test_it_refuses_an_unknown_county(tmp_path: Path) -> None:
    errors = refused(edited_table(tmp_path, lambda s: s.__setitem__(f"A{XINFU}", "忻府县")))
    assert "第6行（忻府县）「县（市、区）」：未知的县（市、区）「忻府县」" in errors
    assert "缺少以下单位的行：忻府区" in errors


def test_it_accepts_full_names_and_division_codes(tmp_path: Path) -> None:
    def rename(sheet: Worksheet) -> None:
        sheet["A20"] = "五台山风景名胜区"
        sheet[f"A{XINFU}"] = 140902

    out, _ = run_import(edited_table(tmp_path, rename))
    assert "未变 16 个县" in out


def test_it_refuses_a_duplicated_county(tmp_path: Path) -> None:
    errors = refused(edited_table(tmp_path, lambda s: s.__setitem__(f"A{DINGXIANG}", "忻府区")))
    assert "第7行（忻府区）「县（市、区）」：与第6行重复" in errors


def test_it_refuses_a_negative_number(tmp_path: Path) -> None:
    errors = refused(
        edited_table(tmp_path, lambda s: s.__setitem__(f"{DISTRICT_URBAN}{XINZHOU_CITY}", -5))
    )
    assert "第5行（忻州城区）「集中供热（工业余热） · 城区/县城」：「-5」为负数" in errors


@pytest.mark.parametrize("value", [10.5, "十", "12户"])
def test_it_refuses_what_is_not_a_whole_number(tmp_path: Path, value: object) -> None:
    errors = refused(
        edited_table(tmp_path, lambda s: s.__setitem__(f"{ELECTRIC_RURAL}{XINFU}", value))
    )
    assert f"第6行（忻府区）「煤改电 · 农村」：「{value}」不是" in errors


def test_it_refuses_a_sum_that_is_not_urban_plus_rural(tmp_path: Path) -> None:
    errors = refused(
        edited_table(tmp_path, lambda s: s.__setitem__(f"{DISTRICT_SUM}{DINGXIANG}", 1601))
    )
    assert (
        "第7行（定襄县）「集中供热（工业余热） · 合计」：合计为1601，应为 城区/县城 + 农村 = 0 + 1600 = 1600"
        in errors
    )


def test_it_refuses_a_total_that_is_not_the_sum_of_the_paths(tmp_path: Path) -> None:
    errors = refused(edited_table(tmp_path, lambda s: s.__setitem__(f"{TOTAL_RURAL}{XINFU}", 4450)))
    assert (
        "第6行（忻府区）「总任务数 · 农村」：总任务数为4450，应为四种取暖路径之和 0 + 4449 + 0 + 0 = 4449"
        in errors
    )


def test_it_refuses_a_total_row_that_is_not_the_sum_of_the_rows(tmp_path: Path) -> None:
    errors = refused(
        edited_table(tmp_path, lambda s: s.__setitem__(f"{TOTAL_URBAN}{TOTAL}", 162585))
    )
    assert (
        "第21行（总计）「总任务数 · 城区/县城」：总计为162585，应为各县（市、区）之和 162584"
        in errors
    )


def test_it_lists_every_error_at_once(tmp_path: Path) -> None:
    def break_three_things(sheet: Worksheet) -> None:
        sheet[f"A{XINFU}"] = "不存在县"
        sheet[f"{ELECTRIC_RURAL}{DINGXIANG}"] = -1
        sheet[f"{TOTAL_SUM}{TOTAL}"] = 1

    errors = refused(edited_table(tmp_path, break_three_things))
    assert "第6行（不存在县）「县（市、区）」" in errors
    assert "第7行（定襄县）「煤改电 · 农村」" in errors
    assert "第21行（总计）「总任务数 · 合计」" in errors


def test_it_refuses_a_table_without_its_total_row(tmp_path: Path) -> None:
    errors = refused(edited_table(tmp_path, lambda s: s.delete_rows(TOTAL)))
    assert "缺少总计行" in errors


def test_it_refuses_a_table_of_another_year(tmp_path: Path) -> None:
    errors = refused(
        edited_table(
            tmp_path, lambda s: s.__setitem__("A1", "忻州市2024年冬季清洁取暖改造任务分解表")
        )
    )
    assert "标题为2024年的任务表，与导入年度2023年不一致" in errors


def test_it_refuses_a_file_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "table.xlsx"
    path.write_text("县（市、区）,总任务数\n")
    with pytest.raises(CommandError, match="不是有效的 Excel 工作簿"):
        run_import(path)


def test_it_refuses_other_headers_naming_the_cell(tmp_path: Path) -> None:
    path = edited_table(tmp_path, lambda s: s.__setitem__("H3", "煤改电（空气源）"))
    with pytest.raises(CommandError, match="H3 应为「煤改电」，实为「煤改电（空气源）」"):
        run_import(path)


def test_it_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="找不到文件"):
        run_import(tmp_path / "nothing.xlsx")


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    Target.objects.all().delete()
    out = io.StringIO()
    call_command("import_targets", str(TABLE_2023), "--year", "2023", "--dry-run", stdout=out)
    assert "检查通过，未写入" in out.getvalue()
    assert not Target.objects.exists()


def test_a_new_year_gets_the_default_calendar(tmp_path: Path) -> None:
    table = edited_table(
        tmp_path, lambda s: s.__setitem__("A1", "忻州市2024年冬季清洁取暖改造任务分解表")
    )
    out, _ = run_import(table, year=2024)
    assert "新建计划年度 2024" in out
    assert Target.objects.for_year(2024).total() == 209683
