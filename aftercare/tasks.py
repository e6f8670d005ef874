"""Beat's sweep of tickets past their time limit: thin, safe to run twice (each escalates once)."""

from __future__ import annotations

from celery import shared_task

from aftercare.services import tickets_escalate_breached


@shared_task
def escalate_breached() -> int:
    return tickets_escalate_breached()
