"""Reading an uploaded xlsx without letting the file hurt the service.

An xlsx is a zip of XML, and the parser (calamine, in Rust) trusts it: a 2 KB sheet with one cell at
XFD1048576 makes it ask for 512 GiB and abort the whole process, and a zip bomb inflates to gigabytes.
So before any parsing the zip's own directory is checked (how many parts, how large once
inflated, how many sheets, the sheet's declared size); then the sheet is parsed in a child process
under a memory ceiling, which streams the rows back in chunks as the import asks for them. A file
that still breaks the parser kills only that child, and is refused with a Chinese message.

The child is a fresh interpreter running this file (no Django, nothing of the parent's state),
which reads the file from its stdin and writes pickled messages to its stdout: a height, then
chunks of rows, then an end; or a refusal. The pipe holds little, so the child waits for the
import to ask for more.

A CSV goes the same way: the child decodes it (UTF-8, else GB18030 as Chinese Excel saves it) and
parses it twice, once to count and check its records (a refusal comes before any row, as an xlsx's
does) and once to stream them; the parent never holds more than a chunk of its rows.

A chunk goes column by column: a column of text only as one string, its cells joined by a character
none of them holds, split again by the parent in one call; any other column (dates, numbers) as its
values. Unpickling a city's 209,683 rows cell by cell cost the import more than its checks.
"""

from __future__ import annotations

import array
import codecs
import contextlib
import csv
import gc
import io
import itertools
import pickle
import re
import resource
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

CHUNK = 5000  # rows a message; the pipe holds few, so the child waits for the import
SEPARATOR = "\x00"  # between the cells of a text column (none may hold it: see _pack)
HEADER_ROWS = 5  # the header is found among the first five rows
PEEK = 64 * 1024  # how much of a sheet's XML is inflated to find its declared size
CSV_ENCODINGS = ("utf-8-sig", "gb18030")  # tried in this order, over the whole file
# A CSV line longer than this is no template's row (a row of the ledger is some 200 bytes); the
# csv module would build all of it, its cells included, before saying anything.
CSV_LINE = 2**20
# What a file of too many rows is told to do: the ledger's words unless the caller says others.
SPLIT = "请分成几个文件上传（例如按乡镇分开）。"
UNREADABLE = "无法读取文件：请上传 Excel（.xlsx）或 CSV 文件。"  # not a workbook the parser knows


@dataclass(frozen=True)
class Limits:
    rows: int  # data rows of one file
    uncompressed: int  # bytes of all the zip's parts once inflated
    memory: int  # bytes of address space the reading process may take
    sheets: int = 50
    columns: int = 100
    parts: int = 1000
    advice: str = SPLIT  # the end of the too-many-rows message


class Refused(ValueError):
    """The file is not read; the message says why, in Chinese, and what to do."""


Read = tuple[Iterator[tuple[int, Sequence[Any]]], int]


def read_xlsx(data: bytes, limits: Limits) -> Read:
    """The first visible sheet's rows, numbered as the spreadsheet numbers them, read lazily; and
    how many rows it has. Refused before parsing when the zip says the file is too large, and
    while parsing when the parser runs out of its memory."""
    return start_xlsx(data, limits)()


def start_xlsx(data: bytes, limits: Limits) -> Callable[[], Read]:
    """read_xlsx() in two steps: this one checks the zip and starts the child, which parses the
    sheet meanwhile (seconds, for a city's ledger); the function it returns waits for the child
    and gives what read_xlsx() gives, or raises what it raises (a refusal of the zip's too)."""
    return _start("xlsx", data, limits, check_xlsx)


def read_csv(data: bytes, limits: Limits) -> Read:
    """A CSV's records, numbered from 1, read lazily as read_xlsx() reads a sheet, and how many
    there are. Refused before parsing when it has too many lines or bytes, and before the first
    record when it is in neither encoding, has a record wider than the columns allow, a cell
    longer than the csv module takes, or makes the parser run out of its memory."""
    return start_csv(data, limits)()


def start_csv(data: bytes, limits: Limits) -> Callable[[], Read]:
    """read_csv() in two steps, as start_xlsx()."""
    return _start("csv", data, limits, check_csv)


def _start(
    file_type: str, data: bytes, limits: Limits, check: Callable[[bytes, Limits], None]
) -> Callable[[], Read]:
    try:
        check(data, limits)
    except Refused as exc:
        refusal = exc

        def refused() -> Read:
            raise refusal

        return refused
    bounds = (limits.rows, limits.columns, limits.memory)
    child = subprocess.Popen(
        [sys.executable, "-I", __file__, file_type, *map(str, bounds), limits.advice],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # an abort's backtrace says nothing the message does not
    )
    try:
        assert child.stdin is not None
        child.stdin.write(data)
        child.stdin.close()
    except BaseException:
        _stop(child)
        raise

    def read() -> Read:
        try:
            height = _receive(child, limits)
        except BaseException:
            _stop(child)
            raise
        return _rows(child, limits), height

    return read


def check_xlsx(data: bytes, limits: Limits) -> None:
    """What the zip's directory and the start of the sheet tell, before anything is parsed."""
    try:
        book = zipfile.ZipFile(io.BytesIO(data))
        parts = book.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise Refused(UNREADABLE) from exc
    if len(parts) > limits.parts:
        raise Refused(f"文件包含 {len(parts):,} 个部件，不是正常的 Excel 台账文件。")
    inflated = sum(p.file_size for p in parts)
    if inflated > limits.uncompressed:
        raise Refused(
            f"文件解压后有 {inflated / 2**20:,.0f} MB，超过 {limits.uncompressed / 2**20:,.0f} MB "
            "的上限（可能不是正常的台账文件）。请检查文件，或分成几个文件上传。"
        )
    names = {p.filename for p in parts}
    sheets = [n for n in names if re.fullmatch(r"xl/worksheets/[^/]+\.xml", n)]
    if len(sheets) > limits.sheets:
        raise Refused(f"工作簿有 {len(sheets)} 张工作表，请只保留台账一张表后上传。")
    for name in sheets:
        with book.open(name) as part:
            start = part.read(PEEK).decode("utf-8", "replace")
        found = re.search(r'<(?:\w+:)?dimension\s+ref="[A-Z]*\d*:?([A-Z]+)(\d+)"', start)
        if found:
            _check_size(_column_number(found.group(1)), int(found.group(2)), limits)


def check_csv(data: bytes, limits: Limits) -> None:
    """What a CSV's bytes tell without decoding them: its size, its lines (a record may span
    lines, so lines are at least its records) and whether a line is too long to be a row."""
    if len(data) > limits.uncompressed:
        raise Refused(
            f"文件有 {len(data) / 2**20:,.0f} MB，超过 {limits.uncompressed / 2**20:,.0f} MB "
            "的上限。请检查文件，或分成几个文件上传。"
        )
    _check_size(0, data.count(b"\n"), limits)
    # A block of CSV_LINE bytes without a line break lies within a line longer than CSV_LINE; a
    # line of twice that holds a whole block. Checked a block at a time: dozens of calls, not a
    # loop over the lines.
    for start in range(0, len(data) - CSV_LINE + 1, CSV_LINE):
        if data.find(b"\n", start, start + CSV_LINE) == -1:
            line = data.count(b"\n", 0, start) + 1
            raise Refused(
                f"文件第{line:,}行超过 {CSV_LINE // 2**20} MB，不是按模板填写的表格。"
                "请用 Excel 打开检查后另存。"
            )


def _check_size(width: int, height: int, limits: Limits) -> None:
    if height > limits.rows + HEADER_ROWS:
        raise Refused(
            f"文件有 {height:,} 行，超过每次导入 {limits.rows:,} 行的上限，{limits.advice}"
        )
    if width > limits.columns:
        raise Refused(f"文件有 {width:,} 列，远多于模板的列，请使用模板填写。")


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


def _memory_message(limits: Limits) -> str:
    return (
        f"文件无法读取：读取时超出 {limits.memory / 2**20:,.0f} MB 的内存上限，或文件已损坏。"
        "请用 Excel 打开检查后另存为 .xlsx，或分成几个文件上传。"
    )


def _receive(child: subprocess.Popen[bytes], limits: Limits) -> Any:
    try:
        kind, payload = pickle.load(child.stdout)  # type: ignore[arg-type]
    except (EOFError, pickle.UnpicklingError, BrokenPipeError):
        # The child died: the parser aborted, or the ceiling stopped it.
        child.wait()
        raise Refused(_memory_message(limits)) from None
    if kind == "refused":
        raise Refused(payload)
    return payload


def _rows(child: subprocess.Popen[bytes], limits: Limits) -> Iterator[tuple[int, Sequence[Any]]]:
    # Row by row in C: a Python frame a chunk, not a row.
    return itertools.chain.from_iterable(_chunks(child, limits))


def _chunks(
    child: subprocess.Popen[bytes], limits: Limits
) -> Iterator[Iterator[tuple[int, Sequence[Any]]]]:
    try:
        while (chunk := _receive(child, limits)) is not None:
            number, count, packed = chunk
            numbers = itertools.count(number)
            if isinstance(packed, list):  # the rows, as they are
                yield zip(numbers, packed, strict=False)
            elif not packed:  # rows without cells
                yield zip(numbers, itertools.repeat((), count), strict=False)
            else:
                yield zip(numbers, zip(*map(_unpack, packed), strict=True), strict=False)
    finally:
        _stop(child)


def _pack(column: tuple[Any, ...]) -> str | tuple[Any, ...] | list[Any]:
    """A column for the pipe: text cells joined by SEPARATOR where none of them holds it (one
    string to send and one split to read); any other column (dates, numbers) as its distinct
    values and, for each cell, the index of its value (a city's 209,683 dates are a few hundred
    values; pickled one by one they were most of the pipe's cost)."""
    try:
        joined = SEPARATOR.join(column)
    except TypeError:  # a cell that is not text: a date, a number
        return _encode(column)
    return joined if joined.count(SEPARATOR) == len(column) - 1 else _encode(column)


def _encode(column: tuple[Any, ...]) -> list[Any]:
    # Keyed by type too: 1, 1.0 and True are equal, but not the same cell.
    seen: dict[tuple[type, Any], int] = {}
    indexes = array.array("I", [seen.setdefault((type(v), v), len(seen)) for v in column])
    return [tuple(value for _, value in seen), indexes.tobytes()]


def _unpack(column: str | tuple[Any, ...] | list[Any]) -> Sequence[Any]:
    if type(column) is str:
        return column.split(SEPARATOR)
    if type(column) is list:
        values, indexes = column
        return list(map(values.__getitem__, memoryview(indexes).cast("I")))
    return column


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:  # the import stopped early: the rest is not wanted
        child.kill()
    child.wait()
    if child.stdout is not None:
        child.stdout.close()


def _read_in_child(out: IO[bytes], file_type: str, data: bytes, limits: Limits) -> None:
    """In the child: parse under the ceiling, send the height, then the rows in chunks, then None
    for the end."""

    def send(kind: str, payload: object) -> None:
        pickle.dump((kind, payload), out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()

    try:
        if file_type == "csv":
            _csv_in_child(send, data, limits)
        else:
            _xlsx_in_child(send, data, limits)
    except Refused as exc:
        send("refused", str(exc))
    except MemoryError:
        send("refused", _memory_message(limits))


def _xlsx_in_child(send: Callable[[str, object], None], data: bytes, limits: Limits) -> None:
    from python_calamine import CalamineError, SheetVisibleEnum, load_workbook

    try:
        book = load_workbook(io.BytesIO(data))
        visible = [
            i for i, s in enumerate(book.sheets_metadata) if s.visible == SheetVisibleEnum.Visible
        ]
        if not visible:
            raise Refused("工作簿中没有可见的工作表。")
        # The first sheet people see when they open the file, not a hidden one before it.
        sheet = book.get_sheet_by_index(visible[0])
        height, width = (sheet.end[0] + 1, sheet.end[1] + 1) if sheet.end else (0, 0)
        _check_size(width, height, limits)
        send("height", height)
        rows: Iterator[list[Any]] = sheet.iter_rows()
        # calamine's rows start at the sheet's first row but at its first used column: empty
        # columns before it are put back, so that a cell keeps its column (its letter in a message).
        if sheet.start and sheet.start[1]:
            rows = ([""] * sheet.start[1] + row for row in rows)
        _send_rows(send, rows)
    except Refused:
        raise
    except (CalamineError, ValueError, IndexError, zipfile.BadZipFile):
        send("refused", UNREADABLE)


def _send_rows(send: Callable[[str, object], None], rows: Iterator[Sequence[Any]]) -> None:
    number = 1
    while chunk := list(itertools.islice(rows, CHUNK)):
        # A sheet's rows are all as wide as the sheet: the chunk goes as its columns (a tuple).
        if len({len(row) for row in chunk}) == 1:
            packed: tuple[Any, ...] | list[Any] = tuple(map(_pack, zip(*chunk, strict=True)))
        else:
            packed = chunk
        send("rows", (number, len(chunk), packed))
        number += len(chunk)
    send("rows", None)


def _csv_in_child(send: Callable[[str, object], None], data: bytes, limits: Limits) -> None:
    encoding = _csv_encoding(data)
    height = 0
    reader = csv.reader(_csv_text(data, encoding))
    try:
        # The first pass keeps no row: it counts them and refuses what the second would stop at.
        for row in reader:
            height += 1
            _check_size(len(row), height, limits)
    except csv.Error:
        raise Refused(
            f"CSV 文件第{reader.line_num:,}行无法读取：单元格过长（超过 {csv.field_size_limit():,} "
            "个字符）或含有无法识别的字符。请用 Excel 打开检查后另存。"
        ) from None
    send("height", height)
    _send_rows(send, csv.reader(_csv_text(data, encoding)))


def _csv_encoding(data: bytes) -> str:
    """The first of CSV_ENCODINGS the whole file decodes in, decoded a megabyte at a time and
    thrown away: a file is never held decoded."""
    view = memoryview(data)
    for encoding in CSV_ENCODINGS:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            for start in range(0, len(view), 2**20):
                decoder.decode(view[start : start + 2**20])
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    raise Refused("无法识别 CSV 文件的编码，请保存为 UTF-8 或 GBK 编码。")


def _csv_text(data: bytes, encoding: str) -> io.TextIOWrapper:
    # newline="" as the csv module asks: a line break inside a quoted cell stays in the cell.
    return io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")


def main() -> None:
    # The rows made and sent by the million hold no reference cycles; the cyclic collector's
    # passes over them took a third of the time the child spends after parsing.
    gc.disable()
    file_type, advice = sys.argv[1], sys.argv[5]
    rows, columns, memory = map(int, sys.argv[2:5])
    limits = Limits(rows=rows, uncompressed=0, memory=memory, columns=columns, advice=advice)
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    data = sys.stdin.buffer.read()
    with contextlib.suppress(BrokenPipeError):  # the import stopped reading
        _read_in_child(sys.stdout.buffer, file_type, data, limits)


if __name__ == "__main__":
    main()
