"""回头看: the draw of a season's sample, what inspectors find there, and the fixing of what they
found. The draw reuses acceptance's seeded weighted draw (acceptance/spot_checks.py: the same seed,
the same population, the same sample) and its risks (failed visits, integrity flags, and the
tickets this app registers there), with low income and any source registered here (a household's
low metered use, from the subsidies' meters) added."""

from __future__ import annotations

import datetime as dt
import secrets
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from PIL import Image, UnidentifiedImageError

from acceptance.spot_checks import Risk, draw, household_risks
from aftercare.models import LookBack, LookBackItem, Satisfaction
from aftercare.seasons import season_dates
from heating import access
from heating.access import Action
from heating.models import County, User
from retrofits.choices import Stage
from retrofits.models import Household, HouseholdQuerySet

LOW_INCOME_WEIGHT = 1.0
MAX_PHOTO_MB = 10
PHOTO_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}

# Other evidence of risk for the 回头看 draw (a household's low metered use), registered from an
# AppConfig.ready(): from the population to each household's extra weight and its reason.
LookBackRisk = Callable[[HouseholdQuerySet, int], dict[int, tuple[float, str]]]
LOOKBACK_RISK_SOURCES: list[LookBackRisk] = []


def _may_draw(user: User, county: County | None) -> None:
    if county is None:
        if not access.scope(user, Action.SUPERVISE).everything:
            raise PermissionDenied("只有市级用户可以组织全市回头看；县级用户可以抽取本县。")
    elif not (
        access.may(user, Action.SUPERVISE, county.pk) or access.may(user, Action.TICKETS, county.pk)
    ):
        raise PermissionDenied(access.REFUSALS[Action.TICKETS])


def lookback_population(*, season: int, county: County | None) -> HouseholdQuerySet:
    """The households that ran the season on their new heating: accepted before it began."""
    first, _ = season_dates(season)
    households = Household.objects.filter(stage=Stage.ACCEPTED, accepted_on__lt=first)
    return households.in_county(county) if county is not None else households


def lookback_sample(
    *, population: HouseholdQuerySet, season: int, seed: str, villages_per_township: int,
    households_per_village: int,
) -> list[tuple[int, Risk]]:  # fmt: skip
    """The households drawn, in order: in each township `villages_per_township` of its villages
    (at random), in each of those `households_per_village` households weighted by risk."""
    villages: dict[int, set[int]] = defaultdict(set)
    for township, village in population.values_list("township", "village").distinct():
        villages[township].add(village)
    chosen_villages = []
    for township in sorted(villages):
        candidates = {v: Risk() for v in villages[township]}
        chosen_villages += draw(
            candidates, seed=f"{seed}:乡镇{township}", size=villages_per_township
        )
    within = population.filter(village__in=chosen_villages)
    risks = household_risks(within)
    for pk in within.filter(low_income=True).values_list("pk", flat=True):
        risks[pk].add(LOW_INCOME_WEIGHT, "低收入户")
    for source in LOOKBACK_RISK_SOURCES:
        for pk, (weight, reason) in source(within, season).items():
            if pk in risks and weight:
                risks[pk].add(weight, reason)
    by_village: dict[int, dict[int, Risk]] = defaultdict(dict)
    for pk, village in within.values_list("pk", "village"):
        by_village[village][pk] = risks[pk]
    drawn: list[tuple[int, Risk]] = []
    for village in chosen_villages:
        for pk in draw(
            by_village[village], seed=f"{seed}:村{village}", size=households_per_village
        ):
            drawn.append((pk, risks[pk]))
    return drawn


@transaction.atomic
def lookback_draw(
    *, user: User, season: int, seed: str = "", county: County | None = None,
    villages_per_township: int = 1, households_per_village: int = 5,
) -> LookBack:  # fmt: skip
    """Draw and keep a 回头看 sample: the bureau for the city or a county, a county for its own."""
    _may_draw(user, county)
    if not 1 <= villages_per_township <= 2:
        raise ValidationError({"villages_per_township": "每个乡镇抽取1至2个村"})
    if not 1 <= households_per_village <= 50:
        raise ValidationError({"households_per_village": "每村抽取1至50户"})
    if season_dates(season)[0] > timezone.localdate():
        raise ValidationError({"season": "该采暖季尚未开始，不能回头看"})
    seed = seed.strip()[:40] or str(secrets.randbelow(10**8))
    population = lookback_population(season=season, county=county)
    drawn = lookback_sample(
        population=population, season=season, seed=seed,
        villages_per_township=villages_per_township, households_per_village=households_per_village,
    )  # fmt: skip
    if not drawn:
        raise ValidationError({"county": "该采暖季前没有已验收的户可供回头看"})
    lookback = LookBack(
        county=county, season=season, seed=seed, villages_per_township=villages_per_township,
        households_per_village=households_per_village, population=population.count(),
        size=len(drawn), created_by=user,
    )  # fmt: skip
    lookback.full_clean()
    lookback.save()
    LookBackItem.objects.bulk_create(
        LookBackItem(
            lookback=lookback,
            household_id=pk,
            rank=rank,
            weight=Decimal(str(round(risk.weight, 2))),
            reasons="；".join(risk.reasons)[:200],
        )
        for rank, (pk, risk) in enumerate(drawn, start=1)
    )
    return lookback


@dataclass(frozen=True)
class Finding:
    equipment_in_use: bool
    coal_relapse: bool
    indoor_temp: Decimal | None = None
    satisfaction: str = ""
    problems: str = ""
    fix_by: dt.date | None = None
    photo: UploadedFile | None = None


def _checked_photo(photo: UploadedFile) -> UploadedFile:
    if (photo.size or 0) > MAX_PHOTO_MB * 1024 * 1024:
        raise ValidationError({"photo": f"照片超过 {MAX_PHOTO_MB} MB"})
    try:
        with Image.open(photo) as image:
            kind = image.format or ""
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        kind = ""
    finally:
        photo.seek(0)
    if kind not in PHOTO_EXTENSIONS:
        raise ValidationError({"photo": "照片应为 JPEG、PNG 或 WebP"})
    photo.name = f"{secrets.token_hex(16)}.{PHOTO_EXTENSIONS[kind]}"
    return photo


@transaction.atomic
def lookback_record(
    *, item: LookBackItem, user: User, finding: Finding, now: dt.datetime | None = None
) -> LookBackItem:
    """An inspector's record of one household, once: equipment in use, 散煤复烧 (a yes needs a
    photo), indoor temperature, satisfaction, problems found with a deadline to fix them."""
    item = LookBackItem.objects.select_for_update().select_related("household").get(pk=item.pk)
    access.require(user, Action.INSPECT, item.household.county_id)
    if item.visited_at is not None:
        raise ValidationError({"__all__": "该户已记录回头看结果"})
    errors: dict[str, str] = {}
    if finding.coal_relapse and finding.photo is None:
        errors["photo"] = "散煤复烧须拍照留证"
    if finding.problems.strip() and finding.fix_by is None:
        errors["fix_by"] = "发现问题须填写整改期限"
    if finding.fix_by is not None and not finding.problems.strip():
        errors["problems"] = "填写了整改期限，请说明发现的问题"
    if finding.satisfaction and finding.satisfaction not in Satisfaction.values:
        errors["satisfaction"] = "请选择满意度"
    if finding.indoor_temp is not None and not Decimal(-30) <= finding.indoor_temp <= Decimal(40):
        errors["indoor_temp"] = "室内温度应在-30至40℃之间"
    if errors:
        raise ValidationError(errors)
    item.visited_at, item.visited_by = now or timezone.now(), user
    item.equipment_in_use, item.coal_relapse = finding.equipment_in_use, finding.coal_relapse
    item.indoor_temp, item.satisfaction = finding.indoor_temp, finding.satisfaction
    item.problems, item.fix_by = (
        finding.problems.strip(),
        finding.fix_by if finding.problems.strip() else None,
    )
    if finding.photo is not None:
        item.photo = _checked_photo(finding.photo)
    item.full_clean()
    item.save()
    return item


@transaction.atomic
def lookback_fix(
    *, item: LookBackItem, user: User, note: str, now: dt.datetime | None = None
) -> LookBackItem:
    """The county's record that a problem found was put right."""
    item = LookBackItem.objects.select_for_update().select_related("household").get(pk=item.pk)
    access.require(user, Action.TICKETS, item.household.county_id)
    if not item.problems:
        raise ValidationError({"__all__": "该户没有待整改的问题"})
    if item.fixed_at is not None:
        raise ValidationError({"__all__": "已记录整改完成"})
    if not note.strip():
        raise ValidationError({"note": "请说明整改情况"})
    item.fixed_at, item.fix_note = now or timezone.now(), note.strip()[:500]
    item.full_clean()
    item.save()
    return item
