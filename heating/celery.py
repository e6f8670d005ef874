"""The Celery app. Without REDIS_URL, tasks run in-process (settings.CELERY_TASK_ALWAYS_EAGER)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heating.settings")

app = Celery("heating")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
