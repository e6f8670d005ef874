"""Import feedback (issue 19 item 14): the annotated error file reads like the template (dates as
dates, only the wrong cells tinted, columns as wide as they need), a passed 仅检查 is imported by
确认导入 from the file it kept (once, every row checked again, rows changed since the check
refused), and the grid-upgrade import lists the invalid township and the future date by row and
column, in its annotated file too."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.http import FileResponse
from django.test import Client
from django.urls import resolve, reverse
from openpyxl import load_workbook
from openpyxl.cell.cell import Cell
from openpyxl.worksheet.worksheet import Worksheet

from energy_supply.models import GasNetwork, SupplyImport
from energy_supply.sheets import NETWORK, UPGRADE
from heating.models import User
from retrofits.models import Household, LedgerImport, TenderItem
from retrofits.services import household_save
from tests.conftest import login
from tests.ledger_files import IDS, row, xlsx
from tests.test_supply_import import a_network, an_upgrade, sheet

pytestmark = pytest.mark.django_db

TINT = "FFFDE2E1"


def upload(client: Client, url: str, path: Path, capture: Any, *, dry_run: bool = False) -> Any:
    """Post the file; the job runs (in-process, as under make run) once the request commits."""
    data = {"dry_run": "on"} if dry_run else {}
    with path.open("rb") as f, capture(execute=True):
        response = client.post(url, {"file": f, **data})
    assert response.status_code == 302
    match = resolve(response["Location"])
    model = LedgerImport if match.url_name == "ledger-import-detail" else SupplyImport
    return model.objects.get(pk=match.kwargs["pk"])


def confirm(client: Client, name: str, job: Any, capture: Any) -> Any:
    """Press 确认导入 on the job's page; the import it starts runs once the request commits."""
    with capture(execute=True):
        response = client.post(reverse(name, args=[job.pk]))
    assert response.status_code == 302
    return response


def annotated(client: Client, name: str, job: Any) -> Worksheet:
    response = client.get(reverse(name, args=[job.pk]))
    assert isinstance(response, FileResponse) and response.status_code == 200
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = book.worksheets[0]
    assert isinstance(sheet, Worksheet)
    return sheet


def tinted(cell: Cell) -> bool:
    return cell.fill.fill_type == "solid" and cell.fill.fgColor.rgb == TINT


def column_of(sheet: Worksheet, header: str) -> str:
    return next(str(c.column_letter) for c in sheet[1] if c.value == header)


# ---------------------------------------------------------------- the annotated file


def test_the_annotated_file_shows_dates_tints_the_bad_cell_only_and_sizes_its_columns(
    client: Client, official: User, tender: list[TenderItem], tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    login(client, official)
    done = {"实施进度": "已完工", "完工日期": dt.date(2023, 10, 12)}
    rows = [row(**done), row(户编号="XF-0002", 身份证号=IDS[1], 城乡类型="郊区", **done)]
    job = upload(
        client, reverse("ledger-import"), xlsx(tmp_path, rows), django_capture_on_commit_callbacks
    )
    assert job.status == "failed" and job.error_count == 1
    table = annotated(client, "ledger-import-errors", job)

    date = table[f"{column_of(table, '完工日期')}3"]
    assert date.value == dt.datetime(2023, 10, 12) and date.is_date  # not 45211
    assert "yy" in date.number_format and "dd" in date.number_format
    area = column_of(table, "城乡类型")
    assert tinted(table[f"{area}3"]) and table[f"{area}3"].value == "郊区"
    assert "应为 城区/县城 或 农村" in str(table[f"{area}3"].comment.text)
    others = [c for c in table[3] if c.column_letter not in (area, column_of(table, "错误说明"))]
    assert others and not any(tinted(c) for c in others)  # the row is not tinted, its cell is
    assert not any(tinted(c) for c in table[2])
    assert "第3行「城乡类型」" in str(table[f"{column_of(table, '错误说明')}3"].value)

    widths = {c.value: table.column_dimensions[c.column_letter].width for c in table[1]}
    assert all(w and w >= 10 for w in widths.values()), widths  # none left at the default
    assert widths["身份证号"] >= 20 and widths["错误说明"] >= 30
    assert widths["乡（镇、街道）"] >= 14  # the header fits: 7 characters, each two wide


def test_the_grid_import_lists_the_township_and_the_future_date_and_marks_them(
    client: Client, official: User, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    login(client, official)
    rows = [
        an_upgrade(),
        an_upgrade(
            工程编号="DW-2", 投运日期=dt.date(2099, 1, 1),
            **{"乡（镇、街道）": "火星镇", "新增配变容量（kVA）": -5},
        ),
    ]  # fmt: skip
    job = upload(
        client,
        reverse("supply-import", args=["upgrades"]),
        sheet(tmp_path, UPGRADE, rows),
        django_capture_on_commit_callbacks,
    )
    said = [(e["row"], e["column"], e["message"]) for e in job.errors]
    assert said == [
        (3, "乡（镇、街道）", "「火星镇」不是忻府区的乡（镇、街道）"),
        (3, "新增配变容量（kVA）", "「-5」应为正数"),
        (3, "投运日期", "投运日期2099-01-01晚于今天"),
    ]
    page = client.get(reverse("supply-import-detail", args=[job.pk])).content.decode()
    assert "下载标注错误的文件" in page and "火星镇" in page and "2099-01-01晚于今天" in page

    table = annotated(client, "supply-import-errors", job)
    township, day = column_of(table, "乡（镇、街道）"), column_of(table, "投运日期")
    assert tinted(table[f"{township}3"]) and tinted(table[f"{day}3"])
    assert table[f"{day}3"].is_date and table[f"{day}3"].value == dt.datetime(2099, 1, 1)
    assert table[f"{day}2"].is_date and not tinted(table[f"{day}2"])
    assert not tinted(table[f"{column_of(table, '工程编号')}3"])
    assert table.column_dimensions[township].width >= 14


# ---------------------------------------------------------------- 确认导入 after 仅检查


def test_a_passed_dry_run_is_imported_from_its_kept_file_once(
    client: Client, official: User, tender: list[TenderItem], tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    capture = django_capture_on_commit_callbacks
    login(client, official)
    checked = upload(
        client, reverse("ledger-import"), xlsx(tmp_path, [row()]), capture, dry_run=True
    )
    assert (checked.status, checked.dry_run) == ("succeeded", True)
    page = client.get(reverse("ledger-import-detail", args=[checked.pk])).content.decode()
    assert "确认导入" in page and reverse("ledger-import-confirm", args=[checked.pk]) in page
    assert not Household.objects.exists()

    response = confirm(client, "ledger-import-confirm", checked, capture)
    done = LedgerImport.objects.get(confirms=checked)
    assert response["Location"] == reverse("ledger-import-detail", args=[done.pk])
    assert (done.status, done.dry_run, done.created_count) == ("succeeded", False, 1)
    assert (done.created_by, done.county) == (official, official.county)
    assert Household.objects.get().code == "XF-0001"
    page = client.get(reverse("ledger-import-detail", args=[checked.pk])).content.decode()
    assert "已确认导入" in page and 'type="submit" class="primary">确认导入' not in page

    again = confirm(client, "ledger-import-confirm", checked, capture)  # a second click
    assert again["Location"] == reverse("ledger-import-detail", args=[done.pk])
    assert LedgerImport.objects.count() == 2 and Household.objects.count() == 1
    assert "这次检查已确认导入，未重复导入" in client.get(again["Location"]).content.decode()


def test_a_confirmed_import_checks_every_row_again(
    client: Client, official: User, tender: list[TenderItem], tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    capture = django_capture_on_commit_callbacks
    login(client, official)
    mine = xlsx(tmp_path, [row(身份证号=IDS[2])], name="mine.xlsx")
    checked = upload(client, reverse("ledger-import"), mine, capture, dry_run=True)
    # Meanwhile another file registers that ID number for another household.
    theirs = xlsx(tmp_path, [row(户编号="XF-0009", 身份证号=IDS[2])], name="theirs.xlsx")
    assert upload(client, reverse("ledger-import"), theirs, capture).status == "succeeded"

    confirm(client, "ledger-import-confirm", checked, capture)
    done = LedgerImport.objects.get(confirms=checked)
    assert done.status == "failed" and done.error_count == 1
    assert done.errors[0]["row"] == 2 and done.errors[0]["column"] == "身份证号"
    assert list(Household.objects.values_list("code", flat=True)) == ["XF-0009"]
    assert done.error_file  # the annotated file, as for any failed import


def test_rows_changed_since_the_check_are_refused_not_overwritten(
    client: Client, official: User, tender: list[TenderItem], tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    capture = django_capture_on_commit_callbacks
    login(client, official)
    upload(client, reverse("ledger-import"), xlsx(tmp_path, [row()]), capture)
    file = xlsx(tmp_path, [row(户主姓名="张三丰")], name="names.xlsx")
    checked = upload(client, reverse("ledger-import"), file, capture, dry_run=True)
    assert checked.status == "succeeded" and checked.updated_count == 1
    household = Household.objects.get()
    household.phone = "13900000000"  # corrected on the form after the check
    household_save(household=household, user=official, reason="电话有误")

    confirm(client, "ledger-import-confirm", checked, capture)
    done = LedgerImport.objects.get(confirms=checked)
    assert done.status == "failed" and [(e["row"], e["column"]) for e in done.errors] == [
        (2, "户编号")
    ]
    assert "检查之后" in done.errors[0]["message"] and "已被修改" in done.errors[0]["message"]
    household.refresh_from_db()
    assert (household.head_name, household.phone) == ("张三", "13900000000")


def test_confirm_is_refused_in_chinese_when_the_kept_file_is_gone(
    client: Client, official: User, tender: list[TenderItem], tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    capture = django_capture_on_commit_callbacks
    login(client, official)
    checked = upload(
        client, reverse("ledger-import"), xlsx(tmp_path, [row()]), capture, dry_run=True
    )
    checked.file.storage.delete(checked.file.name)
    response = confirm(client, "ledger-import-confirm", checked, capture)
    assert response["Location"] == reverse("ledger-import-detail", args=[checked.pk])
    assert "检查时保存的文件已不在，请重新上传" in client.get(response["Location"]).content.decode()
    assert LedgerImport.objects.count() == 1 and not Household.objects.exists()


def test_confirm_is_refused_for_a_failed_check_and_a_real_import(
    client: Client, official: User, tender: list[TenderItem], tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    capture = django_capture_on_commit_callbacks
    login(client, official)
    bad = xlsx(tmp_path, [row(城乡类型="郊区")], name="bad.xlsx")
    failed = upload(client, reverse("ledger-import"), bad, capture, dry_run=True)
    real = upload(client, reverse("ledger-import"), xlsx(tmp_path, [row()]), capture)
    for job, said in ((failed, "这次检查未通过"), (real, "无需确认导入")):
        response = confirm(client, "ledger-import-confirm", job, capture)
        assert said in client.get(response["Location"]).content.decode()
    assert LedgerImport.objects.count() == 2 and Household.objects.count() == 1


def test_confirm_is_the_uploaders_alone_and_a_post(
    client: Client, official: User, other_official: User, tender: list[TenderItem],
    tmp_path: Path, django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    capture = django_capture_on_commit_callbacks
    login(client, official)
    checked = upload(
        client, reverse("ledger-import"), xlsx(tmp_path, [row()]), capture, dry_run=True
    )
    url = reverse("ledger-import-confirm", args=[checked.pk])
    assert client.get(url).status_code == 405
    assert client.post(reverse("ledger-import-confirm", args=[10**6])).status_code == 404
    assert login(client, other_official).post(url).status_code == 404
    assert LedgerImport.objects.count() == 1 and not Household.objects.exists()


def test_a_supply_dry_run_is_imported_from_its_kept_file_once(
    client: Client, official: User, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    capture = django_capture_on_commit_callbacks
    login(client, official)
    url = reverse("supply-import", args=["networks"])
    checked = upload(client, url, sheet(tmp_path, NETWORK, [a_network()]), capture, dry_run=True)
    assert (checked.status, checked.created_count) == ("succeeded", 1)
    page = client.get(reverse("supply-import-detail", args=[checked.pk])).content.decode()
    assert reverse("supply-import-confirm", args=[checked.pk]) in page
    assert not GasNetwork.objects.filter(code="GW-2023-1").exists()

    response = confirm(client, "supply-import-confirm", checked, capture)
    done = SupplyImport.objects.get(confirms=checked)
    assert response["Location"] == reverse("supply-import-detail", args=[done.pk])
    assert (done.status, done.kind, done.created_count) == ("succeeded", "networks", 1)
    assert GasNetwork.objects.filter(code="GW-2023-1").count() == 1

    again = confirm(client, "supply-import-confirm", checked, capture)
    assert again["Location"] == reverse("supply-import-detail", args=[done.pk])
    assert SupplyImport.objects.count() == 2
    assert GasNetwork.objects.get(code="GW-2023-1").history.count() == 1


def test_a_supply_record_changed_since_the_check_is_refused_not_overwritten(
    client: Client, official: User, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    capture = django_capture_on_commit_callbacks
    login(client, official)
    url = reverse("supply-import", args=["networks"])
    upload(client, url, sheet(tmp_path, NETWORK, [a_network()]), capture)
    longer = sheet(tmp_path, NETWORK, [a_network(**{"管网长度（公里）": 20})], "longer.xlsx")
    checked = upload(client, url, longer, capture, dry_run=True)
    assert (checked.status, checked.updated_count) == ("succeeded", 1)
    # Meanwhile another upload renames the company.
    renamed = sheet(tmp_path, NETWORK, [a_network(燃气企业="晋北燃气")], "renamed.xlsx")
    assert upload(client, url, renamed, capture).updated_count == 1

    confirm(client, "supply-import-confirm", checked, capture)
    done = SupplyImport.objects.get(confirms=checked)
    assert done.status == "failed" and [(e["row"], e["column"]) for e in done.errors] == [
        (2, "工程编号")
    ]
    assert "该记录在检查之后" in done.errors[0]["message"] and done.error_file
    network = GasNetwork.objects.get(code="GW-2023-1")
    assert (network.company, network.length_km) == ("晋北燃气", 12.5)


def test_the_database_keeps_one_import_per_check(official: User) -> None:
    checked = LedgerImport.objects.create(
        original_name="a.xlsx", created_by=official, dry_run=True, status="succeeded"
    )
    LedgerImport.objects.create(original_name="a.xlsx", created_by=official, confirms=checked)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerImport.objects.create(original_name="a.xlsx", created_by=official, confirms=checked)
