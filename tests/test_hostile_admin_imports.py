"""The admin's imports (the task-breakdown table, the tender list) and their commands read the file
with the bounded reader, as the ledger does: a sheet claiming cell XFD1048576 (parsed in the web
process, 1.6 KB of it took the admin from 170 MB to 5.9 GB) is refused in Chinese before it is
parsed, one that makes the parser abort kills only the reader's child, a CSV is bounded too, and the
upload itself is bounded in size. Nothing here parses a spreadsheet in the test's own process:
openpyxl's, tablib's and calamine's readers fail the test if called."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import python_calamine
import tablib
from django.core.management import CommandError, call_command
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse
from import_export.tmp_storages import MediaStorage
from openpyxl import Workbook

from heating.models import Target, User
from retrofits.models import TenderItem
from tests.conftest import login
from tests.test_hostile_uploads import far_cell

pytestmark = pytest.mark.django_db

TARGETS = reverse("admin:heating_target_import")
TENDER = reverse("admin:retrofits_tenderitem_import")
TENDER_CONFIRM = reverse("admin:retrofits_tenderitem_process_import")
XLSX, CSV = "0", "1"  # the tender page's formats, in their order
# What the web process may grow by while refusing (it went to 5.9 GB): the page and the file.
WEB_PEAK_MB = 20
TENDER_HEADER = "设备类别,适用路径,型号,中标企业,额定功率（kW）,中标单价（元）\n"


@pytest.fixture(autouse=True)
def nothing_parsed_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """The spreadsheet readers a web process could call, made to fail: only the reader's child
    (another interpreter, untouched by this) may parse."""

    def parsed(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a spreadsheet was parsed in the web process")

    monkeypatch.setattr(openpyxl, "load_workbook", parsed)
    # Where a module took openpyxl's reader as its own name (the task table's, before).
    monkeypatch.setattr("heating.breakdown.load_workbook", parsed, raising=False)
    monkeypatch.setattr(openpyxl.reader.excel, "load_workbook", parsed)
    monkeypatch.setattr(tablib, "import_set", parsed)
    monkeypatch.setattr(python_calamine, "load_workbook", parsed)


def posted(client: Client, url: str, path: Path, **fields: str) -> tuple[Any, float]:
    """The admin's answer to an upload, and how far the process's Python memory rose meanwhile."""
    tracemalloc.start()
    try:
        with path.open("rb") as f:
            response = client.post(url, {"resource": "0", "import_file": f, **fields})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return response, peak / 2**20


def to_targets(client: Client, path: Path) -> tuple[Any, float]:
    return posted(client, TARGETS, path, plan_year="2023", format="0")


def to_tender(client: Client, path: Path, file_format: str = XLSX) -> tuple[Any, float]:
    return posted(client, TENDER, path, format=file_format)


def refusal(response: Any) -> str:
    assert response.status_code == 200
    assert not response.context.get("confirm_form")
    return " ".join(response.context["form"].errors.get("import_file", []))


UPLOADS: dict[str, Callable[[Client, Path], tuple[Any, float]]] = {
    "targets": to_targets,
    "tender": to_tender,
}


def test_a_sheet_claiming_the_last_cell_is_refused_by_the_targets_import(
    client: Client, municipal: User, tmp_path: Path
) -> None:
    before = Target.objects.for_year(2023).total()
    response, peak = to_targets(
        login(client, municipal), far_cell(tmp_path / "far.xlsx", declared=True)
    )
    assert (
        "文件有 1,048,576 行，超过每次导入 1,000 行的上限，任务分解表只有各县（市、区）和总计行"
        in (refusal(response))
    )
    assert peak < WEB_PEAK_MB
    assert Target.objects.for_year(2023).total() == before


def test_a_sheet_claiming_the_last_cell_is_refused_by_the_tender_import(
    client: Client, municipal: User, tmp_path: Path
) -> None:
    response, peak = to_tender(
        login(client, municipal), far_cell(tmp_path / "far.xlsx", declared=True)
    )
    assert "文件有 1,048,576 行，超过每次导入 2,000 行的上限，中标设备清单每个型号一行" in (
        refusal(response)
    )
    assert peak < WEB_PEAK_MB
    assert not TenderItem.objects.exists()


@pytest.mark.parametrize("page", UPLOADS)
def test_a_sheet_that_makes_the_parser_abort_kills_only_the_reader(
    client: Client, municipal: User, tmp_path: Path, page: str
) -> None:
    response, peak = UPLOADS[page](
        login(client, municipal), far_cell(tmp_path / "far.xlsx", declared=False)
    )
    assert "文件无法读取：读取时超出 1,024 MB 的内存上限，或文件已损坏" in refusal(response)
    assert peak < WEB_PEAK_MB


@pytest.mark.parametrize("page", UPLOADS)
@override_settings(MAX_UPLOAD_MB=1)
def test_an_upload_over_the_size_limit_is_refused_on_the_form(
    client: Client, municipal: User, tmp_path: Path, page: str
) -> None:
    big = tmp_path / "big.xlsx"
    big.write_bytes(b"PK" + b"\0" * (2 * 2**20))
    response, _ = UPLOADS[page](login(client, municipal), big)
    assert "文件超过 1 MB 的上限" in refusal(response)


def test_an_upload_larger_than_its_format_takes_is_refused_before_it_is_read(
    client: Client, municipal: User, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tender list is kilobytes: 21 MB is not one, and is not read into memory to find out."""

    def kept(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the upload was read and kept")

    monkeypatch.setattr(MediaStorage, "save", kept)
    path = tmp_path / "large.csv"
    path.write_bytes(TENDER_HEADER.encode() + b"x" * (21 * 2**20))
    response, _ = to_tender(login(client, municipal), path, CSV)
    assert "文件有 21 MB，超过此处导入 20 MB 的上限，请检查是否选错了文件" in refusal(response)


def test_a_tender_csv_of_too_many_lines_is_refused_before_it_is_decoded(
    client: Client, municipal: User, tmp_path: Path
) -> None:
    path = tmp_path / "long.csv"
    path.write_text(TENDER_HEADER + "热泵,煤改电,M,甲,8,20000\n" * 3000, encoding="utf-8")
    response, peak = to_tender(login(client, municipal), path, CSV)
    assert "文件有 3,001 行，超过每次导入 2,000 行的上限" in refusal(response)
    assert peak < WEB_PEAK_MB


def test_a_tender_csv_with_a_huge_cell_is_refused(
    client: Client, municipal: User, tmp_path: Path
) -> None:
    path = tmp_path / "cell.csv"
    path.write_text(TENDER_HEADER + '热泵,煤改电,"' + "M" * 500_000 + '",甲,8,20000\n')
    response, _ = to_tender(login(client, municipal), path, CSV)
    assert "CSV 文件第2行无法读取：单元格过长" in refusal(response)


def test_the_tender_list_in_gbk_goes_through_preview_and_confirm(
    client: Client, municipal: User, tmp_path: Path
) -> None:
    """The admin's CSV now reads as the ledger's does: UTF-8 or GBK, as Chinese Excel saves it."""
    path = tmp_path / "tender.csv"
    path.write_text(
        TENDER_HEADER
        + "空气源热泵,煤改电,KRS-8P,甲公司,8,20000\n燃气壁挂炉,煤改气,BG-20,丙公司,20,4500\n",
        encoding="gb18030",
    )
    preview, _ = to_tender(login(client, municipal), path, CSV)
    assert preview.context["result"].totals["new"] == 2
    confirm = preview.context["confirm_form"]
    done = client.post(TENDER_CONFIRM, confirm.initial)
    assert done.status_code == 302
    assert set(TenderItem.objects.values_list("model", "vendor")) == {
        ("KRS-8P", "甲公司"),
        ("BG-20", "丙公司"),
    }


def test_a_tender_xlsx_keeps_whole_numbers_whole(
    client: Client, municipal: User, tmp_path: Path
) -> None:
    """The parser gives every number as a float: a model named 3000 stays 3000, not 3000.0."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(TENDER_HEADER.strip().split(","))
    sheet.append(["蓄热式电暖器", "煤改电", 3000, "乙公司", 3, 3650])
    sheet.append([None] * 6)  # a blank row is left out, not an error
    path = tmp_path / "tender.xlsx"
    book.save(path)
    preview, _ = to_tender(login(client, municipal), path)
    assert preview.context["result"].totals["new"] == 1
    client.post(TENDER_CONFIRM, preview.context["confirm_form"].initial)
    assert TenderItem.objects.get().model == "3000"


@pytest.mark.parametrize("command", ["import_tender", "import_targets"])
def test_the_commands_refuse_it_too(tmp_path: Path, command: str) -> None:
    far = far_cell(tmp_path / "far.xlsx", declared=True)
    options = {"year": 2023} if command == "import_targets" else {}
    with pytest.raises(CommandError, match="文件有 1,048,576 行，超过每次导入"):
        call_command(command, str(far), stdout=io.StringIO(), **options)
