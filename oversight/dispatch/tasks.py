"""Celery tasks of dispatch: the alerts' e-mail (retried, never lost), the daily digest, and beat's
checks: scheduled rounds, reports due soon and late, supply warnings, overdue acceptance."""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import send_mail

from heating.celery import app
from heating.models import User
from oversight.dispatch.models import Alert
from oversight.dispatch.services.alerts import alerts_mark_emailed

# A send that fails (the mail server down, a network error) is tried again later, up to a day.
RETRY_ON = (smtplib.SMTPException, OSError)


@app.task(
    acks_late=True, autoretry_for=RETRY_ON, retry_backoff=60, retry_backoff_max=3600,
    max_retries=24,
)  # fmt: skip
def alert_email(alert_id: int) -> None:
    alert = Alert.objects.select_related("user").filter(pk=alert_id, emailed_at=None).first()
    if alert is None or not alert.user.email:
        return
    send_mail(
        subject=f"【清洁取暖调度】{alert.get_kind_display()}",
        message=f"{alert.text}\n\n{settings.PORTAL_URL.rstrip('/')}{alert.link}",
        from_email=None,
        recipient_list=[alert.user.email],
    )
    alerts_mark_emailed(alert_ids=[alert.pk])


@app.task(
    acks_late=True, autoretry_for=RETRY_ON, retry_backoff=60, retry_backoff_max=3600,
    max_retries=24,
)  # fmt: skip
def alert_digest(user_id: int) -> None:
    """One e-mail with the user's alerts not yet mailed (those who chose the daily digest)."""
    user = User.objects.get(pk=user_id)
    alerts = list(Alert.objects.filter(user=user, emailed_at=None).order_by("created_at"))
    if not alerts or not user.email:
        return
    lines = [f"· {a.get_kind_display()}：{a.text}" for a in alerts]
    send_mail(
        subject=f"【清洁取暖调度】今日提醒 {len(alerts)} 条",
        message="\n".join(lines) + f"\n\n{settings.PORTAL_URL.rstrip('/')}/inbox/",
        from_email=None,
        recipient_list=[user.email],
    )
    alerts_mark_emailed(alert_ids=[a.pk for a in alerts])


@app.task
def send_digests() -> None:
    users = User.objects.filter(
        alert_delivery=User.Delivery.DIGEST, is_active=True, alerts__emailed_at=None
    ).exclude(email="")
    for user_id in users.values_list("pk", flat=True).distinct():
        alert_digest.delay(user_id)


@app.task
def dispatch_checks() -> None:
    """Hourly: the weekly round when it is due, and reports due within a day or late."""
    from oversight.dispatch.checks import open_scheduled_round, report_deadlines

    open_scheduled_round()
    report_deadlines()


@app.task
def season_checks() -> None:
    """Daily: supply warnings, acceptance and rectification overdue."""
    from oversight.dispatch.checks import season_warnings

    season_warnings()
