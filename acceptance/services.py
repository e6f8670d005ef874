"""Writes of acceptance: a visit (with its defects and photos), and the removal of old heating."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from acceptance.models import Defect, HeatingRemoval, Inspection, InspectionPhoto
from acceptance.rules import CHECKLISTS, removal_allowed_from
from heating.models import Role, User
from retrofits.models import Household, Stage

PHOTO_TYPES = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG", "image/webp": b"RIFF"}
MAX_PHOTO_MB = 10


@dataclass(frozen=True)
class DefectInput:
    description: str
    rectify_by: dt.date


def _check_photo(photo: UploadedFile) -> str:
    """The photo's checked content type: a JPEG, PNG or WebP image of at most MAX_PHOTO_MB."""
    if (photo.size or 0) > MAX_PHOTO_MB * 1024 * 1024:
        raise ValidationError({"photos": f"照片「{photo.name}」超过 {MAX_PHOTO_MB} MB"})
    head = photo.read(12)
    photo.seek(0)
    for content_type, magic in PHOTO_TYPES.items():
        if head.startswith(magic) and (content_type != "image/webp" or head[8:12] == b"WEBP"):
            return content_type
    raise ValidationError({"photos": f"「{photo.name}」不是 JPEG、PNG 或 WebP 照片"})


@transaction.atomic
def inspection_record(
    *,
    household: Household,
    inspector: User,
    visited_at: dt.datetime,
    passed: bool,
    checklist: dict[str, bool],
    defects: list[DefectInput] | None = None,
    photos: list[UploadedFile] | None = None,
    co_inspectors: str = "",
    supervision_unit: str = "",
    location: tuple[Decimal, Decimal] | None = None,
    notes: str = "",
) -> Inspection:
    """Record a visit. Passing makes the household 已验收 and closes its open defects; failing keeps
    it at 已完工 with the defects found, to be closed by a passing revisit."""
    if not Household.objects.inspectable_by(inspector).filter(pk=household.pk).exists():
        raise PermissionDenied("只有负责该县的验收人员可以验收该户。")
    # A household accepted twice at once would close the same defects twice.
    household = Household.objects.select_for_update().get(pk=household.pk)
    defects = defects or []
    errors: dict[str, list[str]] = {}
    if household.stage != Stage.COMPLETED:
        errors.setdefault("household", []).append(
            f"该户实施进度为“{household.get_stage_display()}”，只有“已完工”的户可以验收"
        )
    items = dict(CHECKLISTS[household.path])
    unknown = set(checklist) - set(items)
    if unknown:
        errors.setdefault("checklist", []).append(f"未知的检查项：{'、'.join(sorted(unknown))}")
    if passed and not all(checklist.get(code) for code in items):
        missing = [items[code] for code in items if not checklist.get(code)]
        errors.setdefault("checklist", []).append(
            "合格须全部检查项通过，未通过：" + "、".join(missing)
        )
    if not passed and not defects:
        errors.setdefault("defects", []).append("不合格须列出问题和整改期限")
    if passed and defects:
        errors.setdefault("defects", []).append("合格的验收不应有待整改问题")
    for defect in defects:
        if not defect.description.strip():
            errors.setdefault("defects", []).append("问题描述不能为空")
        if defect.rectify_by < visited_at.date():
            errors.setdefault("defects", []).append(f"整改期限 {defect.rectify_by} 早于验收日期")
    checked_types = []
    for photo in photos or []:
        try:
            checked_types.append(_check_photo(photo))
        except ValidationError as exc:
            for messages in exc.message_dict.values():
                errors.setdefault("photos", []).extend(messages)
    if errors:
        raise ValidationError(errors)

    inspection = Inspection(
        household=household,
        visited_at=visited_at,
        inspector=inspector,
        co_inspectors=co_inspectors.strip(),
        supervision_unit=supervision_unit.strip(),
        checklist={code: bool(checklist.get(code)) for code in items},
        result=Inspection.Result.PASSED if passed else Inspection.Result.FAILED,
        notes=notes.strip(),
        latitude=location[0] if location else None,
        longitude=location[1] if location else None,
    )
    inspection.full_clean()
    inspection.save()
    Defect.objects.bulk_create(
        Defect(
            inspection=inspection,
            household=household,
            description=d.description.strip(),
            rectify_by=d.rectify_by,
        )
        for d in defects
    )
    for photo, content_type in zip(photos or [], checked_types, strict=True):
        InspectionPhoto.objects.create(
            inspection=inspection, image=photo, content_type=content_type, size=photo.size or 0
        )
    if passed:
        Defect.objects.filter(household=household).open().update(closed_by=inspection)
        household.stage = Stage.ACCEPTED
        household.updated_by = inspector
        household._change_reason = f"验收合格（{inspector}，{visited_at:%Y-%m-%d}）"  # type: ignore[attr-defined]
        household.save()
        from retrofits.tasks import run_rollup

        transaction.on_commit(run_rollup.delay)
    return inspection


def accepted_on(household: Household) -> dt.date | None:
    visit = (
        household.inspections.filter(result=Inspection.Result.PASSED)
        .order_by("-visited_at")
        .first()
    )
    return visit.visited_at.date() if visit else None


@transaction.atomic
def heating_removal_record(
    *, household: Household, removed_on: dt.date, user: User
) -> HeatingRemoval:
    """先立后破: the original heating goes only after acceptance, one whole heating season of the new
    system and no open defects; an early attempt is refused with the date it becomes allowed."""
    if not Household.objects.editable_by(user).filter(
        pk=household.pk
    ).exists() or user.role not in (
        Role.COUNTY,
        Role.ADMIN,
    ):
        raise PermissionDenied("只有本县的县级用户可以登记拆除原有取暖设施。")
    accepted = accepted_on(household) if household.stage == Stage.ACCEPTED else None
    if accepted is None:
        raise ValidationError({"removed_on": "先立后破：该户尚未验收合格，不能拆除原有取暖设施"})
    allowed = removal_allowed_from(accepted)
    if removed_on < allowed:
        raise ValidationError(
            {
                "removed_on": f"先立后破：该户于{accepted:%Y年%m月%d日}验收，新设施须稳定运行一个完整采暖季"
                f"（11月至次年3月），{allowed:%Y年%m月%d日}起方可拆除原有取暖设施"
            }
        )
    if removed_on > timezone.localdate():
        raise ValidationError({"removed_on": "拆除日期不能晚于今天"})
    if Defect.objects.filter(household=household).open().exists():
        raise ValidationError(
            {"removed_on": "先立后破：该户仍有未整改的问题，不能拆除原有取暖设施"}
        )
    removal = HeatingRemoval(household=household, removed_on=removed_on, recorded_by=user)
    removal.full_clean()
    removal.save()
    return removal
