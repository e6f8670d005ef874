"""The task-breakdown table (任务分解表) in the layout the plan prints.

The printed sheet has a title row, a unit row (单位：户), two header rows with merged cells (each path
over 城区/县城 · 农村 · 合计), one row per county and a 总计 row. Between the file and the database the
table travels as a flat tablib Dataset whose headers are `FLAT_HEADERS` (the same headers as the plan's
CSV), so that django-import-export's admin, the CLI and the download all share one reader, one set of
checks and one writer.
"""

from __future__ import annotations

import dataclasses
import io
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import tablib

from heating.models import AreaType, County, HeatingPath
from heating.sheet_reader import UNREADABLE, Limits, Refused, read_xlsx
from heating.sheets import limits, neutralise

COUNTY_HEADER = "县（市、区）"
ROW_HEADER = "行号"
TOTAL_LABEL = "总计"
UNIT_LABEL = "单位：户"
TOTAL_GROUP = "总任务数"
SUM_SUB = "合计"

# (printed group header, path it stands for; None for 总任务数)
GROUPS: tuple[tuple[str, HeatingPath | None], ...] = (
    (TOTAL_GROUP, None),
    ("集中供热（工业余热）", HeatingPath.DISTRICT),
    ("煤改电", HeatingPath.ELECTRIC),
    ("煤改气", HeatingPath.GAS),
    ("生物质热电联产", HeatingPath.BIOMASS),
)
SUBS: tuple[tuple[str, AreaType | None], ...] = (
    (AreaType.URBAN.label, AreaType.URBAN),
    (AreaType.RURAL.label, AreaType.RURAL),
    (SUM_SUB, None),
)
# Header spellings a user's copy may carry instead of the printed ones.
GROUP_ALIASES = {"集中供热": "集中供热（工业余热）"}


@dataclass(frozen=True)
class Column:
    group: str
    sub: str
    path: HeatingPath | None
    area: AreaType | None

    @property
    def key(self) -> str:
        return f"{self.group}/{self.sub}"

    @property
    def label(self) -> str:
        return f"{self.group} · {self.sub}"


COLUMNS: tuple[Column, ...] = tuple(
    Column(group, sub, path, area) for group, path in GROUPS for sub, area in SUBS
)
FLAT_HEADERS: tuple[str, ...] = (COUNTY_HEADER, *(c.key for c in COLUMNS))
# Only these cells are stored; the 合计 and 总任务数 cells are derived from them.
CELLS: tuple[tuple[HeatingPath, AreaType], ...] = tuple(
    (c.path, c.area) for c in COLUMNS if c.path is not None and c.area is not None
)

# Keyed by (path, area) values; the TextChoices members hash and compare as their values.
Counts = dict[tuple[str, str], int]


class TableLayoutError(ValueError):
    """The file is not the task-breakdown table at all (one message, not a list)."""


@dataclass(frozen=True)
class TableError:
    """One wrong cell: its spreadsheet row, the county on that row, its column and what is wrong."""

    row: int | None
    unit: str
    column: str
    message: str

    def __str__(self) -> str:
        if self.row is None:
            return f"整表「{self.column}」：{self.message}"
        return f"第{self.row}行（{self.unit}）「{self.column}」：{self.message}"


@dataclass
class Breakdown:
    """A checked table: the stored cells of every county, in the table's order."""

    counts: dict[County, Counts] = field(default_factory=dict)
    rows: dict[County, int] = field(default_factory=dict)  # the spreadsheet row of each county


def row_values(counts: Mapping[tuple[str, str], int]) -> list[int]:
    """The 15 printed numbers of a row, 合计 and 总任务数 included, from its 8 stored cells."""
    values = []
    for column in COLUMNS:
        paths = [column.path] if column.path else [p for _, p in GROUPS if p]
        areas = [column.area] if column.area else [AreaType.URBAN, AreaType.RURAL]
        values.append(sum(counts.get((p, a), 0) for p in paths for a in areas))
    return values


def _clean_text(value: object) -> str:
    text = "" if value is None else str(value)
    text = re.sub(r"[\s\u3000]+", "", text)
    return text.replace("(", "（").replace(")", "）").replace(":", "：")


# ---------------------------------------------------------------- reading the printed sheet

NOT_A_WORKBOOK = "文件不是有效的 Excel 工作簿（.xlsx），请上传任务分解表原表。"
# The table is 16 counties and 总计 under four rows of title and header, perhaps with notes and
# signatures below: a sheet far larger, or a workbook of megabytes, is not the table.
TABLE_ROWS = 1000
TABLE_MB = 20


def table_limits() -> Limits:
    """The bounds of an uploaded task table, read like every other upload (heating/sheet_reader.py)."""
    return dataclasses.replace(
        limits(),
        rows=TABLE_ROWS,
        uncompressed=TABLE_MB * 2**20,
        advice="任务分解表只有各县（市、区）和总计行，请上传任务分解表原表（可在本系统下载）。",
    )


def read_printed(data: bytes) -> tablib.Dataset:
    """The printed sheet as a flat Dataset: ROW_HEADER (the sheet's row number), then FLAT_HEADERS.

    The first visible sheet is read by the bounded reader (the admin's upload included: parsed
    here, a 1.6 KB sheet declaring cell XFD1048576 took the web process to 5.9 GB). Rows below 总计
    (notes, signatures) are not part of the table and are left out.
    """
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise TableLayoutError(NOT_A_WORKBOOK)
    try:
        numbered, _ = read_xlsx(data, table_limits())
        # The reader numbers every row from the first: a row's index + 1 is its sheet row.
        rows = [[_whole(v) for v in row] for _, row in numbered]
    except Refused as exc:
        raise TableLayoutError(NOT_A_WORKBOOK if str(exc) == UNREADABLE else str(exc)) from exc

    header_at = next(
        (i for i, r in enumerate(rows[:15]) if r and _clean_text(r[0]) == COUNTY_HEADER), None
    )
    if header_at is None:
        raise TableLayoutError(
            f"找不到表头：第一列应有「{COUNTY_HEADER}」，其下一行为城区/县城、农村、合计。"
            "请使用任务分解表的原格式（可在本系统下载）。"
        )
    _check_headers(rows, header_at)

    dataset = tablib.Dataset(headers=[ROW_HEADER, *FLAT_HEADERS])
    dataset.title = next(
        (_clean_text(r[0]) for r in rows[:header_at] if r and _clean_text(r[0])), ""
    )
    for index in range(header_at + 2, len(rows)):
        cells = (rows[index] + [None] * len(FLAT_HEADERS))[: len(FLAT_HEADERS)]
        if all(_clean_text(c) == "" for c in cells):
            continue
        dataset.append([index + 1, *cells])
        if _clean_text(cells[0]) == TOTAL_LABEL:
            break
    return dataset


def _whole(value: object) -> object:
    """A number as the sheet shows it: the parser gives every number as a float (5370.0), and a
    message names the cell's value (「-3」为负数)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _check_headers(rows: Sequence[Sequence[object]], header_at: int) -> None:
    from xlsxwriter.utility import xl_col_to_name  # as in heating/sheets.py: loaded where used

    groups = list(rows[header_at]) + [None] * len(FLAT_HEADERS)
    subs = list(rows[header_at + 1]) if header_at + 1 < len(rows) else []
    subs += [None] * len(FLAT_HEADERS)
    problems = []
    for offset, column in enumerate(COLUMNS, start=1):
        letter = xl_col_to_name(offset)
        if column.sub == SUBS[0][0]:
            found = _clean_text(groups[offset])
            if GROUP_ALIASES.get(found, found) != column.group:
                problems.append(f"{letter}{header_at + 1} 应为「{column.group}」，实为「{found}」")
        found = _clean_text(subs[offset])
        if found != column.sub:
            problems.append(f"{letter}{header_at + 2} 应为「{column.sub}」，实为「{found}」")
    if problems:
        raise TableLayoutError("表头与任务分解表不一致：" + "；".join(problems) + "。")


# ---------------------------------------------------------------- checking


def _parse_count(value: object) -> tuple[int | None, str | None]:
    """A cell as a household count, or the reason it is not one. A blank cell counts as 0."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0, None
    if isinstance(value, bool):
        return None, f"「{value}」不是数字，应为非负整数"
    if isinstance(value, int):
        number = Decimal(value)
    else:
        try:
            number = Decimal(str(value).strip().replace(",", "").replace("，", ""))
        except InvalidOperation:
            return None, f"「{value}」不是数字，应为非负整数"
    if not number.is_finite():
        return None, f"「{value}」不是数字，应为非负整数"
    if number != number.to_integral_value():
        return None, f"「{value}」不是整数，户数应为非负整数"
    if number < 0:
        return None, f"「{value}」为负数，户数应为非负整数"
    return int(number), None


def county_labels(counties: Iterable[County]) -> dict[str, County]:
    """Every name a county goes by in an upload: the table's short name, full name, division code."""
    labels: dict[str, County] = {}
    for county in counties:
        for label in (county.short_name, county.name, county.division_code):
            if label:
                labels[_clean_text(label)] = county
    return labels


def check(
    dataset: tablib.Dataset, *, counties: Sequence[County], year: int
) -> tuple[Breakdown, list[TableError]]:
    """Every error of the table at once; the Breakdown is only meaningful when there are none."""
    errors: list[TableError] = []
    labels = county_labels(counties)

    title_years = re.findall(r"(\d{4})年", dataset.title or "")
    if title_years and int(title_years[0]) != year:
        errors.append(
            TableError(
                None, "", "标题", f"标题为{title_years[0]}年的任务表，与导入年度{year}年不一致"
            )
        )

    breakdown = Breakdown()
    seen: dict[County, int] = {}
    county_rows: list[list[int | None]] = []
    total_row: tuple[int, list[int | None]] | None = None
    last_row = 0
    for record in dataset.dict:
        row = int(record[ROW_HEADER])
        last_row = row
        label = _clean_text(record[COUNTY_HEADER])
        numbers: list[int | None] = []
        for column in COLUMNS:
            number, problem = _parse_count(record[column.key])
            numbers.append(number)
            if problem:
                errors.append(TableError(row, label, column.label, problem))
        errors.extend(_check_row_sums(row, label, numbers))

        if label == TOTAL_LABEL:
            total_row = (row, numbers)
            continue
        county = labels.get(label)
        if county is None:
            errors.append(
                TableError(
                    row,
                    label or "空",
                    COUNTY_HEADER,
                    f"未知的县（市、区）「{record[COUNTY_HEADER] or ''}」，"
                    "应为任务分解表的16个单位之一（如 忻州城区、原平市、五台山）",
                )
            )
        elif county in seen:
            errors.append(
                TableError(row, label, COUNTY_HEADER, f"与第{seen[county]}行重复，每县只能有一行")
            )
        else:
            seen[county] = row
            breakdown.rows[county] = row
            breakdown.counts[county] = {
                (c.path, c.area): n
                for c, n in zip(COLUMNS, numbers, strict=True)
                if c.path and c.area and n is not None
            }
        county_rows.append(numbers)

    missing = [c.short_name for c in counties if c not in seen]
    if missing:
        errors.append(
            TableError(None, "", COUNTY_HEADER, "缺少以下单位的行：" + "、".join(missing))
        )
    if total_row is None:
        errors.append(
            TableError(last_row + 1 if last_row else None, TOTAL_LABEL, COUNTY_HEADER, "缺少总计行")
        )
    else:
        errors.extend(_check_total_row(*total_row, county_rows))
    return breakdown, errors


def _known(values: Iterable[int | None]) -> list[int] | None:
    """The values if every one parsed; sums over a cell that did not parse would only repeat its error."""
    known = list(values)
    return None if None in known else known  # type: ignore[return-value]


def _check_row_sums(row: int, unit: str, numbers: Sequence[int | None]) -> list[TableError]:
    errors = []
    by_key = dict(zip((c.key for c in COLUMNS), numbers, strict=True))
    urban, rural = SUBS[0][0], SUBS[1][0]
    for group, _ in GROUPS:
        known = _known(
            (by_key[f"{group}/{urban}"], by_key[f"{group}/{rural}"], by_key[f"{group}/{SUM_SUB}"])
        )
        if known and known[2] != known[0] + known[1]:
            errors.append(
                TableError(
                    row,
                    unit,
                    f"{group} · {SUM_SUB}",
                    f"合计为{known[2]}，应为 城区/县城 + 农村 = "
                    f"{known[0]} + {known[1]} = {known[0] + known[1]}",
                )
            )
    for sub, _ in SUBS:
        parts = _known(by_key[f"{group}/{sub}"] for group, path in GROUPS if path)
        found = by_key[f"{TOTAL_GROUP}/{sub}"]
        if parts and found is not None and found != sum(parts):
            errors.append(
                TableError(
                    row,
                    unit,
                    f"{TOTAL_GROUP} · {sub}",
                    f"总任务数为{found}，应为四种取暖路径之和 "
                    f"{' + '.join(str(p) for p in parts)} = {sum(parts)}",
                )
            )
    return errors


def _check_total_row(
    row: int, numbers: Sequence[int | None], county_rows: Sequence[Sequence[int | None]]
) -> list[TableError]:
    errors = []
    for index, column in enumerate(COLUMNS):
        found = numbers[index]
        parts = _known(r[index] for r in county_rows)
        if found is None or parts is None:
            continue
        expected = sum(parts)
        if found != expected:
            errors.append(
                TableError(
                    row,
                    TOTAL_LABEL,
                    column.label,
                    f"总计为{found}，应为各县（市、区）之和 {expected}",
                )
            )
    return errors


# ---------------------------------------------------------------- writing the printed sheet


def flat_dataset(title: str, counts: Mapping[County, Counts]) -> tablib.Dataset:
    """The flat form of a year's table: one row per county, then 总计."""
    dataset = tablib.Dataset(headers=list(FLAT_HEADERS), title=title)
    totals = [0] * len(COLUMNS)
    for county, cells in counts.items():
        values = row_values(cells)
        totals = [t + v for t, v in zip(totals, values, strict=True)]
        dataset.append([county.short_name, *values])
    dataset.append([TOTAL_LABEL, *totals])
    return dataset


def write_printed(dataset: tablib.Dataset) -> bytes:
    """The flat Dataset as the printed sheet (title, unit, merged two-row header, rows, 总计)."""
    return write_printed_layout(
        title=dataset.title,
        sheet_name="任务分解表",
        subs=[sub for sub, _ in SUBS],
        rows=dataset,
    )


def write_printed_layout(
    *, title: str, sheet_name: str, subs: Sequence[str], rows: Iterable[Sequence[object]]
) -> bytes:
    """A table in the plan's printed layout, shared by the task table and the progress table: a
    title row, 单位：户, a two-row header with each group of GROUPS merged over `subs`, one row per
    county and a bold last row (the total), on A4 landscape one page wide. A float is a rate
    (0.957), shown as 95.7% and kept a number a spreadsheet can compute with."""
    # openpyxl (with numpy, which it imports) only where a printed table is written: imported
    # with this module, it cost every process a fifth of a second at start-up, a command's too.
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = sheet_name
    width = 1 + len(GROUPS) * len(subs)
    last = get_column_letter(width)
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    center = Alignment(horizontal="center", vertical="center", wrap_text=True)

    sheet.append([neutralise(title)] + [None] * (width - 1))
    sheet.merge_cells(f"A1:{last}1")
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A1"].alignment = Alignment(horizontal="center", vertical="center")
    sheet.append([None] * (width - 1) + [UNIT_LABEL])
    sheet[f"{last}2"].alignment = Alignment(horizontal="right")

    group_row: list[str | None] = [COUNTY_HEADER]
    for group, _ in GROUPS:
        group_row += [group, *[None] * (len(subs) - 1)]
    sheet.append(group_row)
    sheet.append([None, *(list(subs) * len(GROUPS))])
    sheet.merge_cells("A3:A4")
    for offset in range(len(GROUPS)):
        start = 2 + offset * len(subs)
        sheet.merge_cells(
            start_row=3, start_column=start, end_row=3, end_column=start + len(subs) - 1
        )

    for record in rows:
        # A name people typed (a round's title, a county's label) is never run as a formula.
        sheet.append([neutralise(v) if isinstance(v, str) else v for v in record])

    for row in sheet.iter_rows(min_row=3, max_row=sheet.max_row, max_col=width):
        for cell in row:
            cell.border = border
            cell.alignment = center
            if isinstance(cell.value, float):
                cell.number_format = "0.0%"
            if cell.row <= 4 or cell.row == sheet.max_row:
                cell.font = Font(bold=True)
    sheet.column_dimensions["A"].width = 14
    for index in range(2, width + 1):
        sheet.column_dimensions[get_column_letter(index)].width = 13
    sheet.freeze_panes = "B5"
    sheet.print_options.horizontalCentered = True
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.sheet_properties.pageSetUpPr.fitToPage = True

    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
