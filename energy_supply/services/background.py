"""What a background import job needs, whatever it imports: to be claimed by one worker, kept
alive by a heartbeat while it runs, finished whatever happens, and swept when its worker died.

The approach, its timings and its message are the household ledger's (retrofits/ledger/jobs.py),
whose functions are bound to its own LedgerImport; these take the job's model instead (an
ImportJob: energy_supply/models/imports.py, the fields LedgerImport has), so that the ledger could
run on them too. Nothing of an interrupted import was written: each import is one transaction.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from energy_supply.models import ImportJob
from retrofits.ledger.jobs import ATTEMPTS, HEARTBEAT, INTERRUPTED, STUCK_AFTER, UNCLAIMED_AFTER

logger = logging.getLogger(__name__)

Status = ImportJob.Status


def job_claim(model: type[ImportJob], job_id: int) -> bool:
    """Whether this worker may run the job: a message delivered twice, or a job put back in the
    queue while its first worker still ran, is run once."""
    claimed = model._default_manager.filter(pk=job_id, status=Status.PENDING).update(
        status=Status.RUNNING, attempts=F("attempts") + 1, heartbeat_at=timezone.now()
    )
    return bool(claimed)


@contextmanager
def job_heartbeat(model: type[ImportJob], job_id: int) -> Iterator[None]:
    """While the job runs, a thread marks it alive (in its own connection, outside the import's
    transaction); when the process dies, the marks stop."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(HEARTBEAT.total_seconds()):
                # SQLite may be busy with the import's own write: the next beat will do.
                with suppress(OperationalError):
                    model._default_manager.filter(pk=job_id).update(heartbeat_at=timezone.now())
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"heartbeat-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def job_finish(job: ImportJob, *, status: str, message: str) -> None:
    job.status = status
    job.message = message
    job.phase = ""
    job.finished_at = timezone.now()
    job.save()


def jobs_sweep(model: type[ImportJob], *, queue: Callable[[int], None]) -> int:
    """Jobs whose worker died (no heartbeat) or whose message was lost (never claimed): back in
    the queue (`queue`, once the sweep commits) if they have an attempt left and a worker to run
    them, failed otherwise. Returns how many were swept."""
    now = timezone.now()
    lost = Q(status=Status.RUNNING, heartbeat_at__lt=now - STUCK_AFTER) | Q(
        status=Status.PENDING, created_at__lt=now - UNCLAIMED_AFTER
    )
    jobs = model._default_manager
    swept = 0
    for job_id in jobs.filter(lost).values_list("pk", flat=True):
        with transaction.atomic():
            job = jobs.select_for_update(skip_locked=True).filter(lost, pk=job_id).first()
            if job is None:
                continue  # claimed, finished or swept meanwhile
            swept += 1
            # Without a worker (make run) a retry would run inside a page view: fail it instead.
            if job.attempts < ATTEMPTS and job.file and not settings.CELERY_TASK_ALWAYS_EAGER:
                job.status, job.phase, job.processed_rows = Status.PENDING, "", 0
                job.created_at = now  # queued anew: the unclaimed clock starts again
                job.save(update_fields=["status", "phase", "processed_rows", "created_at"])
                transaction.on_commit(functools.partial(queue, job.pk))
                logger.warning("%s %s lost its worker: queued again", model.__name__, job.pk)
            else:
                job_finish(job, status=Status.FAILED, message=INTERRUPTED)
                logger.error("%s %s lost its worker: failed", model.__name__, job.pk)
    return swept
