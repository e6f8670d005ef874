"""Reads of tickets: a household's stable season (先立后破), households with repeated tickets, and
the monthly figures (KPIs) per county."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from django.core.cache import cache
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone

from aftercare.limits import Standing, standing_at
from aftercare.models import Category, Satisfaction, State, Ticket, TicketStep
from aftercare.seasons import season_dates
from heating.marks import table_marks
from heating.models import County

# The faults that make a season not count as stable running (四: 稳定运行).
STABILITY_CATEGORIES = (Category.FAULT, Category.COLD, Category.VOLTAGE)
REPEAT_TICKETS = 3  # tickets of one household …
REPEAT_MONTHS = 6  # … within this many months flag it
# How long the monthly figures are kept at most (a ticket's next write replaces them sooner).
KPIS_SECONDS = 600


def _bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = timezone.make_aware(dt.datetime.combine(first, dt.time()))
    end = timezone.make_aware(dt.datetime.combine(last + dt.timedelta(days=1), dt.time()))
    return start, end


def overdue_in_season(
    household_ids: Iterable[int], season: int, now: dt.datetime | None = None
) -> dict[int, list[Ticket]]:
    """By household, the fault tickets received in the season that stayed open beyond their time
    limit: closed after it, or still open after it."""
    now = now or timezone.now()
    start, end = _bounds(*season_dates(season))
    tickets = (
        Ticket.objects.filter(
            household__in=list(household_ids),
            category__in=STABILITY_CATEGORIES,
            received_at__gte=start,
            received_at__lt=end,
        )
        .filter(Q(closed_at__gt=F("close_due")) | Q(closed_at__isnull=True, close_due__lt=now))
        .exclude(state=State.RETURNED)
        .order_by("received_at", "pk")
    )
    found: dict[int, list[Ticket]] = defaultdict(list)
    for ticket in tickets:
        assert ticket.household_id is not None
        found[ticket.household_id].append(ticket)
    return found


def unstable_seasons(removals: Mapping[int, tuple[dt.date, dt.date]]) -> dict[int, str]:
    """先立后破's question to tickets (registered in acceptance.rules.REMOVAL_CHECKS): each
    household may lose its old stove only after a season of stable running. The first season that
    counts is the one ending just before its removal was allowed; a later one, complete before the
    removal day, counts too. Refused: the households with no stable season, naming the ticket."""
    blocked: dict[int, Ticket] = {}
    asking = {pk: allowed.year - 1 for pk, (allowed, _) in removals.items()}
    while asking:
        by_season: dict[int, list[int]] = defaultdict(list)
        for pk, season in asking.items():
            by_season[season].append(pk)
        asking = {}
        for season, pks in by_season.items():
            overdue = overdue_in_season(pks, season)
            for pk in pks:
                if pk not in overdue:
                    blocked.pop(pk, None)  # a stable season: the removal may go ahead
                    continue
                blocked.setdefault(pk, overdue[pk][0])
                if season_dates(season + 1)[1] < removals[pk][1]:
                    asking[pk] = season + 1  # a later season, whole before the removal
    held: dict[int, str] = {}
    for pk, ticket in blocked.items():
        held[pk] = (
            f"先立后破：{timezone.localtime(ticket.received_at):%Y年%m月%d日}的工单{ticket.number}"
            f"（{ticket.get_category_display()}）超过办结时限仍未解决，该采暖季未稳定运行，"
            "须经一个稳定运行的完整采暖季方可拆除原有取暖设施"
        )
    return held


def season_stability(household_id: int, season: int) -> list[Ticket]:
    """The tickets that keep a household's season from counting as stable (none: stable)."""
    return overdue_in_season([household_id], season).get(household_id, [])


def months_before(day: dt.date, months: int) -> dt.date:
    month = day.month - months
    year = day.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    return dt.date(year, month, min(day.day, 28))


def frequent(tickets: QuerySet[Ticket], today: dt.date | None = None) -> QuerySet[Any]:
    """Households with REPEAT_TICKETS tickets or more received in the last REPEAT_MONTHS months:
    values of household, its code and name, and n."""
    today = today or timezone.localdate()
    since, _ = _bounds(months_before(today, REPEAT_MONTHS), today)
    return (
        tickets.filter(household__isnull=False, received_at__gte=since)
        .values("household", "household__code", "household__head_name")
        .annotate(n=Count("pk"))
        .filter(n__gte=REPEAT_TICKETS)
        .order_by("-n", "household")
    )


def household_ticket_count(household_id: int, today: dt.date | None = None) -> int:
    today = today or timezone.localdate()
    since, _ = _bounds(months_before(today, REPEAT_MONTHS), today)
    return Ticket.objects.filter(household=household_id, received_at__gte=since).count()


# ---------------------------------------------------------------- monthly figures (KPIs)


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


@dataclass
class MonthFigures:
    county: County
    month: str  # 2023-11
    received: int = 0
    accepted: int = 0
    accepted_on_time: int = 0
    closed: int = 0
    closed_on_time: int = 0
    called_back: int = 0
    satisfied: int = 0
    repeated: int = 0
    returned: int = 0

    @property
    def rates(self) -> dict[str, float | None]:
        return {
            "on_time_acceptance": _rate(self.accepted_on_time, self.accepted),
            "on_time_closure": _rate(self.closed_on_time, self.closed),
            "satisfaction": _rate(self.satisfied, self.called_back),
            "repeat": _rate(self.repeated, self.received),
            "return": _rate(self.returned, self.received),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "county": self.county.short_name,
            "county_id": self.county.pk,
            "month": self.month,
            "received": self.received,
            "accepted": self.accepted,
            "accepted_on_time": self.accepted_on_time,
            "closed": self.closed,
            "closed_on_time": self.closed_on_time,
            "called_back": self.called_back,
            "satisfied": self.satisfied,
            "repeated": self.repeated,
            "returned": self.returned,
            **self.rates,
        }


@dataclass
class Kpis:
    year: int
    months: list[MonthFigures] = field(default_factory=list)
    totals: dict[int, MonthFigures] = field(default_factory=dict)


def kpis(*, counties: QuerySet[County], year: int, as_of: dt.date | None = None) -> Kpis:
    """Per county and month of receipt, over the plan year's season of tickets (April of `year`
    to March of the next, a heating season with the works before it):
    受理量; 按时签收率 (signed for within the limit, of those signed for); 按时办结率 (closed
    within the limit, of those closed); 满意率 (满意 or 基本满意, of those called back); 重复投诉率
    (reopened after an unsatisfied callback, or the same household's same category within 30 days
    before); 退回率 (returned at least once). With `as_of`, the tickets received by the end of that
    day, as they stand now.

    The figures are kept until a ticket is written: every write of one records a step
    (aftercare/services), a new ticket is a new id, a deleted one a lower count. (The city
    dashboard asks on every view, and the query with its nine counts costs it 20 ms.)"""
    chosen = list(counties)
    changed = table_marks((Ticket, "COUNT(*)"), (Ticket, "MAX(id)"), (TicketStep, "MAX(id)"))
    key = f"kpis:{year}:{as_of}:{changed}:{','.join(str(c.pk) for c in chosen)}"
    return cast(Kpis, cache.get_or_set(key, lambda: _kpis(chosen, year, as_of), KPIS_SECONDS))


def _kpis(counties: list[County], year: int, as_of: dt.date | None) -> Kpis:
    last = dt.date(year + 1, 3, 31)
    start, end = _bounds(dt.date(year, 4, 1), min(last, as_of) if as_of else last)
    earlier = Ticket.objects.filter(
        household=OuterRef("household"),
        category=OuterRef("category"),
        received_at__lt=OuterRef("received_at"),
        received_at__gte=OuterRef("received_at") - dt.timedelta(days=30),
    )
    # Counted by the database, a row for each county and month (the city dashboard asks on every
    # view: a season's tickets one by one through Python cost it 17 ms). In MonthFigures' order.
    counted = {
        "received": Count("pk"),
        "accepted": Count("accepted_at"),
        "accepted_on_time": Count("pk", filter=Q(accepted_at__lte=F("accept_due"))),
        "closed": Count("closed_at"),
        "closed_on_time": Count("pk", filter=Q(closed_at__lte=F("close_due"))),
        "called_back": Count("pk", filter=Q(satisfaction__gt="")),
        "satisfied": Count(
            "pk", filter=Q(satisfaction__in=[Satisfaction.SATISFIED, Satisfaction.BASIC])
        ),
        "repeated": Count("pk", filter=Q(reopened__gt=0) | Q(Exists(earlier))),
        "returned": Count("pk", filter=Q(returns__gt=0)),
    }
    rows = (
        Ticket.objects.filter(county__in=counties, received_at__gte=start, received_at__lt=end)
        .values("county", month=TruncMonth("received_at"))
        .annotate(**counted)
        .order_by("county", "month")
        .values_list("county", "month", *counted)
    )
    by_pk = {c.pk: c for c in counties}
    months: list[MonthFigures] = []
    totals: dict[int, MonthFigures] = {}
    for county_id, month, *counts in rows:
        county = by_pk[county_id]
        months.append(MonthFigures(county, f"{timezone.localtime(month):%Y-%m}", *counts))
        total = totals.setdefault(county.pk, MonthFigures(county, "合计"))
        for name, n in zip(counted, counts, strict=True):
            setattr(total, name, getattr(total, name) + n)
    return Kpis(year=year, months=months, totals=totals)


def standing_filter(tickets: QuerySet[Ticket], standing: str, now: dt.datetime) -> QuerySet[Ticket]:
    """The tickets at a standing (the list's filter), in the database."""
    if standing == Standing.BREACHED:
        return tickets.filter(
            Q(state=State.PENDING, accept_due__lt=now) | Q(state=State.HANDLING, close_due__lt=now)
        )
    if standing == Standing.AT_RISK:
        # Less than a quarter left: now > due - (due - start)/4, i.e. 4·now > 3·due + start is
        # not expressible portably; the open tickets are few, so it is decided row by row.
        open_ids = [
            t.pk
            for t in tickets.filter(state__in=[State.PENDING, State.HANDLING]).only(
                "state", "assigned_at", "accept_due", "clock_from", "close_due"
            )
            if (
                standing_at(t.assigned_at, t.accept_due, now)
                if t.state == State.PENDING
                else standing_at(t.clock_from, t.close_due, now)
            )
            == Standing.AT_RISK
        ]
        return tickets.filter(pk__in=open_ids)
    if standing == Standing.ON_TRACK:
        return tickets.filter(
            Q(state=State.PENDING, accept_due__gte=now)
            | Q(state=State.HANDLING, close_due__gte=now)
        ).exclude(pk__in=standing_filter(tickets, Standing.AT_RISK, now).values("pk"))
    return tickets


# ---------------------------------------------------------------- risks and 回头看

TICKET_WEIGHT = 1.0  # per ticket of the household, in the risk-weighted draws


def ticket_risks(households: QuerySet[Any]) -> dict[int, tuple[float, str]]:
    """Registered in acceptance's RISK_SOURCES (spot checks, and so 回头看): each ticket of a
    household adds to its weight."""
    rows = (
        Ticket.objects.filter(household__in=households.values("pk"))
        .values("household")
        .annotate(n=Count("pk"))
    )
    return {r["household"]: (TICKET_WEIGHT * r["n"], f"{r['n']}件工单") for r in rows}


@dataclass
class RelapseRow:
    county: County
    path: str
    path_label: str
    visited: int
    relapsed: int

    @property
    def rate(self) -> float | None:
        return _rate(self.relapsed, self.visited)


def relapse_rates(*, items: QuerySet[Any], season: int) -> list[RelapseRow]:
    """散煤复烧 per county and heating path among the households visited in the season's 回头看."""
    from aftercare.models import LookBackItem
    from heating.models import HeatingPath

    rows = (
        LookBackItem.objects.filter(pk__in=items.values("pk"), lookback__season=season)
        .filter(visited_at__isnull=False)
        .values("household__county", "household__path")
        .annotate(visited=Count("pk"), relapsed=Count("pk", filter=Q(coal_relapse=True)))
        .order_by("household__county", "household__path")
    )
    counties = {c.pk: c for c in County.objects.all()}
    labels = dict(HeatingPath.choices)
    return [
        RelapseRow(
            counties[r["household__county"]],
            r["household__path"],
            str(labels.get(r["household__path"], r["household__path"])),
            r["visited"],
            r["relapsed"],
        )
        for r in rows
    ]


def relapsed_households(season: int) -> set[int]:
    """The households confirmed back on loose coal (散煤复烧) in the season: the running subsidy
    of that season is theirs to withhold (or claw back)."""
    from aftercare.models import LookBackItem

    return set(
        LookBackItem.objects.filter(lookback__season=season, coal_relapse=True).values_list(
            "household", flat=True
        )
    )
