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
from docx.shared import Pt

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
    return [target, completed, f"{100 * completed / target:.1f}%" if target else "—"]


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


def upward_docx(dispatch_round: DispatchRound) -> bytes:
    reports = accepted(dispatch_round)
    target = sum(group(r.figures, None)[0] for r in reports)
    completed = sum(group(r.figures, None)[1] for r in reports)
    document = Document()
    style = document.styles["Normal"]
    style.font.size = Pt(11)
    heading = document.add_heading(f"忻州市冬季清洁取暖改造调度报告（{dispatch_round.title}）", 1)
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    everyone = dispatch_round.reports.select_related("county")
    late = [r.county.short_name for r in everyone if r.late()]
    document.add_paragraph(
        f"本期调度于{_local(dispatch_round.opened_at)}发起，报送截止{_local(dispatch_round.due_at)}。"
        f"全市 16 个县（市、区）中，{len(reports)} 个县的报告经县级审核、市级确认。"
        f"已确认各县任务 {target:,} 户，已完工 {completed:,} 户"
        + (f"，完成率 {100 * completed / target:.1f}%。" if target else "。")
        + (f"逾期报送：{'、'.join(late)}。" if late else "各县均按时报送。")
    )
    document.add_heading("一、各县进度", 2)
    table = document.add_table(rows=1, cols=6)
    table.style = "Table Grid"
    for cell, text in zip(
        table.rows[0].cells,
        ["县（市、区）", "任务数", "已完工", "完成率", "已验收", "预计完工 / 施工截止"],
        strict=True,
    ):
        cell.text = text
    for r in reports:
        t, c = group(r.figures, None)
        projection = r.figures.get("projection", {})
        cells = table.add_row().cells
        values = [
            r.county.short_name, f"{t:,}", f"{c:,}", f"{100 * c / t:.1f}%" if t else "—",
            f"{int(r.figures.get('progress', {}).get('accepted', 0)):,}",
            f"{projection.get('expected_finish') or '—'} / {projection.get('deadline', '—')}",
        ]  # fmt: skip
        for cell, text in zip(cells, values, strict=True):
            cell.text = text
    document.add_heading("二、各县存在问题和需市级协调解决的事项", 2)
    for r in reports:
        document.add_heading(r.county.short_name, 3)
        for label, text in (("存在问题", r.problems), ("需市级协调", r.help_needed),
                            ("下步安排", r.next_steps)):  # fmt: skip
            document.add_paragraph(f"{label}：{text or '无'}")
    document.add_heading("三、报送与审核", 2)
    signers = document.add_table(rows=1, cols=4)
    signers.style = "Table Grid"
    for cell, text in zip(
        signers.rows[0].cells, ["县（市、区）", "填报人", "县级审核人", "市级确认人"], strict=True
    ):
        cell.text = text
    for r in reports:
        cells = signers.add_row().cells
        for cell, (who, when) in zip(
            cells[1:],
            [(r.submitted_by, r.submitted_at), (r.signed_by, r.signed_at),
             (r.accepted_by, r.accepted_at)],
            strict=True,
        ):  # fmt: skip
            cell.text = f"{who}（{_local(when)}）"
        cells[0].text = r.county.short_name
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
