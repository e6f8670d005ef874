"""Beat's sweep of tickets past their time limit: thin, safe to run twice (each escalates once)."""

from __future__ import annotations

from aftercare.services import tickets_escalate_breached
from heating.celery import app


@app.task
def escalate_breached() -> int:
    return tickets_escalate_breached()
