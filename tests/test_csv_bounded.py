"""A CSV upload is read by the bounded reader, as an xlsx is (heating/sheet_reader.py): decoded and
parsed in its child process, streamed back a chunk at a time, so that this process never holds the
file decoded nor all its rows (a 49 MB CSV took it to 1.6 GB and kept 1.5 GB); refused in Chinese,
before its first row, when it has too many lines, a row wider than the columns allow, a cell longer
than the parser takes, or neither encoding. UTF-8 (with or without its BOM) and GBK read as before."""

from __future__ import annotations

import subprocess
import tracemalloc
from typing import Any

import pytest
from django.test.utils import override_settings

from heating import sheet_reader
from heating.sheets import Column, SheetFile, SheetFileError, read_sheet

COLUMNS = [
    Column("code", "户编号", True, ""),
    Column("name", "户主姓名", True, ""),
    Column("id_number", "身份证号", False, ""),
    Column("address", "地址", False, ""),
]
HEADER = "户编号,户主姓名,身份证号,地址\n"


def read(data: bytes) -> SheetFile:
    return read_sheet(data, "ledger.csv", COLUMNS, template="台账")


def refused(data: bytes) -> str:
    with pytest.raises(SheetFileError) as refusal:
        list(read(data).rows)
    return str(refusal.value)


def city(rows: int) -> bytes:
    lines = (f"XF-{n:06d},张三{n},140902199001011234,忻府区某某村{n}号\n" for n in range(rows))
    return (HEADER + "".join(lines)).encode()


def test_a_large_csv_is_streamed_never_held_whole() -> None:
    data = city(200_000)  # 14 MB: read whole, its rows alone took this process past 100 MB
    tracemalloc.start()
    try:
        sheet = read(data)
        count = sum(1 for _ in sheet.rows)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 200_000
    assert sheet.total == 200_000
    assert peak < 8 * 2**20, f"{peak / 2**20:.0f} MB"


@override_settings(MAX_UPLOAD_ROWS=1000)
def test_too_many_lines_are_refused_from_the_bytes_before_any_parsing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def started(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the reader was started")

    monkeypatch.setattr(subprocess, "Popen", started)
    data = city(50_000)
    tracemalloc.start()
    try:
        said = refused(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "文件有 50,001 行，超过每次导入 1,000 行的上限，请分成几个文件上传" in said
    assert peak < 2**20


def test_a_row_wider_than_the_columns_allow_is_refused_before_any_row() -> None:
    wide = HEADER + "XF-1,张三,,\n" * 10 + ",".join(["x"] * 500) + "\n"
    assert "文件有 500 列，远多于模板的列，请使用模板填写" in refused(wide.encode())


def test_a_line_too_long_to_be_a_row_is_refused_before_the_reader_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Parsed, a 49 MB line of commas took the reader 4 s and 600 MB to build one row."""

    def started(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the reader was started")

    monkeypatch.setattr(subprocess, "Popen", started)
    data = (HEADER + "XF-1,张三,,\n" + "," * 5_000_000 + "\n").encode()
    tracemalloc.start()
    try:
        said = refused(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert said == "文件第3行超过 1 MB，不是按模板填写的表格。请用 Excel 打开检查后另存。"
    assert peak < 2**20


def test_a_cell_longer_than_the_parser_takes_is_refused() -> None:
    data = (HEADER + 'XF-1,"' + "张" * 200_000 + '",,\n').encode()
    assert "CSV 文件第2行无法读取：单元格过长（超过 131,072 个字符）" in refused(data)


def test_a_file_in_neither_encoding_is_refused() -> None:
    data = HEADER.encode("utf-8") + b"XF-1,\xff\xff\xff,,\n"
    assert refused(data) == "无法识别 CSV 文件的编码，请保存为 UTF-8 或 GBK 编码。"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_utf8_with_or_without_bom_and_gbk_read_as_before(encoding: str) -> None:
    data = (HEADER + 'XF-1,张三,,"忻府区\n某某村"\n\nXF-2,李四,,\n').encode(encoding)
    sheet = read(data)
    assert sheet.positions == {"code": 0, "name": 1, "id_number": 2, "address": 3}
    assert [(n, list(r)) for n, r in sheet.rows] == [
        (2, ["XF-1", "张三", "", "忻府区\n某某村"]),
        (4, ["XF-2", "李四", "", ""]),
    ]


def test_an_empty_file_is_refused() -> None:
    assert refused(b"") == "文件为空。"


def test_rows_of_differing_widths_keep_their_cells() -> None:
    sheet = read((HEADER + "XF-1,张三\nXF-2,李四,140902199001011234,地址\n").encode())
    assert [list(r) for _, r in sheet.rows] == [
        ["XF-1", "张三"],
        ["XF-2", "李四", "140902199001011234", "地址"],
    ]


def test_the_reader_reads_a_csv_in_its_child_process(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []
    original = sheet_reader._start

    def watched(file_type: str, *args: Any) -> Any:
        started.append(file_type)
        return original(file_type, *args)

    monkeypatch.setattr(sheet_reader, "_start", watched)
    assert sum(1 for _ in read(city(10)).rows) == 10
    assert started == ["csv"]


def test_a_supply_csv_with_a_line_too_long_to_be_a_row_is_refused_at_the_upload() -> None:
    """The supply form counted only a CSV's lines: one 2 MB line got past it into a job."""
    from energy_supply.sheets import check_supply_file

    data = "工程名称,县（市、区）\n".encode() + b"x" * (2 * sheet_reader.CSV_LINE) + b"\n"
    with pytest.raises(SheetFileError):
        check_supply_file(data, "networks.csv")


def test_a_reader_started_before_django_loads_is_taken_over_once(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """manage.py import_ledger FILE starts FILE's reader while Django loads (sheets.prestart):
    the import takes that reader over for the same bytes, once; other bytes get their own."""
    from heating import sheets

    path = tmp_path / "ledger.csv"
    path.write_bytes(city(3))
    (tmp_path / "notes.txt").write_text("not a sheet")
    started: list[bytes] = []
    real = sheet_reader.start_csv

    def start_csv(data: bytes, limits: sheet_reader.Limits) -> Any:
        started.append(data)
        return real(data, limits)

    monkeypatch.setattr(sheets, "start_csv", start_csv)
    sheets.prestart(["--user", "admin", str(path), str(tmp_path / "notes.txt")])
    assert started == [city(3)]
    assert [r[1][0] for r in read(city(3)).rows] == ["XF-000000", "XF-000001", "XF-000002"]
    assert started == [city(3)]  # taken over: no second reader
    assert [r[1][0] for r in read(city(3)).rows] == ["XF-000000", "XF-000001", "XF-000002"]
    assert len(started) == 2  # once only
    assert sheets._PRESTARTED == []
