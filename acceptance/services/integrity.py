"""Integrity flags, computed when a visit arrives (online or from a phone's outbox), and their
review (核实) by the bureau. A flag never refuses a visit: evidence that looks wrong is shown
beside it (the dossier, the acceptance ledger, the flags list) until someone has looked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from acceptance.integrity import (
    BORDER_TOLERANCE_KM,
    MAX_SPEED_KMH,
    PHASH_MAX_DISTANCE,
    SLACK_KM,
    county_shapes,
    distance_km,
    phash_distance,
    photo_print,
    print_fields,
)
from acceptance.models import Inspection, InspectionPhoto, IntegrityFlag
from heating import access
from heating.access import Action
from heating.models import PlanYear, User

Kind = IntegrityFlag.Kind
# Two visits further apart in time than this cannot be too close for each other (the city is some
# 300 km across: 2.5 hours at MAX_SPEED_KMH).
JOURNEY_WINDOW = dt.timedelta(hours=12)


def _points(inspection: Inspection) -> list[tuple[str, float, float]]:
    """Where the visit says it was: the phone's location, then each photo's GPS."""
    points = []
    if inspection.latitude is not None and inspection.longitude is not None:
        points.append(("设备定位", float(inspection.latitude), float(inspection.longitude)))
    for number, photo in enumerate(inspection.photos.all(), start=1):
        if photo.latitude is not None and photo.longitude is not None:
            points.append((f"照片{number}拍摄位置", float(photo.latitude), float(photo.longitude)))
    return points


def _outside_county(inspection: Inspection) -> list[IntegrityFlag]:
    subject = inspection.household or inspection.project
    assert subject is not None
    county = subject.county
    shape = county_shapes().get(county.short_name)
    if shape is None:
        return []
    outside = [
        f"{label}（{lat:.5f}，{lon:.5f}）在{county.short_name}境外约{km:.1f}公里"
        for label, lat, lon in _points(inspection)
        if (km := shape.km_outside(lat, lon)) > BORDER_TOLERANCE_KM
    ]
    if not outside:
        return []
    detail = "；".join(outside)
    if len(detail) > 300:  # ten photos all far away: the first ones say enough
        detail = detail[:299] + "…"
    return [IntegrityFlag(inspection=inspection, kind=Kind.OUTSIDE_COUNTY, detail=detail)]


def _photo_reused(inspection: Inspection) -> list[IntegrityFlag]:
    """The same photo (its bytes, or a resized or re-encoded copy) on another household's or
    project's visit. Another visit of the same household may show the same stove again."""
    # Each other visit, with how close its closest photo is: -1 for the very same bytes.
    others: dict[int, tuple[Inspection, int]] = {}
    for photo in inspection.photos.all():
        same = Q(sha256=photo.sha256) if photo.sha256 else Q(pk__in=[])
        near = Q(pk__in=[])
        if photo.phash:
            for band in range(5):
                near |= Q(**{f"phash_band_{band}": getattr(photo, f"phash_band_{band}")})
        candidates = (
            InspectionPhoto.objects.filter(same | near)
            .exclude(inspection=inspection)
            .select_related("inspection")
        )
        if inspection.household is not None:
            candidates = candidates.exclude(inspection__household=inspection.household)
        elif inspection.project is not None:
            candidates = candidates.exclude(inspection__project=inspection.project)
        for candidate in candidates:
            if photo.sha256 and candidate.sha256 == photo.sha256:
                distance = -1
            elif photo.phash and candidate.phash:
                distance = phash_distance(photo.phash, candidate.phash)
                if distance > PHASH_MAX_DISTANCE:
                    continue
            else:
                continue
            seen = others.get(candidate.inspection_id)
            if seen is None or distance < seen[1]:
                others[candidate.inspection_id] = (candidate.inspection, distance)
    flags = []
    for other, distance in others.values():
        how = (
            "完全相同"
            if distance < 0
            else f"为同一照片的缩放或重新压缩件（感知哈希相差{distance}位）"
        )

        def says(that: Inspection, how: str = how) -> str:
            return f"照片与另一户{_local(that):%Y-%m-%d}验收记录中的照片{how}"

        flags += _pair(Kind.PHOTO_REUSED, inspection, other, says)
    return flags


def _local(inspection: Inspection) -> dt.datetime:
    return timezone.localtime(inspection.visited_at)


def _pair(
    kind: str, this: Inspection, that: Inspection, says: Callable[[Inspection], str]
) -> list[IntegrityFlag]:
    """The flag of a pair on both visits, each naming the other (unless it has it already)."""
    return [
        IntegrityFlag(inspection=a, kind=kind, other=b, detail=says(b))
        for a, b in ((this, that), (that, this))
        if not IntegrityFlag.objects.filter(inspection=a, kind=kind, other=b).exists()
    ]


def _place(inspection: Inspection) -> tuple[float, float] | None:
    points = _points(inspection)
    return (points[0][1], points[0][2]) if points else None


def _too_fast(inspection: Inspection) -> list[IntegrityFlag]:
    """Two visits of one inspector further apart than MAX_SPEED_KMH allows in the time between."""
    here = _place(inspection)
    if here is None:
        return []
    nearby_in_time = (
        Inspection.objects.filter(
            inspector_id=inspection.inspector_id,
            visited_at__gte=inspection.visited_at - JOURNEY_WINDOW,
            visited_at__lte=inspection.visited_at + JOURNEY_WINDOW,
        )
        .exclude(pk=inspection.pk)
        .prefetch_related("photos")
    )
    flags = []
    for other in nearby_in_time:
        there = _place(other)
        if there is None:
            continue
        km = distance_km(here, there)
        hours = abs((inspection.visited_at - other.visited_at).total_seconds()) / 3600
        if km <= MAX_SPEED_KMH * hours + SLACK_KM:
            continue
        journey = (
            f"相距{km:.1f}公里、间隔{round(hours * 60)}分钟（"
            + (f"折合{km / hours:.0f}公里/小时" if hours else "同一时间")
            + f"，超过{MAX_SPEED_KMH}公里/小时）"
        )

        def says(that: Inspection, journey: str = journey) -> str:
            return f"与同一验收人{_local(that):%Y-%m-%d %H:%M}的另一次验收{journey}"

        flags += _pair(Kind.TOO_FAST, inspection, other, says)
    return flags


def _outside_window(inspection: Inspection) -> list[IntegrityFlag]:
    """An acceptance visit outside its plan year's acceptance window (a spot check has none): a
    household's own plan year (任务年度), whose window a late acceptance has missed even when it
    falls in a later year's; a project's, that of the year it is visited in."""
    if inspection.kind != Inspection.Kind.ACCEPTANCE:
        return []
    subject = inspection.household or inspection.project
    assert subject is not None
    day = timezone.localtime(inspection.visited_at).date()
    if inspection.household is not None:
        plan: PlanYear | None = inspection.household.plan_year
    else:
        plan = PlanYear.objects.filter(year=day.year).first()
    if plan is None:
        detail = f"验收日期{day:%Y-%m-%d}：{day.year}年度没有实施方案，无验收窗口"
    else:
        window = plan.window_for(subject.county)
        if window.acceptance_start <= day <= window.acceptance_due:
            return []
        detail = (
            f"验收日期{day:%Y-%m-%d}不在{plan.year}年度验收窗口"
            f"（{window.acceptance_start:%m月%d日}至{window.acceptance_due:%m月%d日}）内"
        )
    return [IntegrityFlag(inspection=inspection, kind=Kind.OUTSIDE_WINDOW, detail=detail)]


@transaction.atomic
def integrity_flags_record(*, inspection: Inspection) -> list[IntegrityFlag]:
    """Flag what the arriving visit's evidence shows: a location outside its household's county,
    a photo of another household, a journey faster than a car, a day outside the window. A pair
    (the same photo, the journey) is flagged on both visits, each naming the other, so that both
    households' dossiers show it; which of the two is wrong is for the review to say."""
    inspection = (
        Inspection.objects.select_related(
            "household__county", "household__plan_year", "project__county"
        )
        .prefetch_related("photos")
        .get(pk=inspection.pk)
    )
    # A visit checked again (integrity_backfill) keeps the flags it has, reviewed or not.
    held = set(inspection.flags.filter(other=None).values_list("kind", flat=True))
    flags = [
        *(f for f in _outside_county(inspection) if f.kind not in held),
        *_photo_reused(inspection),
        *_too_fast(inspection),
        *(f for f in _outside_window(inspection) if f.kind not in held),
    ]
    for flag in flags:
        flag.full_clean()
    Inspection.objects.filter(pk=inspection.pk).update(integrity_checked=True)
    return IntegrityFlag.objects.bulk_create(flags)


@dataclass
class Backfilled:
    visits: int = 0
    photos: int = 0  # fingerprinted
    unreadable: int = 0  # photos whose file is missing or unreadable: compared by nothing
    flags: int = 0


def integrity_backfill(*, progress: Callable[[Backfilled], None] | None = None) -> Backfilled:
    """Check the visits recorded before the integrity checks, or written in bulk (the demo's
    seasons): fingerprint their photos from the files and flag what their evidence shows, as a
    visit arriving today is. Each visit in a transaction of its own, oldest first; a visit is
    checked once (`integrity_checked`), so that running again checks only what came since."""
    done = Backfilled()
    pending = Inspection.objects.filter(integrity_checked=False).order_by("visited_at", "pk")
    for pk in list(pending.values_list("pk", flat=True)):
        with transaction.atomic():
            for photo in InspectionPhoto.objects.filter(inspection_id=pk, sha256=""):
                try:
                    with photo.image.open("rb") as file:
                        fingerprint = photo_print(file)
                except (OSError, ValueError):  # gone from the storage, or never saved there
                    done.unreadable += 1
                    continue
                fields = print_fields(fingerprint)
                for name, value in fields.items():
                    setattr(photo, name, value)
                photo.save(update_fields=list(fields))
                done.photos += 1
            done.flags += len(integrity_flags_record(inspection=Inspection(pk=pk)))
        done.visits += 1
        if progress is not None:
            progress(done)
    return done


@transaction.atomic
def integrity_flag_review(*, flag: IntegrityFlag, user: User, reason: str) -> IntegrityFlag:
    """核实: a bureau user has looked at the flag and says why the visit stands (or what was done).
    The flag stays, marked reviewed, with who, when and why."""
    flag = (
        IntegrityFlag.objects.select_for_update(of=("self",))
        .select_related("inspection__household", "inspection__project")
        .get(pk=flag.pk)
    )
    subject = flag.inspection.household or flag.inspection.project
    assert subject is not None
    access.require(user, Action.REVIEW, subject.county_id)
    if flag.reviewed_at is not None:
        raise ValidationError(
            {"reason": f"该提示已于{timezone.localtime(flag.reviewed_at):%Y-%m-%d %H:%M}核实"}
        )
    if not reason.strip():
        raise ValidationError({"reason": "请填写核实说明"})
    flag.reviewed_by = user
    flag.reviewed_at = timezone.now()
    flag.review_reason = reason.strip()
    flag.full_clean()
    flag.save(update_fields=["reviewed_by", "reviewed_at", "review_reason"])
    return flag
