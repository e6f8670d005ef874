"""Dossier completeness (档案完整性): for each household, whether its 一户一档 holds what the
evaluation asks of it, as of a date, and how the counties stand.

Only households at 已完工 or 已验收 (retrofits.choices.DONE_STAGES) are judged: the others are still
being built, and a missing visit or completion date is no fault of their file yet. The caller
passes the households of one plan year (`plan_year`), scoped as the user may see them.

The checks, each passed or not, are computed for all households at once: the ledger's own columns
and one EXISTS subquery per related table, in one query streamed in chunks; only two rules are
asked in Python, over each chunk's values, because the codebase keeps them there (the GB 11643
check digit, and 先立后破's stable season, which asks the tickets). "As of" a date: visits,
defects, removals, payments, clawbacks, conflicts and tickets count as they stood at the end of that
day where they carry a date; the household's stage and equipment are as they are now.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, OuterRef, Q
from django.utils import timezone

from acceptance.models import Defect, Inspection
from acceptance.rules import heating_seasons, removal_allowed_from, removal_held_back
from aftercare.models import OPEN_STATES, Ticket
from heating.models import County
from retrofits.choices import DONE_STAGES, TENDERED_PATHS, Stage
from retrofits.models import IdConflict
from retrofits.validators import id_number_problem
from subsidies.models import Clawback, Entitlement, Kind, Status

if TYPE_CHECKING:
    from retrofits.models.households import HouseholdQuerySet

# (key, what the file must show), in the order the page and the pack list them.
CHECKS: list[tuple[str, str]] = [
    ("id_number", "身份证号核验"),
    ("equipment", "中标设备"),
    ("completed_on", "完工日期"),
    ("visit", "验收合格记录（2张以上照片及定位）"),
    ("defects", "问题整改完毕"),
    ("removal", "先立后破"),
    ("subsidy", "补贴不重复发放"),
    ("tickets", "工单办结"),
]
LABELS = dict(CHECKS)
MIN_PHOTOS = 2
CHUNK = 2000  # households per chunk: one query's page, and the Python rules' batch
BUCKETS = ("100", "80–99", "60–79", "<60")


@dataclass(frozen=True)
class DossierScore:
    household_id: int
    code: str
    county_id: int
    score: int  # 0..100, the share of checks passed, rounded half up
    missing: list[str]  # Chinese labels of the failed checks, in CHECKS' order


def end_of(day: dt.date) -> dt.datetime:
    """The first moment after `day`, local time: what happened before it happened by that day."""
    return timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time()))


def score_of(passed: int, total: int = len(CHECKS)) -> int:
    """100 × passed / total, rounded half up, in integers (7 of 8 is 87.5: 88)."""
    return (200 * passed + total) // (2 * total)


class _Row(NamedTuple):
    """A household's values and the database's answers, in the query's column order."""

    pk: int
    code: str
    county_id: int
    id_number: str
    path: str
    equipment_path: str | None
    completed_on: dt.date | None
    stage: str
    accepted_on: dt.date | None
    removed_on: dt.date | None
    visit_ok: bool
    defect_open: bool
    paid_twice: bool
    ticket_open: bool
    id_disputed: bool


_COLUMNS = (
    "pk", "code", "county_id", "id_number", "path", "equipment__path", "completed_on",
    "stage", "accepted_on", "heating_removal__removed_on",
    "visit_ok", "defect_open", "paid_twice", "ticket_open", "id_disputed",
)  # fmt: skip


def _either(a: Exists, b: Exists) -> ExpressionWrapper:
    return ExpressionWrapper(Q(a) | Q(b), output_field=BooleanField())


def _annotated(households: HouseholdQuerySet, as_of: dt.date) -> Any:
    """The households to judge, with a boolean per check the database can answer."""
    end = end_of(as_of)
    household = OuterRef("pk")
    # One passing acceptance visit by the day, with its photos and a place: the inspection's own
    # coordinates, or a photo's EXIF GPS.
    good_visit = (
        Inspection.objects.filter(
            household=household,
            kind=Inspection.Kind.ACCEPTANCE,
            result=Inspection.Result.PASSED,
            visited_at__lt=end,
        )
        .annotate(
            photo_count=Count("photos"),
            located_photos=Count(
                "photos",
                filter=Q(photos__latitude__isnull=False, photos__longitude__isnull=False),
            ),
        )
        .filter(photo_count__gte=MIN_PHOTOS)
        .filter(Q(latitude__isnull=False, longitude__isnull=False) | Q(located_photos__gt=0))
    )
    # Found at a visit by the day and not closed by a visit by the day.
    open_defect = Defect.objects.filter(household=household, inspection__visited_at__lt=end).filter(
        Q(closed_by__isnull=True) | Q(closed_by__visited_at__gte=end)
    )
    # The equipment subsidy is once per household (its season is the plan year): a second one
    # paid for another season is paid twice. Within a season a kind is paid once, and each
    # top-up (补差) of it once, by the database's unique key (entitlement_once_per_season).
    equipment_paid = Entitlement.objects.filter(
        household=household, kind=Kind.EQUIPMENT, status=Status.PAID, paid_on__lte=as_of
    )
    paid_again = equipment_paid.filter(
        Exists(
            Entitlement.objects.filter(
                household=OuterRef("household"),
                kind=Kind.EQUIPMENT,
                status=Status.PAID,
                paid_on__lte=as_of,
            ).exclude(season=OuterRef("season"))
        )
    )
    # A clawback keeps no state (nothing records the money as recovered): every one made by the
    # day is outstanding, a payment that did not hold.
    clawed_back = Clawback.objects.filter(entitlement__household=household, created_at__lt=end)
    # Received by the day and not closed by it (a ticket closed later, or still open, was open).
    open_ticket = Ticket.objects.filter(household=household, received_at__lt=end).filter(
        Q(state__in=OPEN_STATES) | Q(closed_at__isnull=True) | Q(closed_at__gte=end)
    )
    # Another county gave the same ID number and the bureau has not yet said whose it is.
    open_conflict = IdConflict.objects.filter(created_at__lt=end).filter(
        Q(resolved_at__isnull=True) | Q(resolved_at__gte=end)
    )
    return (
        households.filter(stage__in=DONE_STAGES)
        .annotate(
            visit_ok=Exists(good_visit),
            defect_open=Exists(open_defect),
            paid_twice=_either(Exists(paid_again), Exists(clawed_back)),
            ticket_open=Exists(open_ticket),
            id_disputed=_either(
                Exists(open_conflict.filter(household=household)),
                Exists(open_conflict.filter(claimant=household)),
            ),
        )
        .order_by("county__order", "code")
        .values_list(*_COLUMNS)
    )


def _chunks(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[_Row]]:
    chunk: list[_Row] = []
    for row in rows:
        chunk.append(_Row._make(row))
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _removal_breaches(chunk: list[_Row], as_of: dt.date, seasons: Any) -> set[int]:
    """先立后破, asked as the acceptance services ask it before they record a removal (the rule is
    theirs: acceptance.rules and the checks registered there, aftercare's stable season): the old
    heating removed by the day, before acceptance, before the first whole heating season after it
    ended, or held back by a registered check. The registered checks judge a ticket overdue as of
    now, as the services do."""
    breaches: set[int] = set()
    asked: dict[int, tuple[dt.date, dt.date]] = {}
    for row in chunk:
        if row.removed_on is None or row.removed_on > as_of:
            continue
        if row.stage != Stage.ACCEPTED or row.accepted_on is None:
            breaches.add(row.pk)
            continue
        allowed = removal_allowed_from(row.accepted_on, seasons)
        if row.removed_on < allowed:
            breaches.add(row.pk)
        else:
            asked[row.pk] = (allowed, row.removed_on)
    if asked:
        breaches.update(removal_held_back(asked))
    return breaches


def dossier_scores(households: HouseholdQuerySet, *, as_of: dt.date) -> Iterator[DossierScore]:
    """Each completed household's score and what its file misses, by county order and code."""
    seasons = heating_seasons()
    rows = _annotated(households, as_of).iterator(chunk_size=CHUNK)
    for chunk in _chunks(rows, CHUNK):
        removal_breaches = _removal_breaches(chunk, as_of, seasons)
        for row in chunk:
            passed = {
                # The value rule every writer applies (GB 11643, the check digit) and no open
                # conflict over the number: the ledger keeps no other mark of an ID checked.
                "id_number": not row.id_disputed
                and id_number_problem(row.id_number, as_of) is None,
                # The tendered paths take a model of their own path's tender list; the others
                # take none (the database refuses one), so there is nothing to miss.
                "equipment": row.path not in TENDERED_PATHS or row.equipment_path == row.path,
                # A done household always has its date (a database constraint): only one
                # completed after the day misses it then.
                "completed_on": row.completed_on is not None and row.completed_on <= as_of,
                "visit": bool(row.visit_ok),
                "defects": not row.defect_open,
                "removal": row.pk not in removal_breaches,
                "subsidy": not row.paid_twice,
                "tickets": not row.ticket_open,
            }
            missing = [label for key, label in CHECKS if not passed[key]]
            yield DossierScore(
                household_id=row.pk,
                code=row.code,
                county_id=row.county_id,
                score=score_of(len(CHECKS) - len(missing)),
                missing=missing,
            )


# ---------------------------------------------------------------- per county


def bucket_of(score: int) -> str:
    if score >= 100:
        return "100"
    if score >= 80:
        return "80–99"
    if score >= 60:
        return "60–79"
    return "<60"


@dataclass
class CountyCompleteness:
    county: County
    households: int = 0
    complete: int = 0  # score 100
    average: float | None = None  # one decimal
    buckets: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BUCKETS, 0))
    total_score: int = field(default=0, repr=False)

    def add(self, score: DossierScore) -> None:
        self.households += 1
        self.complete += score.score == 100
        self.total_score += score.score
        self.buckets[bucket_of(score.score)] += 1

    def finish(self) -> None:
        if self.households:
            mean = Decimal(self.total_score) / self.households
            self.average = float(mean.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
        else:
            self.average = None


class Tally:
    """The per-county figures of a stream of scores, counted as they pass (the page counts them
    in the same pass that picks its list)."""

    def __init__(self, households: HouseholdQuerySet) -> None:
        # The counties of the households asked about, done or not: one with none done yet shows
        # as such (households 0, no average).
        counties = County.objects.filter(pk__in=households.order_by().values("county")).order_by(
            "order"
        )
        self.rows = {c.pk: CountyCompleteness(county=c) for c in counties}
        self.missing: Counter[str] = Counter()

    def add(self, score: DossierScore) -> None:
        self.rows[score.county_id].add(score)
        self.missing.update(score.missing)

    def finish(self) -> list[CountyCompleteness]:
        for row in self.rows.values():
            row.finish()
        return list(self.rows.values())


def completeness_by_county(
    households: HouseholdQuerySet, *, as_of: dt.date
) -> list[CountyCompleteness]:
    """Per county (in the table's order): households judged, complete ones, the average score and
    how many fall in each band."""
    tally = Tally(households)
    for score in dossier_scores(households, as_of=as_of):
        tally.add(score)
    return tally.finish()
