"""Files that would hurt the service are refused, in Chinese, and the process that reads them lives:
a sheet claiming cell XFD1048576 (the parser asks for 512 GiB and aborts), a zip bomb, a file of more
rows than an import takes, too many sheets; and a hidden first sheet is not what gets imported."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse
from openpyxl import Workbook

from heating.models import User
from retrofits.models import Household, LedgerImport, TenderItem
from tests.conftest import login
from tests.ledger_files import HEADERS, row, xlsx

pytestmark = pytest.mark.django_db

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/'
    '2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
    'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override '
    'PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    'spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType='
    '"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
    'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
    'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
    'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)
SHEET_START = (
    b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
    b'spreadsheetml/2006/main">'
)
HEADER_ROW = b'<row r="1"><c r="A1" t="inlineStr"><is><t>\xe6\x88\xb7\xe7\xbc\x96\xe5\x8f\xb7</t></is></c></row>'


def hand_made(path: Path, sheet: bytes | None = None, *, write_sheet: Any = None) -> Path:
    """A minimal xlsx whose one sheet is `sheet`, or is written by `write_sheet(file)`."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        for name, text in (
            ("[Content_Types].xml", CONTENT_TYPES),
            ("_rels/.rels", RELS),
            ("xl/workbook.xml", WORKBOOK),
            ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
        ):
            book.writestr(name, text)
        if sheet is not None:
            book.writestr("xl/worksheets/sheet1.xml", sheet)
        else:
            with book.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
                write_sheet(part)
    return path


def far_cell(path: Path, *, declared: bool) -> Path:
    """One header cell and one cell at XFD1048576, with or without a dimension saying so."""
    dimension = b'<dimension ref="A1:XFD1048576"/>' if declared else b""
    far = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    return hand_made(
        path,
        SHEET_START + dimension + b"<sheetData>" + HEADER_ROW + far + b"</sheetData></worksheet>",
    )


def imported(path: Path) -> str:
    """What the CLI import says: its refusal, or its outcome."""
    try:
        out = io.StringIO()
        call_command("import_ledger", str(path), stdout=out)
        return out.getvalue()
    except CommandError as exc:
        return str(exc)


def test_a_sheet_that_claims_the_last_cell_is_refused_before_parsing(tmp_path: Path) -> None:
    said = imported(far_cell(tmp_path / "declared.xlsx", declared=True))
    assert "文件有 1,048,576 行，超过每次导入 300,000 行的上限，请分成几个文件上传" in said


def test_a_sheet_with_a_far_cell_and_no_dimension_is_refused_and_the_process_lives(
    tmp_path: Path,
) -> None:
    """The parser aborts on it: in the reading process, under its memory ceiling, not in ours."""
    said = imported(far_cell(tmp_path / "undeclared.xlsx", declared=False))
    assert "文件无法读取：读取时超出 1,024 MB 的内存上限，或文件已损坏" in said
    assert not Household.objects.exists()


@override_settings(MAX_UNCOMPRESSED_MB=5)
def test_a_zip_bomb_is_refused_by_its_size_once_unzipped(tmp_path: Path) -> None:
    def rows(part: Any) -> None:
        part.write(SHEET_START + b"<sheetData>" + HEADER_ROW)
        filler = b'<row><c t="inlineStr"><is><t>' + b"x" * 1000 + b"</t></is></c></row>"
        for _ in range(6000):
            part.write(filler)
        part.write(b"</sheetData></worksheet>")

    bomb = hand_made(tmp_path / "bomb.xlsx", write_sheet=rows)
    assert bomb.stat().st_size < 100_000
    assert "文件解压后有 6 MB，超过 5 MB 的上限" in imported(bomb)


@override_settings(MAX_UPLOAD_ROWS=10)
def test_more_rows_than_an_import_takes_are_refused_in_xlsx_and_csv(
    tmp_path: Path, tender: list[TenderItem]
) -> None:
    rows = [row(户编号=f"XF-{n:04d}", 身份证号=None) for n in range(1, 17)]
    for name in ("many.xlsx", "many.csv"):
        path = xlsx(tmp_path, rows, name=name) if name.endswith("xlsx") else _csv(tmp_path, rows)
        assert "超过每次导入 10 行的上限，请分成几个文件上传" in imported(path), name


def _csv(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    path = tmp_path / "many.csv"
    lines = [",".join(HEADERS)] + [",".join(str(r[h] or "") for h in HEADERS) for r in rows]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_too_many_sheets_are_refused(tmp_path: Path) -> None:
    book = Workbook()
    for n in range(60):
        book.create_sheet(f"表{n}")
    path = tmp_path / "sheets.xlsx"
    book.save(path)
    assert "工作簿有 61 张工作表，请只保留台账一张表后上传" in imported(path)


def test_the_first_visible_sheet_is_imported_not_a_hidden_one_before_it(
    tmp_path: Path, tender: list[TenderItem]
) -> None:
    book = Workbook()
    hidden = book.active
    hidden.title = "隐藏"
    hidden.append(HEADERS)
    hidden.append([row(户编号="XF-HIDDEN")[h] for h in HEADERS])
    hidden.sheet_state = "hidden"
    shown = book.create_sheet("台账")
    shown.append(HEADERS)
    shown.append([row()[h] for h in HEADERS])
    book.active = 1
    path = tmp_path / "hidden.xlsx"
    book.save(path)
    imported(path)
    assert list(Household.objects.values_list("code", flat=True)) == ["XF-0001"]


def test_a_hostile_web_upload_fails_its_job_in_chinese_and_keeps_nothing(
    client: Client, official: User, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    login(client, official)
    with (
        far_cell(tmp_path / "far.xlsx", declared=False).open("rb") as f,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(reverse("ledger-import"), {"file": f})
    job = LedgerImport.objects.get()
    assert job.status == "failed" and "内存上限" in job.message and not job.file
    assert "内存上限" in client.get(response["Location"]).content.decode()
