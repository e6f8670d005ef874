"""The Celery app and beat's schedule. Without REDIS_URL, tasks run in-process
(settings.CELERY_TASK_ALWAYS_EAGER).

Every task is this app's (`@app.task`), so a process loads Celery when it first imports a tasks
module, not when Django starts: a management command that sends no task, a county's ledger
import among them, starts without it (60 ms of its start-up). The worker and beat are started
with `-A heating.celery`.
"""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heating.settings")

app = Celery("heating")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Progress figures are recounted every few minutes, and after every import (retrofits.services).
app.conf.beat_schedule = {
    "progress-rollup": {
        "task": "retrofits.tasks.run_rollup",
        "schedule": settings.ROLLUP_SECONDS,
    },
    # Imports whose worker died are queued again or failed (retrofits/ledger/jobs.py).
    "sweep-stuck-imports": {"task": "retrofits.tasks.sweep_imports", "schedule": 60},
    "sweep-stuck-supply-imports": {
        "task": "energy_supply.tasks.sweep_supply_imports",
        "schedule": 60,
    },
    # Exported files a day old are deleted; exports whose worker died are failed.
    "sweep-exports": {"task": "heating.tasks.sweep_exports", "schedule": 3600},
    # Dispatch (oversight/dispatch/tasks.py): the weekly round and its deadlines, every hour; the
    # season's warnings each morning; the digests of those who chose them each evening.
    "dispatch-checks": {"task": "oversight.dispatch.tasks.dispatch_checks", "schedule": 3600},
    "season-checks": {
        "task": "oversight.dispatch.tasks.season_checks",
        "schedule": crontab(hour=8, minute=0),
    },
    # Tickets past their time limit go to the bureau (督办), once (aftercare/services/).
    "ticket-escalations": {"task": "aftercare.tasks.escalate_breached", "schedule": 900},
    "alert-digests": {
        "task": "oversight.dispatch.tasks.send_digests",
        "schedule": crontab(hour=18, minute=0),
    },
}
