"""The 绩效自评表 (.xlsx) in the standard layout: the four levels with merged cells for the first
two, direction, unit, 年度指标值, 实际完成值, 分值, 得分, 偏差原因及改进措施, and where each actual
value comes from; a 合计 row and the pack's digest."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

    from oversight.evaluation.pack import PackContent

HEADER = [
    "一级指标",
    "二级指标",
    "三级指标",
    "指标方向",
    "计量单位",
    "年度指标值",
    "实际完成值",
    "分值",
    "得分",
    "偏差原因及改进措施",
    "取数口径",
]
WIDTHS = [12, 14, 30, 10, 10, 12, 12, 8, 8, 40, 50]
FIRST_ROW = 5  # the header's row


def write_table(content: PackContent) -> bytes:
    evaluation = content.evaluation
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "绩效自评表"
    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    wrap = Alignment(wrap_text=True, vertical="center")
    sheet.append([f"项目支出绩效自评表（{content.plan_year.year}年度）"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
    sheet["A1"].font = Font(size=16, bold=True)
    sheet["A1"].alignment = Alignment(horizontal="center")
    sheet.append(["项目名称", content.plan_year.title])
    sheet.append(
        ["数据截至", content.as_of.isoformat(), "", "", "自评得分", float(evaluation.total)]
    )
    sheet.append([])
    sheet.append(HEADER)
    for row in evaluation.rows:
        indicator = row.indicator
        sheet.append(
            [
                indicator.level1,
                indicator.level2,
                indicator.level3,
                indicator.get_direction_display(),
                indicator.unit,
                None if row.target is None else float(row.target),
                None if row.actual.value is None else float(row.actual.value),
                float(indicator.weight),
                float(row.score),
                indicator.deviation,
                f"{row.measure_label}；{row.actual.basis}",
            ]
        )
    total = [float(evaluation.weight), float(evaluation.total)]
    sheet.append(["合计", "", "", "", "", None, None, *total, "", ""])
    levels = [(r.indicator.level1, r.indicator.level2) for r in evaluation.rows]
    _merge_runs(sheet, [k[:1] for k in levels], column=1)
    _merge_runs(sheet, levels, column=2)
    for cells in sheet.iter_rows(min_row=FIRST_ROW, max_row=sheet.max_row, max_col=len(HEADER)):
        for cell in cells:
            cell.border = box
            cell.alignment = wrap
            if cell.row == FIRST_ROW or cell.row == sheet.max_row:
                cell.font = Font(bold=True)
    sheet.append([])
    sheet.append([f"内容摘要（SHA-256）：{content.digest}；抽样种子：{content.seed}"])
    for i, width in enumerate(WIDTHS, start=1):
        sheet.column_dimensions[sheet.cell(row=FIRST_ROW, column=i).column_letter].width = width
    sheet.freeze_panes = sheet.cell(row=FIRST_ROW + 1, column=1)
    sheet.print_options.gridLines = False
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _merge_runs(sheet: Worksheet, keys: Sequence[tuple[str, ...]], column: int) -> None:
    """Merge the cells of each run of rows with equal keys (a level's rows) in a column."""
    start = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            if i - 1 > start:
                sheet.merge_cells(
                    start_row=FIRST_ROW + 1 + start,
                    start_column=column,
                    end_row=FIRST_ROW + i,
                    end_column=column,
                )
            start = i
