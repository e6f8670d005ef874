"""The city's upward report of a round (向上报送): one xlsx in the task table's printed layout and
one .docx, both from the accepted reports' frozen figures only, so that either can be made again
later and says the same."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from django.utils import timezone
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

from heating.breakdown import GROUPS, write_printed_layout
from oversight.dispatch.models import CountyReport, DispatchRound, ReportStatus

SUBS = ("任务数", "完工", "完成率")


def accepted(dispatch_round: DispatchRound) -> list[CountyReport]:
    return list(
        dispatch_round.reports.filter(status=ReportStatus.ACCEPTED).select_related(
            "county", "submitted_by", "signed_by", "accepted_by"
        )
    )


def group(figures: dict[str, Any], path: str | None) -> tuple[int, int]:
    """(target, completed) of one path (None: every path) from a report's frozen cells."""
    cells = figures.get("progress", {}).get("cells", [])
    chosen = [c for c in cells if path is None or c["path"] == path]
    return sum(int(c["target"]) for c in chosen), sum(int(c["completed"]) for c in chosen)


def _values(target: int, completed: int) -> list[object]:
    return [target, completed, completed / target if target else "—"]


def _row(label: str, figure_sets: Iterable[dict[str, Any]]) -> list[object]:
    sets = list(figure_sets)
    values: list[object] = [label]
    for _, path in GROUPS:
        pairs = [group(f, path) for f in sets]
        values += _values(sum(t for t, _ in pairs), sum(c for _, c in pairs))
    return values


def upward_xlsx(dispatch_round: DispatchRound) -> bytes:
    reports = accepted(dispatch_round)
    rows = [_row(r.county.short_name, [r.figures]) for r in reports]
    rows.append(_row("合计", (r.figures for r in reports)))
    return write_printed_layout(
        title=f"{dispatch_round.title}：清洁取暖改造进度（市级已确认 {len(reports)} 个县）",
        sheet_name="调度汇总",
        subs=SUBS,
        rows=rows,
    )


def _local(value: Any) -> str:
    return f"{timezone.localtime(value):%Y年%m月%d日 %H:%M}" if value else "—"


# GB/T 9704 (党政机关公文格式): A4, margins of 37 mm top, 35 bottom, 28 left, 26 right; the title
# in 小标宋 二号, headings 黑体 and 楷体 三号, the text 仿宋 三号, all black. Fonts are named as Word
# finds them on a government PC; where one is missing, Word substitutes its own.
FONT_TEXT, FONT_TITLE, FONT_H1, FONT_H2 = "仿宋_GB2312", "方正小标宋简体", "黑体", "楷体_GB2312"
SIZE_TEXT, SIZE_TITLE, SIZE_TABLE = Pt(16), Pt(22), Pt(12)


def _font(target: Any, name: str, size: Pt, *, bold: bool = False) -> None:
    """Set a style's or run's font, East Asian name included, in black."""
    target.font.name = name
    target.font.size = size
    target.font.bold = bold
    target.font.color.rgb = RGBColor(0, 0, 0)
    properties = target.element.get_or_add_rPr()
    properties.get_or_add_rFonts().set(qn("w:eastAsia"), name)


def _official(document: Any) -> None:
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    _font(document.styles["Normal"], FONT_TEXT, SIZE_TEXT)
    for level, (name, bold) in {
        1: (FONT_H1, False),
        2: (FONT_H2, False),
        3: (FONT_H2, True),
    }.items():
        style = document.styles[f"Heading {level}"]
        _font(style, name, SIZE_TEXT, bold=bold)
        style.paragraph_format.space_before, style.paragraph_format.space_after = Pt(6), Pt(6)


def _title(document: Any, text: str) -> None:
    paragraph = document.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _font(paragraph.add_run(text), FONT_TITLE, SIZE_TITLE)


def _table(document: Any, header: list[str], rows: list[list[str]]) -> None:
    table = document.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for values in [header, *rows]:
        cells = table.rows[0].cells if values is header else table.add_row().cells
        for cell, text in zip(cells, values, strict=True):
            cell.text = ""
            _font(cell.paragraphs[0].add_run(text), FONT_TEXT, SIZE_TABLE, bold=values is header)


def _progress_row(label: str, figures: Iterable[dict[str, Any]]) -> list[str]:
    sets = list(figures)
    target = sum(group(f, None)[0] for f in sets)
    completed = sum(group(f, None)[1] for f in sets)
    accepted = sum(int(f.get("progress", {}).get("accepted", 0)) for f in sets)
    return [
        label, f"{target:,}", f"{completed:,}",
        f"{100 * completed / target:.1f}%" if target else "—", f"{accepted:,}",
    ]  # fmt: skip


def _who(dispatch_round: DispatchRound) -> str:
    """How many counties reported, which did not, which were late: said as it is."""
    everyone = list(dispatch_round.reports.select_related("county").order_by("county__order"))
    reported = [r for r in everyone if not r.open]
    missing = [r.county.short_name for r in everyone if r.open]
    late = [r.county.short_name for r in everyone if r.late()]
    said = f"全市 {len(everyone)} 个县（市、区）中，{len(reported)} 个已报送"
    said += f"，{len(missing)} 个未报送（{'、'.join(missing)}）" if missing else "，全部已报送"
    if late:
        said += f"；逾期：{'、'.join(late)}"
    elif not missing:
        said += "，均按时报送"
    return said + "。"


def upward_docx(dispatch_round: DispatchRound) -> bytes:
    reports = accepted(dispatch_round)
    target = sum(group(r.figures, None)[0] for r in reports)
    completed = sum(group(r.figures, None)[1] for r in reports)
    document = Document()
    _official(document)
    _title(document, f"忻州市冬季清洁取暖改造调度报告（{dispatch_round.title}）")
    document.add_paragraph(
        f"本期调度于{_local(dispatch_round.opened_at)}发起，报送截止{_local(dispatch_round.due_at)}。"
        + _who(dispatch_round)
        + f"其中 {len(reports)} 个县的报告经县级审核、市级确认，"
        f"已确认各县任务 {target:,} 户，已完工 {completed:,} 户"
        + (f"，完成率 {100 * completed / target:.1f}%。" if target else "。")
    )
    document.add_heading("一、各县进度（市级已确认）", 1)
    rows = []
    for r in reports:
        projection = r.figures.get("projection", {})
        finish = projection.get("expected_finish") or "—"
        rows.append(
            [*_progress_row(r.county.short_name, [r.figures]),
             f"{finish} / {projection.get('deadline', '—')}"]
        )  # fmt: skip
    rows.append([*_progress_row("合计", (r.figures for r in reports)), ""])
    _table(
        document,
        ["县（市、区）", "任务数", "已完工", "完成率", "已验收", "完工日期（预计）/ 施工截止"],
        rows,
    )
    document.add_heading("二、各县存在问题和需市级协调解决的事项", 1)
    for number, r in enumerate(reports, start=1):
        document.add_heading(f"（{_chinese(number)}）{r.county.short_name}", 2)
        for label, text in (("存在问题", r.problems), ("需市级协调", r.help_needed),
                            ("下步安排", r.next_steps)):  # fmt: skip
            document.add_paragraph(f"{label}：{text or '无'}")
    document.add_heading("三、报送与审核", 1)
    _table(
        document,
        ["县（市、区）", "填报人", "县级审核人", "市级确认人"],
        [
            [r.county.short_name]
            + [f"{who}（{_local(when)}）" for who, when in (
                (r.submitted_by, r.submitted_at), (r.signed_by, r.signed_at),
                (r.accepted_by, r.accepted_at))]
            for r in reports
        ],
    )  # fmt: skip
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _chinese(number: int) -> str:
    """一 … 九十九, for the （一）（二） of a list."""
    digits = "零一二三四五六七八九"
    tens, ones = divmod(number, 10)
    if not tens:
        return digits[ones]
    return ("" if tens == 1 else digits[tens]) + "十" + (digits[ones] if ones else "")
