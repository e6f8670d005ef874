"""The acceptance ledger (验收台账): every visit of a county and a date range, as xlsx, with its
integrity flags and whether the bureau has reviewed them."""

from __future__ import annotations

import io

from django.utils import timezone
from openpyxl import Workbook

from acceptance.models import Inspection, InspectionQuerySet, IntegrityFlag
from heating.models import PlanYear
from heating.selectors import outside_acceptance_window
from heating.sheets import neutralise

HEADERS = (
    "验收日期", "县（市、区）", "验收对象", "乡（镇、街道）", "村（社区）", "户编号", "户主姓名/项目名称",
    "取暖路径/项目类别", "设备型号/面积", "验收结果", "验收人", "同行验收人员", "监理单位",
    "问题及整改期限", "问题已复验", "验收窗口外", "验收类别", "异常提示",
)  # fmt: skip


def write_acceptance_ledger(inspections: InspectionQuerySet, *, title: str) -> bytes:
    windows = {p.year: p for p in PlanYear.objects.all()}
    book = Workbook(write_only=True)
    sheet = book.create_sheet("验收台账")
    sheet.append([neutralise(title)])
    sheet.append(list(HEADERS))
    rows = inspections.select_related(
        "household__county",
        "household__township",
        "household__village",
        "household__equipment",
        "project__county",
        "inspector",
    ).prefetch_related("defects", "flags")
    for visit in rows.order_by("visited_at", "pk"):
        day = timezone.localtime(visit.visited_at).date()
        defects = list(visit.defects.all())
        sheet.append(
            [
                # What people typed (names, units, defects) is never run as a formula.
                neutralise(v) if isinstance(v, str) else v
                for v in [
                    day,
                    *_subject(visit),
                    visit.get_result_display(),
                    str(visit.inspector),
                    visit.co_inspectors,
                    visit.supervision_unit,
                    "；".join(f"{d.description}（{d.rectify_by:%Y-%m-%d}前）" for d in defects),
                    "是" if defects and all(d.closed_by_id for d in defects) else "",
                    "是" if outside_acceptance_window(day, windows) else "",
                    visit.get_kind_display(),
                    "；".join(_flag(f) for f in visit.flags.all()),
                ]
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _flag(flag: IntegrityFlag) -> str:
    """An integrity flag as the ledger says it: what, and whether the bureau has reviewed it."""
    state = f"已核实：{flag.review_reason}" if flag.reviewed_at else "待核实"
    return f"{flag.get_kind_display()}（{state}）{flag.detail}"


def _subject(visit: Inspection) -> list[object]:
    """The visited household or project, in the ledger's columns 2 to 9."""
    if visit.household is not None:
        h = visit.household
        return [
            h.county.short_name, "改造户", h.township.name, h.village.name, h.code, h.head_name,
            h.get_path_display(), h.equipment.model if h.equipment else "",
        ]  # fmt: skip
    project = visit.project
    assert project is not None
    area = f"{project.area_m2:g} 平方米" if project.area_m2 else ""
    return [
        project.county.short_name,
        "项目",
        "",
        "",
        "",
        project.name,
        project.get_kind_display(),
        area,
    ]
