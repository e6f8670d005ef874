"""Writes of acceptance: a visit (with its defects and photos), and the removal of old heating,
one at a time; a season's at once by the same rules in bulk.py. A visit sent from a phone's outbox
carries its own id (`visit_submit`): sent again, it is the same visit. Integrity flags
(integrity.py) and spot checks (spot_checks.py) have their own modules."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from PIL import Image, UnidentifiedImageError

from acceptance.integrity import PhotoPrint, photo_print, print_fields
from acceptance.models import (
    Defect,
    HeatingRemoval,
    Inspection,
    InspectionPhoto,
    Project,
    SpotCheckItem,
)
from acceptance.rules import CHECKLISTS, removal_allowed_from, removal_held_back
from acceptance.selectors import spot_check_due
from acceptance.services.integrity import integrity_flags_record
from heating import access
from heating.access import Action
from heating.models import BuildingKind, BuildingTarget, User
from heating.versions import STALE_HOUSEHOLD, check_version
from retrofits.choices import Stage
from retrofits.models import Household
from retrofits.rules import State, Via, change_problems
from retrofits.services import household_lock, household_save

# What Pillow calls each accepted format, and how it is stored and served.
PHOTO_TYPES = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
MAX_PHOTO_MB = 10
MAX_PHOTOS = 10  # a visit's photos


@dataclass(frozen=True)
class DefectInput:
    description: str
    rectify_by: dt.date


@dataclass(frozen=True)
class CheckedPhoto:
    content_type: str
    fingerprint: PhotoPrint


def _check_photo(photo: UploadedFile) -> CheckedPhoto:
    """The photo's content type, checked by decoding it: a JPEG, PNG or WebP image of at most
    MAX_PHOTO_MB. Its first bytes alone prove nothing (an HTML page can start with a JPEG's).
    The photo is renamed for what it is, so that it is stored and served as nothing else; its
    fingerprint is taken for the integrity checks."""
    if (photo.size or 0) > MAX_PHOTO_MB * 1024 * 1024:
        raise ValidationError({"photos": f"照片「{photo.name}」超过 {MAX_PHOTO_MB} MB"})
    try:
        with Image.open(photo) as image:
            kind = image.format or ""
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        kind = ""
    finally:
        photo.seek(0)
    if kind not in PHOTO_TYPES:
        raise ValidationError({"photos": f"「{photo.name}」不是 JPEG、PNG 或 WebP 照片"})
    content_type, extension = PHOTO_TYPES[kind]
    fingerprint = photo_print(photo)
    photo.name = f"{uuid.uuid4().hex}.{extension}"
    return CheckedPhoto(content_type, fingerprint)


@dataclass
class Visit:
    """What every acceptance visit carries, of a household or of a project."""

    inspector: User
    visited_at: dt.datetime
    passed: bool
    defects: list[DefectInput] = field(default_factory=list)
    photos: list[UploadedFile] = field(default_factory=list)
    co_inspectors: str = ""
    supervision_unit: str = ""
    location: tuple[Decimal, Decimal] | None = None
    notes: str = ""


def _visit_errors(visit: Visit, errors: dict[str, list[str]]) -> list[CheckedPhoto]:
    """The result-and-defect rules every visit follows; returns the photos, checked."""
    if not visit.passed and not visit.defects:
        errors.setdefault("defects", []).append("不合格须列出问题和整改期限")
    if visit.passed and visit.defects:
        errors.setdefault("defects", []).append("合格的验收不应有待整改问题")
    for defect in visit.defects:
        if not defect.description.strip():
            errors.setdefault("defects", []).append("问题描述不能为空")
        if defect.rectify_by < visit.visited_at.date():
            errors.setdefault("defects", []).append(f"整改期限 {defect.rectify_by} 早于验收日期")
    checked: list[CheckedPhoto] = []
    if len(visit.photos) > MAX_PHOTOS:
        errors.setdefault("photos", []).append(
            f"每次验收最多上传 {MAX_PHOTOS} 张照片，本次 {len(visit.photos)} 张"
        )
        return []
    for photo in visit.photos:
        try:
            checked.append(_check_photo(photo))
        except ValidationError as exc:
            for messages in exc.message_dict.values():
                errors.setdefault("photos", []).extend(messages)
    return checked


def _save_visit(
    visit: Visit,
    checked: list[CheckedPhoto],
    *,
    household: Household | None = None,
    project: Project | None = None,
    checklist: dict[str, bool] | None = None,
    kind: str = Inspection.Kind.ACCEPTANCE,
    client_id: uuid.UUID | None = None,
    content_digest: str = "",
) -> Inspection:
    """Write the visit, its defects and photos; a pass closes the subject's open defects. The
    integrity flags are computed as it arrives: it stays valid whatever they find."""
    inspection = Inspection(
        kind=kind,
        client_id=client_id,
        content_digest=content_digest,
        household=household,
        project=project,
        visited_at=visit.visited_at,
        inspector=visit.inspector,
        co_inspectors=visit.co_inspectors.strip(),
        supervision_unit=visit.supervision_unit.strip(),
        checklist=checklist or {},
        result=Inspection.Result.PASSED if visit.passed else Inspection.Result.FAILED,
        notes=visit.notes.strip(),
        latitude=visit.location[0] if visit.location else None,
        longitude=visit.location[1] if visit.location else None,
    )
    inspection.full_clean()
    inspection.save()
    Defect.objects.bulk_create(
        Defect(
            inspection=inspection,
            household=household,
            project=project,
            description=d.description.strip(),
            rectify_by=d.rectify_by,
        )
        for d in visit.defects
    )
    for photo, check in zip(visit.photos, checked, strict=True):
        InspectionPhoto.objects.create(
            inspection=inspection,
            image=photo,
            content_type=check.content_type,
            size=photo.size or 0,
            **print_fields(check.fingerprint),
        )
    if visit.passed:
        subject = {"household": household} if household else {"project": project}
        Defect.objects.filter(**subject).open().update(closed_by=inspection)
    integrity_flags_record(inspection=inspection)
    return inspection


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
    expected_version: int | None = None,
    kind: str = Inspection.Kind.ACCEPTANCE,
    client_id: uuid.UUID | None = None,
    content_digest: str = "",
) -> Inspection:
    """Record a visit. Passing makes the household 已验收 and closes its open defects; failing keeps
    it at 已完工 with the defects found, to be closed by a passing revisit. `expected_version`: the
    household's version when the form was opened; changed since (another visit, an edit), the
    visit is refused, to be made again on what the household is now.

    A spot check (kind SPOT_CHECK) is the second visit of an accepted household the bureau drew:
    the same checklist, result and defects, but the stage stays; it answers the draw."""
    access.require(inspector, Action.INSPECT, household.county_id)
    # Locked, after its county's lock, as every writer of households does: a household accepted
    # twice at once would close the same defects twice.
    household = household_lock(household.pk)
    check_version(household.version, expected_version, STALE_HOUSEHOLD)
    visit = Visit(
        inspector,
        visited_at,
        passed,
        defects or [],
        photos or [],
        co_inspectors,
        supervision_unit,
        location,
        notes,
    )
    errors: dict[str, list[str]] = {}
    if kind == Inspection.Kind.SPOT_CHECK:
        if not spot_check_due(household):
            errors.setdefault("household", []).append("该户不在待复核的抽查名单中")
    else:
        # Failing or not, a visit is only of a household that acceptance could take to 已验收.
        for problem in change_problems(
            State.of(household),
            State(household.county_id, Stage.ACCEPTED),
            via=Via.ACCEPTANCE,
        ):
            errors.setdefault("household", []).append(problem.message)
    items = dict(CHECKLISTS[household.path])
    unknown = set(checklist) - set(items)
    if unknown:
        errors.setdefault("checklist", []).append(f"未知的检查项：{'、'.join(sorted(unknown))}")
    if passed and not all(checklist.get(code) for code in items):
        missing = [items[code] for code in items if not checklist.get(code)]
        errors.setdefault("checklist", []).append(
            "合格须全部检查项通过，未通过：" + "、".join(missing)
        )
    checked = _visit_errors(visit, errors)
    if errors:
        raise ValidationError(errors)
    inspection = _save_visit(
        visit,
        checked,
        household=household,
        checklist={code: bool(checklist.get(code)) for code in items},
        kind=kind,
        client_id=client_id,
        content_digest=content_digest,
    )
    if kind == Inspection.Kind.SPOT_CHECK:
        # The draw's finding is the first visit after it.
        SpotCheckItem.objects.filter(household=household).open().update(visit=inspection)
        return inspection
    if passed:
        household.stage = Stage.ACCEPTED
        household.accepted_on = timezone.localtime(visited_at).date()
        household_save(
            household=household,
            user=inspector,
            reason=f"验收合格（{inspector}，{visited_at:%Y-%m-%d}）",
            via=Via.ACCEPTANCE,
        )
    return inspection


@dataclass(frozen=True)
class Submitted:
    inspection: Inspection
    created: bool  # False: the same record had arrived before


def visit_digest(
    *,
    kind: str,
    household: Household,
    visited_at: dt.datetime,
    passed: bool,
    checklist: dict[str, bool],
    defects: list[DefectInput],
    photos: list[UploadedFile],
    co_inspectors: str,
    supervision_unit: str,
    location: tuple[Decimal, Decimal] | None,
    notes: str,
) -> str:
    """What a visit says, as one hash: its subject, time, result, checklist, defects, texts,
    location and the photos' bytes (in any order), so that a record sent again can be told from
    a changed copy of it."""
    shas = []
    for photo in photos:
        digest = hashlib.sha256()
        photo.seek(0)
        for chunk in photo.chunks():
            digest.update(chunk)
        photo.seek(0)
        shas.append(digest.hexdigest())
    content = {
        "kind": kind,
        "household": household.pk,
        "visited_at": visited_at.astimezone(dt.UTC).isoformat(),
        "passed": passed,
        "checklist": {code: bool(value) for code, value in checklist.items()},
        "defects": [[d.description.strip(), d.rectify_by.isoformat()] for d in defects],
        "photos": sorted(shas),
        "co_inspectors": co_inspectors.strip(),
        "supervision_unit": supervision_unit.strip(),
        "location": [f"{value:.6f}" for value in location] if location else None,
        "notes": notes.strip(),
    }
    encoded = json.dumps(content, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()


@transaction.atomic
def visit_submit(
    *,
    client_id: uuid.UUID | None,
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
    expected_version: int | None = None,
    kind: str = Inspection.Kind.ACCEPTANCE,
) -> Submitted:
    """A visit as a form or a phone's outbox sends it, keyed by the id the phone gave it (as ODK
    keys a submission by its instance id): the same id with the same content answers with the
    visit it made the first time and writes nothing; with other content it is refused. A new id
    is recorded by `inspection_record`, its rules and the version check included."""
    access.require(inspector, Action.INSPECT, household.county_id)
    # Two sends of one record are of one household: its lock makes the second wait for the first.
    household = household_lock(household.pk)
    digest = visit_digest(
        kind=kind, household=household, visited_at=visited_at, passed=passed,
        checklist=checklist, defects=defects or [], photos=photos or [],
        co_inspectors=co_inspectors, supervision_unit=supervision_unit, location=location,
        notes=notes,
    )  # fmt: skip
    if client_id is not None:
        first = Inspection.objects.filter(client_id=client_id).first()
        if first is not None:
            if first.inspector_id == inspector.pk and first.content_digest == digest:
                return Submitted(first, created=False)
            raise ValidationError(
                {
                    NON_FIELD_ERRORS: [
                        f"编号为{str(client_id)[:8]}的记录已于"
                        f"{timezone.localtime(first.created_at):%Y-%m-%d %H:%M}同步，"
                        "本次内容与已同步的不同，未保存。如需更正，请在该户的验收页重新填写"
                    ]
                }
            )
    inspection = inspection_record(
        household=household, inspector=inspector, visited_at=visited_at, passed=passed,
        checklist=checklist, defects=defects, photos=photos, co_inspectors=co_inspectors,
        supervision_unit=supervision_unit, location=location, notes=notes,
        expected_version=expected_version, kind=kind, client_id=client_id,
        content_digest=digest,
    )  # fmt: skip
    return Submitted(inspection, created=True)


@transaction.atomic
def project_inspection_record(
    *, project: Project, visit: Visit, efficiency_gain_pct: Decimal | None = None
) -> Inspection:
    """Acceptance of a network, grid upgrade or building retrofit, with the same result and defect
    flow; town buildings pass only with the plan's efficiency gain (≥30%)."""
    access.require(visit.inspector, Action.INSPECT, project.county_id)
    project = Project.objects.select_for_update(no_key=True).get(pk=project.pk)
    errors: dict[str, list[str]] = {}
    if project.accepted_on is not None:
        errors.setdefault("project", []).append(f"该项目已于{project.accepted_on}验收合格")
    if project.kind == Project.Kind.BUILDING_TOWN and visit.passed:
        target = BuildingTarget.objects.filter(
            plan_year_id=visit.visited_at.year, kind=BuildingKind.TOWN
        ).first()
        minimum = Decimal(
            target.min_efficiency_gain_pct if target and target.min_efficiency_gain_pct else 30
        )
        if efficiency_gain_pct is None or efficiency_gain_pct < minimum:
            errors.setdefault("efficiency_gain_pct", []).append(
                f"城区/县城既有建筑改造后能效须提升{minimum}%以上，"
                f"{'未填写' if efficiency_gain_pct is None else f'实测{efficiency_gain_pct}%'}，不能验收合格"
            )
    checked = _visit_errors(visit, errors)
    if errors:
        raise ValidationError(errors)
    inspection = _save_visit(visit, checked, project=project)
    if visit.passed:
        project.accepted_on = timezone.localtime(visit.visited_at).date()
        project.efficiency_gain_pct = efficiency_gain_pct
        project.save(update_fields=["accepted_on", "efficiency_gain_pct"])
    return inspection


@transaction.atomic
def heating_removal_record(
    *, household: Household, removed_on: dt.date, user: User
) -> HeatingRemoval:
    """先立后破: the original heating goes only after acceptance, one whole heating season of the new
    system and no open defects; an early attempt is refused with the date it becomes allowed."""
    access.require(user, Action.EDIT, household.county_id)
    accepted = household.accepted_on if household.stage == Stage.ACCEPTED else None
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
    if held := removal_held_back({household.pk: (allowed, removed_on)}):
        raise ValidationError({"removed_on": held[household.pk]})
    if Defect.objects.filter(household=household).open().exists():
        raise ValidationError(
            {"removed_on": "先立后破：该户仍有未整改的问题，不能拆除原有取暖设施"}
        )
    removal = HeatingRemoval(household=household, removed_on=removed_on, recorded_by=user)
    removal.full_clean()
    removal.save()
    return removal
