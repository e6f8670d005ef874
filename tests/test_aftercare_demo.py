"""The demo city's tickets: every category and state, breaches escalated once, 先立后破 kept
consistent with the acceptance demo, and nothing written the second time."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import fields

import pytest
from django.utils import timezone

from acceptance.models import HeatingRemoval
from aftercare.models import (
    Category,
    LookBack,
    LookBackItem,
    Satisfaction,
    State,
    Ticket,
    TicketStep,
)
from aftercare.selectors import MonthFigures, kpis
from heating.models import County, User
from oversight.dispatch.models import Alert
from retrofits.models import TenderItem
from tests.aftercare_city import generate
from tests.test_aftercare import a_ticket

pytestmark = pytest.mark.django_db


def test_the_demo_season_has_tickets_of_every_kind(tender: list[TenderItem]) -> None:
    said = generate()
    assert "工单：" in said
    tickets = Ticket.objects.all()
    assert set(tickets.values_list("category", flat=True)) == set(Category.values)
    assert set(tickets.values_list("state", flat=True)) >= {
        State.PENDING, State.HANDLING, State.VISITED,
    }  # fmt: skip
    assert tickets.filter(escalated_at__isnull=False).exists()
    assert tickets.filter(returns__gt=0).exists() and tickets.filter(reopened__gt=0).exists()
    for ticket in tickets:
        assert ticket.steps.filter(action="escalate").count() == (ticket.escalated_at is not None)
    assert tickets.filter(category=Category.EARLY_REMOVAL).exclude(removal_check="").exists()
    assert HeatingRemoval.objects.exists()  # the removals were not held back
    lookback = LookBack.objects.get()
    assert lookback.items.filter(visited_at__isnull=False).exists()
    assert lookback.items.filter(coal_relapse=True).exclude(photo="").exists()
    before = (
        Ticket.objects.count(), TicketStep.objects.count(), Alert.objects.count(),
        LookBackItem.objects.filter(visited_at__isnull=False).count(),
    )  # fmt: skip
    generate()
    assert (
        Ticket.objects.count(), TicketStep.objects.count(), Alert.objects.count(),
        LookBackItem.objects.filter(visited_at__isnull=False).count(),
    ) == before  # fmt: skip


def test_an_earlier_day_then_the_whole_season(tender: list[TenderItem]) -> None:
    """The tickets of a day in December leave nothing that holds back the stoves the acceptance
    demo removes from April on."""
    generate("--as-of", "2023-12-01")
    early = Ticket.objects.count()
    assert early and not HeatingRemoval.objects.exists() and not LookBack.objects.exists()
    generate()
    assert HeatingRemoval.objects.exists() and LookBack.objects.exists()
    assert Ticket.objects.count() == early  # the step does not go on from an earlier day


def test_the_monthly_figures_count_each_ticket_as_its_definition_says(
    tender: list[TenderItem], municipal: User
) -> None:
    """kpis() counts in the database; here each ticket of the demo season (every state) is
    counted by itself, as the figures are defined, month by month in Asia/Shanghai."""
    generate()
    # And a repeat by the 30-day rule alone: the same household's same category a week later.
    first = (
        Ticket.objects.filter(
            household__isnull=False,
            reopened=0,
            received_at__date__range=(dt.date(2023, 4, 1), dt.date(2024, 3, 20)),
        )
        .order_by("pk")
        .first()
    )
    assert first is not None and first.household is not None
    a_ticket(
        municipal,
        category=first.category,
        household=first.household,
        received=f"{timezone.localtime(first.received_at) + dt.timedelta(days=7):%Y-%m-%d %H:%M}",
    )
    expected: dict[tuple[int, str], Counter[str]] = defaultdict(Counter)
    repeats_only = 0  # repeats by the 30-day rule of tickets never reopened
    for t in Ticket.objects.all():
        received = timezone.localtime(t.received_at)
        if not dt.date(2023, 4, 1) <= received.date() <= dt.date(2024, 3, 31):
            continue  # the 2023 plan year's season of tickets
        month = f"{received:%Y-%m}"
        repeat = Ticket.objects.filter(
            household=t.household_id,
            household__isnull=False,
            category=t.category,
            received_at__lt=t.received_at,
            received_at__gte=t.received_at - dt.timedelta(days=30),
        ).exists()
        repeats_only += repeat and not t.reopened
        expected[(t.county_id, month)].update(
            {
                "received": 1,
                "accepted": t.accepted_at is not None,
                "accepted_on_time": t.accepted_at is not None and t.accepted_at <= t.accept_due,
                "closed": t.closed_at is not None,
                "closed_on_time": t.closed_at is not None and t.closed_at <= t.close_due,
                "called_back": bool(t.satisfaction),
                "satisfied": t.satisfaction in (Satisfaction.SATISFIED, Satisfaction.BASIC),
                "repeated": bool(t.reopened) or repeat,
                "returned": bool(t.returns),
            }
        )
    figures = kpis(counties=County.objects.order_by("pk"), year=2023)
    names = [f.name for f in fields(MonthFigures) if f.name not in ("county", "month")]
    got = {(m.county.pk, m.month): {n: getattr(m, n) for n in names} for m in figures.months}
    assert got == {key: {n: counts[n] for n in names} for key, counts in expected.items()}
    for county_id, total in figures.totals.items():
        for name in names:
            assert getattr(total, name) == sum(
                c[name] for (county, _), c in expected.items() if county == county_id
            )
    # The demo season has each kind, or the comparison above would prove little.
    for name in names:
        assert sum(c[name] for c in expected.values()), name
    assert repeats_only, "a repeat within 30 days, not only reopenings"
