"""The progress table in the plan's printed layout: each group's target, completed and percent."""

from __future__ import annotations

from heating.breakdown import GROUPS, write_printed_layout
from oversight.dashboards.progress import Figures, ProgressReport

SUBS = ("任务数", "完工", "完成率")


def _values(figures: Figures) -> list[object]:
    """Target, completed and the rate, a number (a percentage in the sheet), "—" with no target."""
    rate = figures.completed / figures.target if figures.target else "—"
    return [figures.target, figures.completed, rate]


def write_progress(report: ProgressReport) -> bytes:
    as_of = f"{report.as_of:%Y年%m月%d日 %H:%M}" if report.as_of else "尚未汇总"
    paths = [path for _, path in GROUPS]
    rows = [
        [county.county.short_name, *(v for p in paths for v in _values(county.group(p)))]
        for county in report.counties
    ]
    rows.append(
        [
            "合计" if len(report.counties) < 16 else "总计",
            *(v for p in paths for v in _values(report.group(p))),
        ]
    )
    return write_printed_layout(
        title=f"忻州市{report.plan_year.year}年冬季清洁取暖改造进度表（截至{as_of}）",
        sheet_name="改造进度",
        subs=SUBS,
        rows=rows,
    )
