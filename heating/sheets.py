"""The spreadsheets people fill in and upload (the 台账 templates): reading one, and writing one in the
template's layout. The household ledger, the gas contracts, the grid upgrades and the gas networks
all go through here, so that every template reads, refuses and writes the same way.

Reading is python-calamine for xlsx (ten times openpyxl's speed on a full city) and the csv module
for CSV (UTF-8, or GB18030 as Chinese Excel saves it), both in the bounded reader's child process
(heating/sheet_reader.py); rows are converted as they are asked for.
The header row is found among the first five rows; header cells match after trimming spaces (half-
and full-width), in any order; unknown or repeated columns and missing required ones refuse the
whole file with one message. Writing is XlsxWriter in constant-memory mode: a header row whose hints
are cell comments, drop-downs where the values are fixed, and text that a spreadsheet would run as
a formula neutralised with a leading ', which reading removes.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from django.conf import settings

from heating.sheet_reader import Limits, Refused, start_csv, start_xlsx

# A leading = + - @ would make a spreadsheet run the cell as a formula; exports put ' before it.
FORMULA_STARTS = ("=", "+", "-", "@")
YES, NO = "是", "否"


@dataclass(frozen=True)
class Column:
    field: str
    header: str
    required: bool
    hint: str
    format: Literal["text", "date", "number"] | None = None  # the column's cell format
    width: int | None = None


@dataclass(frozen=True)
class SheetError:
    """One wrong cell: its row as the spreadsheet numbers it, its column header, the value found
    and what was expected."""

    row: int
    column: str
    value: str
    message: str

    def __str__(self) -> str:
        return f"第{self.row}行「{self.column}」：{self.message}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SheetFileError(ValueError):
    """The file as a whole cannot be read as the template (one message, not a list)."""


def header_key(value: object) -> str:
    return re.sub(r"[\s\u3000]+", "", "" if value is None else str(value))


def neutralise(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def unneutralise(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:2] in FORMULA_STARTS else value


Numbered = Iterator[tuple[int, Sequence[object]]]
Counted = tuple[Numbered, int]  # the rows, and how many the sheet says it has


@dataclass
class SheetFile:
    """A readable file: which column holds which field, and its rows with their sheet numbers."""

    positions: dict[str, int]  # field -> column index
    rows: Numbered  # read once, as the import goes
    total: int  # the sheet's rows below the header, blank ones included: for progress and planning
    header: Sequence[object] = ()


def read_sheet(data: bytes, name: str, columns: Sequence[Column], *, template: str) -> SheetFile:
    """The file's header and a lazy iterator over its non-blank rows. The header row is the one
    holding the first column's header; `template` names the template in the messages."""
    return start_sheet(data, name, columns, template=template)()


def start_sheet(
    data: bytes, name: str, columns: Sequence[Column], *, template: str
) -> Callable[[], SheetFile]:
    """read_sheet() in two steps: an xlsx starts being parsed now, in its child process, while
    the caller goes on; the function returned gives read_sheet()'s answer (or raises its
    SheetFileError) once the sheet is read."""
    if not data:

        def empty() -> Counted:
            raise SheetFileError("文件为空。")

        return lambda: _sheet(empty, columns, template=template)
    # A CSV too is read by the bounded reader, in its child: decoded and parsed there, streamed
    # back a chunk at a time (read whole here, a 49 MB CSV took this process to 1.6 GB).
    csv = name.lower().endswith(".csv")
    started = _prestarted(data, csv=csv) or (start_csv if csv else start_xlsx)(data, limits())

    def read() -> Counted:
        try:
            return started()
        except Refused as exc:
            raise SheetFileError(str(exc)) from exc

    return lambda: _sheet(read, columns, template=template)


# The readers prestart() started, each with its file's bytes and whether it reads a CSV: taken
# over once by start_sheet(), for the same bytes read the same way.
_PRESTARTED: list[tuple[bytes, bool, Callable[[], Counted]]] = []


def prestart(arguments: Sequence[str]) -> None:
    """Start, as start_sheet() would, the reader of each xlsx or CSV file a command line names,
    before Django loads its apps: a city's ledger is then parsed (two seconds) while they load
    (half a second), and the import's start_sheet() takes the reader over. Files over the upload
    limit are left to the command, which refuses them; a reader nobody takes over stops when
    this process exits, with the pipe it writes to."""
    for argument in arguments:
        path = Path(argument)
        suffix = path.suffix.lower()
        if suffix not in (".xlsx", ".csv") or not path.is_file():
            continue
        if path.stat().st_size > settings.MAX_UPLOAD_MB * 2**20:
            continue
        data = path.read_bytes()
        if data:
            csv = suffix == ".csv"
            _PRESTARTED.append((data, csv, (start_csv if csv else start_xlsx)(data, limits())))


def _prestarted(data: bytes, *, csv: bool) -> Callable[[], Counted] | None:
    for at, (started_data, started_csv, started) in enumerate(_PRESTARTED):
        if started_csv == csv and started_data == data:
            del _PRESTARTED[at]
            return started
    return None


def _sheet(read: Callable[[], Counted], columns: Sequence[Column], *, template: str) -> SheetFile:
    """What read_sheet() says of the rows `read` gives (read in a child process, after the file's
    bytes, an xlsx's zip directory or a CSV's lines, said it is not too large:
    heating/sheet_reader.py)."""
    rows, height = read()
    head = list(itertools.islice(rows, 5))
    key = columns[0].header
    header_at = next(
        (i for i, (_, row) in enumerate(head) if any(header_key(v) == key for v in row)), None
    )
    if header_at is None:
        names = "、".join(c.header for c in columns[:3])
        raise SheetFileError(
            f"找不到表头：第一行应为{template}模板的列名（{names}……）。请下载{template}模板填写。"
        )
    header_number, header = head[header_at]
    positions = _positions(header, columns, template=template)
    body = (
        numbered
        for numbered in itertools.chain(head[header_at + 1 :], rows)
        # any() alone would also take a row of zeros for blank; the second test keeps it.
        if any(numbered[1]) or any(v not in (None, "") for v in numbered[1])
    )
    first = next(body, None)
    if first is None:
        raise SheetFileError("文件中没有数据行。")
    return SheetFile(
        positions=positions,
        rows=itertools.chain([first], body),
        total=height - header_number,
        header=header,
    )


def _positions(
    header: Sequence[object], columns: Sequence[Column], *, template: str
) -> dict[str, int]:
    by_header = {c.header: c for c in columns}
    positions: dict[str, int] = {}
    unknown, repeated = [], []
    for index, value in enumerate(header):
        key = header_key(value)
        if not key:
            continue
        column = by_header.get(key)
        if column is None:
            unknown.append(f"「{key}」")
        elif column.field in positions:
            repeated.append(f"「{key}」")
        else:
            positions[column.field] = index
    missing = [f"「{c.header}」" for c in columns if c.required and c.field not in positions]
    problems = []
    if missing:
        problems.append("缺少必填列 " + "、".join(missing))
    if unknown:
        problems.append("有模板以外的列 " + "、".join(unknown))
    if repeated:
        problems.append("列重复 " + "、".join(repeated))
    if problems:
        raise SheetFileError(f"表头与{template}模板不符：" + "；".join(problems) + "。")
    return positions


def limits() -> Limits:
    """The bounds of one uploaded file, from the settings."""
    return Limits(
        rows=settings.MAX_UPLOAD_ROWS,
        uncompressed=settings.MAX_UNCOMPRESSED_MB * 2**20,
        memory=settings.SHEET_READ_MEMORY_MB * 2**20,
    )


# ---------------------------------------------------------------- writing

# Below the header, the most rows one Excel sheet holds.
EXCEL_ROWS = 1_048_575


class TooManyRows(ValueError):
    """More rows than one sheet holds: the export is refused, never cut short."""


def too_many_rows(count: int) -> str:
    return (
        f"共 {count:,} 行，超出 Excel 单个工作表 {EXCEL_ROWS:,} 行的上限，未导出。"
        "请按县（市、区）或其他条件筛选后分批导出。"
    )


def check_exportable(count: int) -> None:
    """Refuse, before writing anything, an export of more rows than one sheet holds."""
    if count > EXCEL_ROWS:
        raise TooManyRows(too_many_rows(count))


def write_sheet(
    rows: Iterable[Sequence[object]],
    columns: Sequence[Column],
    *,
    title: str,
    lists: Mapping[str, Sequence[str]] | None = None,
    strict: Iterable[str] = (),
) -> bytes:
    """The template layout: a header row with hints as comments, drop-downs, then the rows.

    Rows hold display values in `columns` order. `lists` gives a column's drop-down values (kept on a
    hidden sheet), refused otherwise where the column is in `strict`, a help elsewhere. Text that a
    spreadsheet would run as a formula is neutralised here, once, for every export. XlsxWriter's
    constant-memory mode streams a full city's 209,683 rows several times faster than openpyxl.
    """
    # Loaded by the writers alone: every process reads this module, and an import never writes
    # (XlsxWriter's package loads all of it, 25 ms of a command's start).
    import xlsxwriter
    from xlsxwriter.utility import xl_col_to_name

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"constant_memory": True, "in_memory": False})
    sheet = book.add_worksheet(title)
    options = book.add_worksheet("选项")
    options.hide()
    header_format = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    formats = {
        "text": book.add_format({"num_format": "@"}),
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
        "number": None,
        None: None,
    }
    date_format = formats["date"]

    for index, column in enumerate(columns):
        width = column.width or max(10, len(column.header) * 2 + 4)
        sheet.set_column(index, index, width, formats[column.format])
        sheet.write_string(0, index, column.header, header_format)
        sheet.write_comment(
            0,
            index,
            ("必填。" if column.required else "选填。") + column.hint,
            {"author": "清洁取暖台账平台"},
        )
    sheet.freeze_panes(1, 0)

    number = 0
    for number, row in enumerate(rows, start=1):
        if number > EXCEL_ROWS:  # XlsxWriter would drop the rest without a word
            raise TooManyRows(too_many_rows(number))
        for index, value in enumerate(row):
            if value is None or value == "":
                continue
            if isinstance(value, str):
                sheet.write_string(number, index, neutralise(value))
            elif isinstance(value, dt.date):
                sheet.write_datetime(number, index, value, date_format)
            else:
                sheet.write(number, index, value)

    last = number + 5000  # room for the rows people add
    position = {c.field: i for i, c in enumerate(columns)}
    refused = set(strict)
    chosen = [(field, values) for field, values in (lists or {}).items() if values]
    # Row by row: in constant-memory mode a row is written out once the next one begins, so a
    # column filled after another would land in rows already gone (and its list be empty).
    for offset in range(max((len(values) for _, values in chosen), default=0)):
        for list_column, (_, values) in enumerate(chosen):
            if offset < len(values):
                options.write_string(offset, list_column, values[offset])
    for list_column, (field, values) in enumerate(chosen):
        letter = xl_col_to_name(list_column)
        sheet.data_validation(
            1,
            position[field],
            last,
            position[field],
            {
                "validate": "list",
                "source": f"=选项!${letter}$1:${letter}${len(values)}",
                "ignore_blank": True,
                "show_error": field in refused,
                "error_title": "不在可选范围",
                "error_message": "请从下拉列表中选择。",
            },
        )
    book.close()
    return out.getvalue()
