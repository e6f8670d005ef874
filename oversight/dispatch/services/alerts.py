"""Alerts that reach the right people: an in-app inbox and e-mail. Who hears of a thing is asked of
the access policy (`access.holders`): those who hold the action it calls for, in its county (a
county's officials and approvers for its report, its officials and inspectors for acceptance,
the bureau for what it must act on). Each user chooses e-mail at once or a daily digest. Sending runs
in Celery after the write commits, never inside a request, and a failed send is retried."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import partial

from django.db import transaction
from django.db.models import QuerySet

from heating import access
from heating.access import Action
from heating.models import County, User
from oversight.dispatch.models import Alert

logger = logging.getLogger(__name__)


def _queue_email(alert_id: int) -> None:
    """Hand the e-mail to Celery. Under `make run` Celery runs it here and now: a mail server
    that fails must not fail the page whose write raised the alert (the inbox has it)."""
    from oversight.dispatch.tasks import alert_email

    try:
        alert_email.delay(alert_id)
    except Exception:
        logger.exception("alert %s: e-mail not sent", alert_id)


def answering_for_report(county: County | int) -> QuerySet[User]:
    """Who answers for a county's dispatch report: those who draft it and those who sign it."""
    county_id = county if isinstance(county, int) else county.pk
    return access.holders(Action.REPORT, Action.SIGN, county=county_id)


def alert_send(
    users: Iterable[User], *, kind: Alert.Kind, text: str, link: str = "", key: str,
    county: County | None = None,
) -> list[Alert]:  # fmt: skip
    """One alert per user, once per `key` (a check that runs again does not repeat itself); the
    e-mails of those who want them at once are queued when the transaction commits."""
    made = []
    for user in users:
        alert, created = Alert.objects.get_or_create(
            user=user, key=key[:200],
            defaults={"kind": kind, "text": text[:500], "link": link[:300], "county": county},
        )  # fmt: skip
        if created:
            made.append(alert)
            if user.alert_delivery == User.Delivery.IMMEDIATE and user.email:
                transaction.on_commit(partial(_queue_email, alert.pk))
    return made
