"""Tickets' alerts (aftercare, which may not import this floor, registers nothing here; this floor
registers with it): a ticket escalated (督办) or a stove removed before 先立后破 allowed, told to
those who supervise tickets (the bureau), once per key."""

from __future__ import annotations

from django.urls import reverse

from aftercare.services import TicketAlert
from heating import access
from heating.access import Action
from oversight.dispatch.models import Alert
from oversight.dispatch.services.alerts import alert_send


def ticket_alert(alert: TicketAlert) -> None:
    ticket = alert.ticket
    alert_send(
        access.holders(Action.SUPERVISE), kind=Alert.Kind.TICKET, text=alert.text,
        link=reverse("ticket-detail", args=[ticket.pk]), key=alert.key, county=ticket.county,
    )  # fmt: skip
