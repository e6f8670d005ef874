"""The annotated error file a failed import offers: the user's rows as uploaded, each wrong cell
tinted (and explained in a comment on it), every message of a row in a last column 错误说明, to fix
and upload again. One writer for every template (the household ledger, the three supply ledgers),
so that they all read the same.

It reads like the template the user filled in: dates are dates shown as dates (a date cell written
without a number format shows as 47484), text columns stay text, the header row is the template's,
bold and frozen, and each column is as wide as its header and its content need. Rows keep the
numbers the messages give them (第7行 is row 7), a header found below the first row being put
on the first. XlsxWriter in constant-memory mode, as heating/sheets.py's writer: 50,000 rows of
the ledger take 3.9 s of CPU on this machine (2026-12-05), against 3.4–3.6 s for the writer it
replaced, which tinted rows and wrote dates as numbers.
"""

from __future__ import annotations

import datetime as dt
import io
import unicodedata
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from heating.sheets import Column, SheetError, SheetFile, header_key, neutralise

if TYPE_CHECKING:
    import xlsxwriter
    from xlsxwriter.format import Format

ERROR_HEADER = "错误说明"
# The bad cell's tint: the whole row tinted hid which cell was wrong.
TINT = "#FDE2E1"
HEADER_TINT = "#DDEBF7"  # the template's header colour (heating/sheets.write_sheet)
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
# Comments beyond these make the file slow to open; the error column has every message.
MAX_COMMENTS = 2000
# Widths are measured on the first rows and on the wrong ones: measuring a city's every cell
# would cost the file seconds and change little.
WIDTH_SAMPLE = 1000
MAX_WIDTH = 50  # a column of long notes would push the errors off the screen
ERROR_WIDTH = (30, 80)  # the error column's narrowest and widest


def display_width(text: str) -> int:
    """How many narrow characters' room a text takes: a Chinese character takes two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def template_width(column: Column) -> int:
    """The width the template gives the column (heating/sheets.write_sheet)."""
    return column.width or max(10, len(column.header) * 2 + 4)


class _Formats:
    """One format per (number format, tinted) pair, made as first asked (XlsxWriter wants each
    format added to the book once)."""

    def __init__(self, book: xlsxwriter.Workbook) -> None:
        self.book = book
        self.made: dict[tuple[str | None, bool], Format | None] = {}

    def __call__(self, number_format: str | None, bad: bool) -> Format | None:
        key = (number_format, bad)
        if key not in self.made:
            spec: dict[str, object] = {}
            if number_format:
                spec["num_format"] = number_format
            if bad:
                spec["bg_color"] = TINT
            self.made[key] = self.book.add_format(spec) if spec else None
        return self.made[key]


def write_annotated(
    sheet_file: SheetFile,
    errors: Iterable[SheetError],
    *,
    columns: Sequence[Column],
    title: str,
) -> bytes:
    """The uploaded rows again, each wrong cell tinted with its messages as a comment, and every
    message of the row in the last column. `columns` are the template's: they give the formats
    and the widths; a column of the file the template does not know keeps its values as found."""
    by_cell: dict[tuple[int, str], list[str]] = {}
    by_row: dict[int, list[str]] = {}
    for error in errors:
        by_cell.setdefault((error.row, error.column), []).append(error.message)
        by_row.setdefault(error.row, []).append(str(error))

    headers = [header_key(v) for v in sheet_file.header]
    known = {c.header: c for c in columns}
    kinds = [known[h].format if h in known else None for h in headers]
    widths = [template_width(known[h]) if h in known else max(10, display_width(h) + 4)
              for h in headers]  # fmt: skip
    error_at = len(headers)

    import xlsxwriter  # loaded where a file is written, as in heating/sheets.py

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"constant_memory": True, "in_memory": False})
    sheet = book.add_worksheet(title[:31])
    formats = _Formats(book)
    header_format = book.add_format({"bold": True, "bg_color": HEADER_TINT, "border": 1})
    message_format = book.add_format({"font_color": "#C00000"})
    for index, header in enumerate([*headers, ERROR_HEADER]):
        sheet.write_string(0, index, header, header_format)
    sheet.freeze_panes(1, 0)

    comments = 0
    error_width = display_width(ERROR_HEADER)
    last = 0
    for count, (sheet_row, row) in enumerate(sheet_file.rows):
        # The row the messages name; never above the header or a row already written.
        at = max(sheet_row - 1, last + 1)
        last = at
        cells = list(row)[:error_at]
        messages = by_row.get(sheet_row)
        measured = count < WIDTH_SAMPLE or messages is not None
        for index, value in enumerate(cells):
            said = by_cell.get((sheet_row, headers[index])) if messages else None
            _write(sheet, at, index, value, kinds[index], said is not None, formats)
            if measured:
                widths[index] = max(widths[index], min(MAX_WIDTH, _width(value)))
            if said and comments < MAX_COMMENTS:
                sheet.write_comment(at, index, "；".join(said), {"author": "清洁取暖台账平台"})
                comments += 1
        if messages:
            for index in range(len(cells), error_at):  # a short row: its blank bad cells too
                if (sheet_row, headers[index]) in by_cell:
                    sheet.write_blank(at, index, None, formats(None, True))
            text = "；".join(messages)
            sheet.write_string(at, error_at, text, message_format)
            error_width = max(error_width, display_width(text))

    for index, width in enumerate(widths):
        number_format = "@" if kinds[index] == "text" else None
        sheet.set_column(index, index, width + 2, formats(number_format, False))
    low, high = ERROR_WIDTH
    sheet.set_column(error_at, error_at, min(high, max(low, error_width + 2)))
    book.close()
    return out.getvalue()


def _write(
    sheet: xlsxwriter.worksheet.Worksheet,
    row: int,
    column: int,
    value: object,
    kind: str | None,
    bad: bool,
    formats: _Formats,
) -> None:
    """Write one cell as the user gave it, tinted where it is wrong."""
    if value is None or value == "":
        if bad:  # a required cell left blank: the tint shows where
            sheet.write_blank(row, column, None, formats(None, True))
    elif isinstance(value, dt.datetime):
        midnight = value.time() == dt.time()
        number_format = DATE_FORMAT if midnight else DATETIME_FORMAT
        sheet.write_datetime(row, column, value, formats(number_format, bad))
    elif isinstance(value, dt.date):
        sheet.write_datetime(row, column, value, formats(DATE_FORMAT, bad))
    elif isinstance(value, str):
        # Text typed into a text column stays text when the user types over it.
        sheet.write_string(row, column, neutralise(value), formats("@" if kind else None, bad))
    elif isinstance(value, bool):
        sheet.write_boolean(row, column, value, formats(None, bad))
    elif isinstance(value, int | float):
        sheet.write_number(row, column, value, formats(None, bad))
    else:  # a time or a duration: shown as the reader gave it
        sheet.write_string(row, column, str(value), formats(None, bad))


def _width(value: object) -> int:
    """The room a cell's value takes as shown."""
    if value is None or value == "":
        return 0
    if isinstance(value, dt.datetime):
        return 10 if value.time() == dt.time() else 16
    if isinstance(value, dt.date):
        return 10
    if isinstance(value, float | int) and not isinstance(value, bool):
        return len(f"{value:g}")
    return display_width(str(value))
