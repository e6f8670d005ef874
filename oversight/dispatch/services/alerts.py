"""Alerts that reach the right people: an in-app inbox and e-mail. Who hears of a thing is asked of
the access policy (`access.holders`): those who hold the action it calls for, in its county (a
county's officials and approvers for its report, its officials and inspectors for acceptance,
the bureau for what it must act on). Each user chooses e-mail at once or a daily digest. Sending runs
in Celery after the write commits, never inside a request, and a failed send is retried."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from functools import partial

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

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


# ---------------------------------------------------------------- the inbox


@transaction.atomic
def alerts_mark_read(*, user: User, alerts: Iterable[Alert] | None = None) -> int:
    """Mark the user's alerts read: these (opened from the inbox), or every unread one. A user
    marks only their own: another's alert is refused (the view has answered 404 already)."""
    unread = Alert.objects.filter(user=user, read_at=None)
    if alerts is not None:
        chosen = list(alerts)
        if any(alert.user_id != user.pk for alert in chosen):
            raise PermissionDenied("只能标记本人的提醒。")
        unread = unread.filter(pk__in=[alert.pk for alert in chosen])
    return unread.update(read_at=timezone.now())


@transaction.atomic
def alerts_mark_emailed(*, alert_ids: Collection[int]) -> int:
    """Note that these alerts went out by e-mail (the server's own tasks: at once or in the
    digest), so that a task run again sends none twice."""
    return Alert.objects.filter(pk__in=list(alert_ids), emailed_at=None).update(
        emailed_at=timezone.now()
    )


@transaction.atomic
def user_alert_delivery_set(*, user: User, alert_delivery: str, email: str) -> User:
    """The user's own choice between e-mail at once and the daily digest, and the address; each
    user sets only theirs (the inbox's form is of the user who is logged in)."""
    user.alert_delivery, user.email = alert_delivery, email
    user.full_clean()
    user.save(update_fields=["alert_delivery", "email"])
    return user
