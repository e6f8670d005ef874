"""The tickets shown where a household or a county is: the dossier and the county page."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from acceptance.rules import removal_allowed_from
from aftercare.limits import clock
from aftercare.models import Ticket
from aftercare.seasons import season_dates
from aftercare.selectors import (
    REPEAT_MONTHS,
    REPEAT_TICKETS,
    frequent,
    household_ticket_count,
    kpis,
    season_stability,
)
from heating.models import County

register = template.Library()


@register.inclusion_tag("aftercare/_household_tickets.html", takes_context=True)
def household_tickets(context: dict[str, Any], household: Any) -> dict[str, Any]:
    """A household's recent tickets, flagged when it has REPEAT_TICKETS in REPEAT_MONTHS months."""
    user = context["request"].user
    tickets = Ticket.objects.visible_to(user).filter(household=household).order_by("-received_at")
    recent = household_ticket_count(household.pk)
    season, blockers = None, []
    if household.accepted_on is not None:
        # The season 先立后破 counts (the one ending before removal is allowed) and what keeps
        # it from counting as stable running.
        season = removal_allowed_from(household.accepted_on).year - 1
        blockers = season_stability(household.pk, season)
    return {
        "season": season,
        "season_over": season is not None and season_dates(season)[1] < timezone.localdate(),
        "blockers": blockers,
        "household": household,
        "rows": [(t, clock(t)) for t in tickets[:5]],
        "total": tickets.count(),
        "recent": recent,
        "flagged": recent >= REPEAT_TICKETS,
        "months": REPEAT_MONTHS,
    }


@register.inclusion_tag("aftercare/_county_tickets.html", takes_context=True)
def county_tickets(context: dict[str, Any], county: County) -> dict[str, Any]:
    """The county's open tickets and its households with repeated tickets."""
    user = context["request"].user
    tickets = Ticket.objects.visible_to(user).filter(county=county)
    return {
        "county": county,
        "open": tickets.open().count(),
        "escalated": tickets.open().filter(escalated_at__isnull=False).count(),
        "frequent": list(frequent(tickets)[:20]),
        "months": REPEAT_MONTHS,
        "repeat": REPEAT_TICKETS,
    }


@register.inclusion_tag("aftercare/_city_tickets.html", takes_context=True)
def city_tickets(context: dict[str, Any], plan_year: Any) -> dict[str, Any]:
    """The plan year's ticket figures by county on the city dashboard, drawn as bars."""
    user = context["request"].user
    figures = kpis(counties=County.objects.visible_to(user).order_by("pk"), year=plan_year.year)
    rows = sorted(figures.totals.values(), key=lambda f: f.county.pk)
    most = max((f.received for f in rows), default=0)
    return {
        "plan_year": plan_year,
        "rows": [(f, f.rates, round(100 * f.received / most) if most else 0) for f in rows],
    }
