"""Acceptance's bulk writes: a season's visits and removals at once, by the rules of the
one-by-one services (acceptance/services/__init__.py)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from acceptance.models import Defect, HeatingRemoval, Inspection
from acceptance.rules import (
    CHECKLISTS,
    heating_seasons,
    removal_allowed_from,
    removal_held_back,
)
from acceptance.services import DefectInput
from heating import access
from heating.access import Action
from heating.models import User
from retrofits.choices import Stage
from retrofits.ledger.acceptances import store_acceptances
from retrofits.models import Household
from retrofits.rules import State, Via, change_problems, lock_counties

# The bulk variants of the two household services, for a season's visits and removals recorded
# together (the demo city's ~200,000 visits): the same rules, asked set-based (one query per check
# over each batch of households, none per row), and the whole write refused when any fails, its
# households named by 户编号. Nor is full_clean asked row by row: every value written is built here
# from typed input and checked by those rules, and what full_clean would ask of the database once
# per row (the references, the constraints) is asked once per batch (the households read) or left
# to the database's constraints, which refuse the whole write.

BATCH = 2000  # households per IN (...) list and rows per INSERT, within every database's limits
NAMED = 20  # 户编号 named per problem; the rest counted


@dataclass(frozen=True)
class HouseholdVisit:
    """One visit of a household, for `inspections_record_bulk`."""

    household_id: int
    inspector: User
    visited_at: dt.datetime
    passed: bool
    checklist: dict[str, bool]
    defects: tuple[DefectInput, ...] = ()


@dataclass(frozen=True)
class RemovalInput:
    """One removal of old heating, for `heating_removals_record_bulk`."""

    household_id: int
    removed_on: dt.date
    recorded_by: User


@dataclass(frozen=True)
class VisitsRecorded:
    visits: int
    failed: int
    accepted: int


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), BATCH):
        yield ordered[start : start + BATCH]


def _ranges(ids: set[int]) -> Iterator[tuple[int, int]]:
    """The ids in ranges of at most BATCH of them, each spanning at most 4 × BATCH ids: read by
    range, a season's households (near one another) cost no list of ids to send, and a few
    households far apart no long scans."""
    ordered = sorted(ids)
    start = 0
    while start < len(ordered):
        end = start + 1
        while (
            end < len(ordered) and end - start < BATCH and ordered[end] - ordered[start] < 4 * BATCH
        ):
            end += 1
        yield ordered[start], ordered[end - 1]
        start = end


def _households(ids: Iterable[int], *fields: str) -> dict[int, tuple[Any, ...]]:
    """These households' (id, county, *fields) by id, read after their counties' locks as every
    writer of households reads what it checks (retrofits/rules.py): first their counties, locked,
    then their rows; one moved to another county meanwhile has that county locked too."""
    wanted = set(ids)

    def read(*names: str) -> Iterator[tuple[Any, ...]]:
        for lo, hi in _ranges(wanted):
            rows = Household.objects.filter(pk__range=(lo, hi)).values_list("pk", *names)
            yield from (row for row in rows if row[0] in wanted)

    locked: set[int] = set()
    counties = {county for _, county in read("county_id")}
    while True:
        lock_counties(counties | locked)
        locked |= counties
        households = {row[0]: row for row in read("county_id", *fields)}
        counties = {row[1] for row in households.values()}
        if counties <= locked:
            return households


def _open_defects(households: Iterable[int]) -> set[int]:
    """Of these households, those with a defect still open: one read of every household's open
    defect (few: a passing revisit closes them)."""
    wanted = set(households)
    found = Defect.objects.open().filter(household__isnull=False).values_list("household_id")
    return {pk for (pk,) in found if pk in wanted}


class _Refusal:
    """The problems of a bulk write, each with the households it concerns (户编号, with a detail
    where the message has one), raised as one ValidationError of the field given."""

    def __init__(self, field: str) -> None:
        self.field = field
        self.found: dict[str, list[str]] = defaultdict(list)

    def add(self, message: str, household: str | None) -> None:
        """A problem of a household, or (None) of the whole write: a plan rule's breach, which
        names its county and numbers."""
        self.found[message] += [household] if household else []

    def raise_any(self) -> None:
        if not self.found:
            return
        raise ValidationError(
            {
                self.field: [
                    f"{m}（户编号：{_named(codes)}）" if codes else m
                    for m, codes in self.found.items()
                ]
            }
        )


def _named(named_twice: list[str]) -> str:
    codes = list(dict.fromkeys(named_twice))  # a household of two visits is named once
    more = f" 等 {len(codes):,} 户" if len(codes) > NAMED else ""
    return "、".join(codes[:NAMED]) + more


def _require_each(pairs: Iterable[tuple[User, int, str]], action: Action) -> None:
    """Each (user, county, 户编号): the user holds the action in the household's county; asked
    of the access policy once per user, refused (403) naming the households."""
    scopes: dict[int, access.Scope] = {}
    refused: dict[User, list[str]] = defaultdict(list)
    for user, county_id, code in pairs:
        if user.pk not in scopes:
            scopes[user.pk] = access.scope(user, action)
        if county_id not in scopes[user.pk]:
            refused[user].append(code)
    if refused:
        raise PermissionDenied(
            access.REFUSALS[action]
            + "；".join(f"{user}：{_named(codes)}" for user, codes in refused.items())
        )


@transaction.atomic
def inspections_record_bulk(
    *, visits: Sequence[HouseholdVisit], source: str, user: User | None = None
) -> VisitsRecorded:
    """Record many households' visits at once, by the rules of `inspection_record`: a failed
    visit lists its defects and a passed one none, a passed visit's checklist is all true, each
    visit is of a household acceptance could take to 已验收 (已完工, as a failed visit leaves it;
    a household's visits are taken in time order, and none may follow its passing one), by an
    inspector holding INSPECT in its county. A passing visit closes the household's open defects
    and makes it 已验收 on its day, through the ledger engine's bulk path (the change and plan
    rules, the counties' locks, the history under `source`). `user`: who records the batch (None:
    the server's own command); they too must inspect in every county of it."""
    if not visits:
        return VisitsRecorded(0, 0, 0)
    households = _households({v.household_id for v in visits}, "code", "path", "stage")
    if user is not None:
        for county_id in {h[1] for h in households.values()}:
            access.require(user, Action.INSPECT, county_id)
    _require_each(
        (
            (v.inspector, households[v.household_id][1], households[v.household_id][2])
            for v in visits
            if v.household_id in households
        ),
        Action.INSPECT,
    )
    refusal = _refusal_of_visits(visits, households)
    refusal.raise_any()

    inspections = [
        Inspection(
            household_id=visit.household_id,
            visited_at=visit.visited_at,
            inspector=visit.inspector,
            checklist={
                code: bool(visit.checklist.get(code))
                for code, _ in CHECKLISTS[households[visit.household_id][3]]
            },
            result=Inspection.Result.PASSED if visit.passed else Inspection.Result.FAILED,
        )
        for visit in visits
    ]
    Inspection.objects.bulk_create(inspections, batch_size=BATCH)
    Defect.objects.bulk_create(
        (
            Defect(
                inspection=inspection,
                household_id=visit.household_id,
                description=defect.description.strip(),
                rectify_by=defect.rectify_by,
            )
            for visit, inspection in zip(visits, inspections, strict=True)
            for defect in visit.defects
        ),
        batch_size=BATCH,
    )
    passed = {v.household_id: v for v in visits if v.passed}
    # A household's passing visit is its only one: it made the household 已验收, and nothing but
    # acceptance takes a household from there (retrofits/rules.py), so no visit follows it.
    closing = Inspection.objects.filter(
        household=OuterRef("household"), result=Inspection.Result.PASSED
    ).values("pk")[:1]
    for chunk in _chunks(_open_defects(passed)):
        Defect.objects.filter(household_id__in=chunk).open().update(closed_by=Subquery(closing))
    accepted = [
        (pk, households[pk][2], timezone.localtime(v.visited_at).date()) for pk, v in passed.items()
    ]
    problems = store_acceptances(accepted, user=user, source=source)
    for household_id, message in problems:
        refusal.add(message, households[household_id][2] if household_id else None)
    refusal.raise_any()
    return VisitsRecorded(len(visits), len(visits) - len(passed), len(accepted))


def _refusal_of_visits(
    visits: Sequence[HouseholdVisit], households: dict[int, tuple[Any, ...]]
) -> _Refusal:
    refusal = _Refusal("household")
    by_household: dict[int, list[HouseholdVisit]] = defaultdict(list)
    for visit in visits:
        by_household[visit.household_id].append(visit)
    asked: dict[State, list[str]] = {}  # the change rules, once per distinct state
    for household_id, its_visits in by_household.items():
        if household_id not in households:
            refusal.add("找不到该户", f"#{household_id}")
            continue
        _, county_id, code, path, stage = households[household_id]
        for visit in sorted(its_visits, key=lambda v: v.visited_at):
            state = State(county_id, stage)
            if state not in asked:
                asked[state] = [
                    p.message
                    for p in change_problems(
                        state, State(county_id, Stage.ACCEPTED), via=Via.ACCEPTANCE
                    )
                ]
            for message in asked[state]:
                refusal.add(message, code)
            stage = Stage.ACCEPTED if visit.passed else stage
            items = dict(CHECKLISTS[path])
            unknown = set(visit.checklist) - set(items)
            if unknown:
                refusal.add(f"未知的检查项：{'、'.join(sorted(unknown))}", code)
            missing = [label for item, label in items.items() if not visit.checklist.get(item)]
            if visit.passed and missing:
                refusal.add("合格须全部检查项通过，未通过：" + "、".join(missing), code)
            if not visit.passed and not visit.defects:
                refusal.add("不合格须列出问题和整改期限", code)
            if visit.passed and visit.defects:
                refusal.add("合格的验收不应有待整改问题", code)
            for defect in visit.defects:
                if not defect.description.strip():
                    refusal.add("问题描述不能为空", code)
                if defect.rectify_by < timezone.localtime(visit.visited_at).date():
                    refusal.add("整改期限早于验收日期", code)
    return refusal


@transaction.atomic
def heating_removals_record_bulk(*, removals: Sequence[RemovalInput]) -> int:
    """Record many removals of old heating at once, by the 先立后破 rules of
    `heating_removal_record`: the household accepted, one whole heating season of the new system
    run (from `removal_allowed_from` its acceptance day), not after today, no open defect, none
    recorded before; each recorder holding EDIT in the household's county. Returns how many."""
    if not removals:
        return 0
    households = _households(
        {r.household_id for r in removals}, "code", "stage", "accepted_on", "heating_removal"
    )
    _require_each(
        (
            (r.recorded_by, households[r.household_id][1], households[r.household_id][2])
            for r in removals
            if r.household_id in households
        ),
        Action.EDIT,
    )
    defective = _open_defects(households)
    refusal = _Refusal("removed_on")
    today, seen, seasons = timezone.localdate(), set(), heating_seasons()
    for removal in removals:
        if removal.household_id not in households:
            refusal.add("找不到该户", f"#{removal.household_id}")
            continue
        _, _, code, stage, accepted_on, recorded = households[removal.household_id]
        if removal.household_id in seen:
            refusal.add("同一户在本次登记中出现多次", code)
        seen.add(removal.household_id)
        if recorded is not None:
            refusal.add("该户已登记拆除原有取暖设施", code)
        if stage != Stage.ACCEPTED or accepted_on is None:
            refusal.add("先立后破：该户尚未验收合格，不能拆除原有取暖设施", code)
        elif removal.removed_on < (allowed := removal_allowed_from(accepted_on, seasons)):
            refusal.add(
                "先立后破：新设施须稳定运行一个完整采暖季（11月至次年3月）方可拆除原有取暖设施",
                f"{code}（{accepted_on:%Y年%m月%d日}验收，{allowed:%Y年%m月%d日}起方可拆除）",
            )
        if removal.removed_on > today:
            refusal.add("拆除日期不能晚于今天", code)
        if removal.household_id in defective:
            refusal.add("先立后破：该户仍有未整改的问题，不能拆除原有取暖设施", code)
    held = removal_held_back({
        r.household_id: (removal_allowed_from(accepted_on), r.removed_on)
        for r in removals
        if r.household_id in households
        and (accepted_on := households[r.household_id][4]) is not None
    })  # fmt: skip
    for pk, reason in held.items():
        refusal.add(reason, households[pk][2])
    refusal.raise_any()
    HeatingRemoval.objects.bulk_create(
        (
            HeatingRemoval(
                household_id=r.household_id, removed_on=r.removed_on, recorded_by=r.recorded_by
            )
            for r in removals
        ),
        batch_size=BATCH,
    )
    return len(removals)
