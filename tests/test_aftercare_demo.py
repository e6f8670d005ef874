"""The demo city's tickets: every category and state, breaches escalated once, 先立后破 kept
consistent with the acceptance demo, and nothing written the second time."""

from __future__ import annotations

import pytest

from acceptance.models import HeatingRemoval
from aftercare.models import Category, LookBack, LookBackItem, State, Ticket, TicketStep
from oversight.dispatch.models import Alert
from retrofits.models import TenderItem
from tests.aftercare_city import generate

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
