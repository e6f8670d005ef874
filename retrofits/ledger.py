"""The household ledger template (清洁取暖改造户台账): its columns, reading a file, writing one.

Reading is python-calamine for xlsx (ten times openpyxl's speed on a full city) and the csv module for
CSV (UTF-8, or GB18030 as Chinese Excel saves it). Writing is XlsxWriter in constant-memory mode.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import xlsxwriter
from openpyxl.utils import get_column_letter
from python_calamine import CalamineError, load_workbook

from heating.models import AreaType, HeatingPath
from retrofits.choices import Stage

SHEET_TITLE = "清洁取暖改造户台账"


@dataclass(frozen=True)
class Column:
    field: str
    header: str
    required: bool
    hint: str


COLUMNS: tuple[Column, ...] = (
    Column("code", "户编号", True, "全市唯一，最多32个字符"),
    Column("county", "县（市、区）", True, "任务分解表的16个单位之一，也可填区划代码或全称"),
    Column("township", "乡（镇、街道）", True, "本县的乡镇或街道（忻州城区用忻府区的街道）"),
    Column("village", "村（社区）", True, "该乡镇的村或社区，可省略“村委会”“居委会”"),
    Column("head_name", "户主姓名", True, ""),
    Column("id_number", "身份证号", True, "18位，请将本列设为文本格式；一个身份证号只能登记一户"),
    Column("phone", "联系电话", False, "11位手机号，或带区号的固定电话，如 0350-3031234"),
    Column("area", "城乡类型", True, "城区/县城 或 农村"),
    Column("path", "取暖路径", True, "集中供热、煤改电、煤改气、生物质热电联产"),
    Column(
        "equipment",
        "设备型号",
        False,
        "煤改电、煤改气自“已选型”起必填，须为中标设备清单中该路径的型号",
    ),
    Column("stage", "实施进度", True, "已确户、已选型、施工中、已完工（已验收由验收记录产生）"),
    Column("completed_on", "完工日期", False, "已完工时必填，如 2023-10-12，不晚于今天"),
    Column("low_income", "低收入户", False, "是 或 否（空白为否）"),
    Column("notes", "备注", False, ""),
)
HEADERS: tuple[str, ...] = tuple(c.header for c in COLUMNS)
BY_HEADER = {c.header: c for c in COLUMNS}
HEADER_OF = {c.field: c.header for c in COLUMNS}
FIELD_POSITION = {c.field: i for i, c in enumerate(COLUMNS)}
TEXT_COLUMNS = {FIELD_POSITION["code"], FIELD_POSITION["id_number"], FIELD_POSITION["phone"]}

PATH_NAMES: dict[str, str] = {p.label: p.value for p in HeatingPath} | {
    "集中供热（工业余热）": HeatingPath.DISTRICT.value
}
AREA_NAMES: dict[str, str] = {a.label: a.value for a in AreaType}
STAGE_NAMES: dict[str, str] = {s.label: s.value for s in Stage}
YES, NO = "是", "否"

# A leading = + - @ would make a spreadsheet run the cell as a formula; exports put ' before it.
FORMULA_STARTS = ("=", "+", "-", "@")


@dataclass(frozen=True)
class LedgerError:
    row: int
    column: str
    value: str
    message: str

    def __str__(self) -> str:
        return f"第{self.row}行「{self.column}」：{self.message}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class LedgerFileError(ValueError):
    """The file as a whole cannot be read as a ledger (one message, not a list)."""


def header_key(value: object) -> str:
    return re.sub(r"[\s\u3000]+", "", "" if value is None else str(value))


@dataclass
class LedgerFile:
    """A readable ledger: which column holds which field, and its rows with their sheet numbers."""

    positions: dict[str, int]  # field -> column index
    rows: Iterator[tuple[int, Sequence[object]]]  # read once, as the import goes
    total: int  # the sheet's rows below the header, blank ones included: for progress and planning
    header: Sequence[object] = ()


def read_ledger(data: bytes, name: str) -> LedgerFile:
    """The file's header and a lazy iterator over its non-blank rows.

    Rows are converted to Python values only as the import asks for them, which keeps a full city's
    file at a third of the memory and overlaps the conversion with the checks.
    """
    if not data:
        raise LedgerFileError("文件为空。")
    rows, height = _read_csv(data) if name.lower().endswith(".csv") else _read_xlsx(data)
    head = list(itertools.islice(rows, 5))
    header_at = next(
        (i for i, (_, row) in enumerate(head) if any(header_key(v) == "户编号" for v in row)),
        None,
    )
    if header_at is None:
        raise LedgerFileError(
            "找不到表头：第一行应为台账模板的列名（户编号、县（市、区）、乡（镇、街道）……）。"
            "请下载台账模板填写。"
        )
    header_number, header = head[header_at]
    positions: dict[str, int] = {}
    unknown, repeated = [], []
    for index, value in enumerate(header):
        key = header_key(value)
        if not key:
            continue
        column = BY_HEADER.get(key)
        if column is None:
            unknown.append(f"「{key}」")
        elif column.field in positions:
            repeated.append(f"「{key}」")
        else:
            positions[column.field] = index
    missing = [f"「{c.header}」" for c in COLUMNS if c.required and c.field not in positions]
    problems = []
    if missing:
        problems.append("缺少必填列 " + "、".join(missing))
    if unknown:
        problems.append("有模板以外的列 " + "、".join(unknown))
    if repeated:
        problems.append("列重复 " + "、".join(repeated))
    if problems:
        raise LedgerFileError("表头与台账模板不符：" + "；".join(problems) + "。")

    body = (
        (number, row)
        for number, row in itertools.chain(head[header_at + 1 :], rows)
        # any() alone would also take a row of zeros for blank; the second test keeps it.
        if any(row) or any(v not in (None, "") for v in row)
    )
    first = next(body, None)
    if first is None:
        raise LedgerFileError("文件中没有数据行。")
    return LedgerFile(
        positions=positions,
        rows=itertools.chain([first], body),
        total=height - header_number,
        header=header,
    )


Numbered = Iterator[tuple[int, Sequence[object]]]


def _read_xlsx(data: bytes) -> tuple[Numbered, int]:
    """Rows numbered as the spreadsheet numbers them, and how many there are."""
    try:
        sheet = load_workbook(io.BytesIO(data)).get_sheet_by_index(0)
    except (CalamineError, ValueError, IndexError) as exc:
        raise LedgerFileError("无法读取文件：请上传 Excel（.xlsx）或 CSV 文件。") from exc
    # iter_rows starts at the sheet's first row, blank or not, and converts each row on demand.
    return enumerate(sheet.iter_rows(), start=1), sheet.end[0] + 1 if sheet.end else 0


def _read_csv(data: bytes) -> tuple[Numbered, int]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise LedgerFileError("无法识别 CSV 文件的编码，请保存为 UTF-8 或 GBK 编码。")
    rows = list(csv.reader(io.StringIO(text)))
    return enumerate(rows, start=1), len(rows)


# ---------------------------------------------------------------- writing


def neutralise(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def unneutralise(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:2] in FORMULA_STARTS else value


@dataclass(frozen=True)
class ChoiceLists:
    """The values the template's drop-downs offer."""

    counties: Sequence[str]
    townships: Sequence[str] = ()
    equipment: Sequence[str] = ()


def write_ledger(rows: Iterable[Sequence[object]], choices: ChoiceLists) -> bytes:
    """The template layout: a header row with hints as comments, drop-downs, then the rows.

    Rows hold display values in HEADERS order; text that a spreadsheet would run as a formula is
    neutralised here, once, for every export. XlsxWriter's constant-memory mode streams a full
    city's 209,683 rows several times faster than openpyxl.
    """
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"constant_memory": True, "in_memory": False})
    sheet = book.add_worksheet(SHEET_TITLE)
    options = book.add_worksheet("选项")
    options.hide()
    header_format = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    text_format = book.add_format({"num_format": "@"})
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})

    for index, column in enumerate(COLUMNS):
        width = {"id_number": 22, "notes": 30}.get(
            column.field, max(10, len(column.header) * 2 + 4)
        )
        fmt = (
            text_format
            if index in TEXT_COLUMNS
            else date_format
            if column.field == "completed_on"
            else None
        )
        sheet.set_column(index, index, width, fmt)
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
        for index, value in enumerate(row):
            if value is None or value == "":
                continue
            if isinstance(value, str):
                sheet.write_string(number, index, neutralise(value))
            elif isinstance(value, dt.date):
                sheet.write_datetime(number, index, value, date_format)
            else:
                sheet.write(number, index, value)

    lists = {
        "county": list(choices.counties),
        "township": list(choices.townships),
        "area": list(AREA_NAMES),
        "path": [p.label for p in HeatingPath],
        "equipment": list(choices.equipment),
        "stage": [s.label for s in Stage if s != Stage.ACCEPTED],
        "low_income": [YES, NO],
    }
    last = number + 5000  # room for the rows people add
    for list_column, (field, values) in enumerate(lists.items()):
        if not values:
            continue
        letter = get_column_letter(list_column + 1)
        for offset, value in enumerate(values):
            options.write_string(offset, list_column, value)
        position = FIELD_POSITION[field]
        # Free-text columns keep a drop-down as a help, without refusing other values.
        strict = field in ("county", "area", "path", "low_income")
        sheet.data_validation(
            1,
            position,
            last,
            position,
            {
                "validate": "list",
                "source": f"=选项!${letter}$1:${letter}${len(values)}",
                "ignore_blank": True,
                "show_error": strict,
                "error_title": "不在可选范围",
                "error_message": "请从下拉列表中选择。",
            },
        )
    book.close()
    return out.getvalue()


def write_annotated(ledger: LedgerFile, errors: Iterable[LedgerError]) -> bytes:
    """A copy of the uploaded rows with an error column, bad rows highlighted, to fix and upload again."""
    by_row: dict[int, list[str]] = {}
    for error in errors:
        by_row.setdefault(error.row, []).append(str(error))
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"constant_memory": True, "in_memory": False})
    sheet = book.add_worksheet(SHEET_TITLE)
    bold = book.add_format({"bold": True})
    bad = book.add_format({"bg_color": "#FDE2E1"})
    headers = [header_key(v) for v in ledger.header]
    for index, title in enumerate([*headers, "错误说明"]):
        sheet.write_string(0, index, title, bold)
    width = len(headers)
    for number, (sheet_row, row) in enumerate(ledger.rows, start=1):
        messages = by_row.get(sheet_row)
        fmt = bad if messages else None
        for index, value in enumerate(list(row)[:width]):
            if isinstance(value, str):
                sheet.write_string(number, index, neutralise(value), fmt)
            elif isinstance(value, dt.datetime | dt.date):
                sheet.write_datetime(number, index, value, fmt)
            elif value is not None:
                sheet.write(number, index, value, fmt)
        if messages:
            sheet.write_string(number, width, "；".join(messages), fmt)
    book.close()
    return out.getvalue()
