"""The progress table in the printed breakdown layout: each group's target, completed and percent."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter

from heating.breakdown import COUNTY_HEADER, GROUPS, UNIT_LABEL
from retrofits.rollups import Figures, ProgressReport

SUBS = ("任务数", "完工", "完成率")


def _values(figures: Figures) -> list[object]:
    pct = figures.as_dict()["completed_pct"]
    return [figures.target, figures.completed, f"{pct:.1f}%" if pct is not None else "—"]


def write_progress(report: ProgressReport) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "改造进度"
    width = 1 + len(GROUPS) * len(SUBS)
    last = get_column_letter(width)
    as_of = (
        f"{report.run.finished_at:%Y年%m月%d日 %H:%M}"
        if report.run and report.run.finished_at
        else "尚未汇总"
    )
    sheet.append([f"忻州市{report.plan_year.year}年冬季清洁取暖改造进度表（截至{as_of}）"])
    sheet.merge_cells(f"A1:{last}1")
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A1"].alignment = Alignment(horizontal="center")
    sheet.append([None] * (width - 1) + [UNIT_LABEL])
    header: list[object] = [COUNTY_HEADER]
    for group, _ in GROUPS:
        header += [group, None, None]
    sheet.append(header)
    sheet.append([None, *(SUBS * len(GROUPS))])
    sheet.merge_cells("A3:A4")
    for index in range(len(GROUPS)):
        start = 2 + index * len(SUBS)
        sheet.merge_cells(
            start_row=3, start_column=start, end_row=3, end_column=start + len(SUBS) - 1
        )
    paths = [path for _, path in GROUPS]
    for county in report.counties:
        sheet.append(
            [county.county.short_name, *(v for p in paths for v in _values(county.group(p)))]
        )
    sheet.append(
        [
            "合计" if len(report.counties) < 16 else "总计",
            *(v for p in paths for v in _values(report.group(p))),
        ]
    )
    thin = Side(style="thin")
    for row in sheet.iter_rows(min_row=3, max_row=sheet.max_row, max_col=width):
        for cell in row:
            cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
            cell.alignment = Alignment(horizontal="center", vertical="center")
            if cell.row <= 4 or cell.row == sheet.max_row:
                cell.font = Font(bold=True)
    sheet.column_dimensions["A"].width = 14
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
