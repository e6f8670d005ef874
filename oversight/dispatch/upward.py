"""The city's upward report of a round (向上报送): one xlsx in the task table's printed layout and
one .docx, both from the accepted reports' frozen figures only, so that either can be made again
later and says the same."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from django.utils import timezone
from docx import Document

from heating.breakdown import GROUPS, write_printed_layout
from oversight.dispatch.models import CountyReport, DispatchRound, ReportStatus
from oversight.officialdoc import official, table, title

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
    official(document)
    title(document, f"忻州市冬季清洁取暖改造调度报告（{dispatch_round.title}）")
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
    table(
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
    table(
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
