"""Supply imports from the web, as background jobs (SupplyImport): the upload is kept and queued at
once, a Celery worker reads and checks it (in-process under `make run`, as the ledger's), and the
job's page polls its row for the progress and the outcome: the counts, or every error by row and
column with a copy of the file that marks them. Claimed once, kept alive and swept as the ledger's
jobs are (background.py)."""

from __future__ import annotations

import logging
import time

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from energy_supply.models import SupplyImport
from energy_supply.services.background import job_claim, job_finish, job_heartbeat, jobs_sweep
from energy_supply.services.imports import CONCURRENT, Progress, supply_rows_import
from energy_supply.sheets import TEMPLATES, check_supply_file, read_supply_file
from heating import access
from heating.access import Action
from heating.models import User
from heating.sheets import SheetFileError, write_annotated
from retrofits.ledger.jobs import ERRORS_SHOWN

logger = logging.getLogger(__name__)

Status = SupplyImport.Status
# The page polls every second: a new phase is written at once, the rows done in it at most this
# often (each write is a commit the import waits for).
PROGRESS_SECONDS = 1.0
FAILED = "导入时发生系统错误，未写入任何数据。错误已记录，请联系系统管理员。"


def supply_import_start(
    *, kind: str, upload: UploadedFile, user: User, dry_run: bool = False
) -> SupplyImport:
    """Keep the uploaded file and queue its import; the page polls the returned job. What the
    file says of its size is asked here (milliseconds: no row is parsed in the request), so that
    a file over the bounds is refused on the form (SheetFileError)."""
    access.require(user, Action.SUPPLY)
    name = upload.name or "file.xlsx"
    data = upload.read()
    check_supply_file(data, name)
    # The job is seen by the user's one county where their rights cover exactly one; what it
    # may write is decided when it runs, from the user's whole scope.
    job = SupplyImport(
        kind=SupplyImport.Kind(kind),
        original_name=name,
        created_by=user,
        county_id=access.scope(user, Action.SUPPLY).single,
        dry_run=dry_run,
    )
    job.file.save(name, ContentFile(data), save=False)
    job.save()
    transaction.on_commit(lambda: _queue(job.pk))
    return job


def _queue(job_id: int) -> None:
    from energy_supply.tasks import run_supply_import

    run_supply_import.delay(job_id)


def supply_import_run(*, job_id: int) -> None:
    """Run a queued import, if no other worker has claimed it."""
    if not job_claim(SupplyImport, job_id):
        return
    job = SupplyImport.objects.get(pk=job_id)
    with job_heartbeat(SupplyImport, job_id):
        _import(job)


def supply_imports_sweep() -> int:
    """Jobs whose worker died: queued again once, then failed in Chinese (background.py)."""
    return jobs_sweep(SupplyImport, queue=_queue)


def _progress(job_id: int) -> Progress:
    shown: list[tuple[str, float]] = [("", 0.0)]  # the phase last written, and when

    def progress(phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        last_phase, last_at = shown[0]
        if phase != last_phase or now - last_at >= PROGRESS_SECONDS or done >= total:
            shown[0] = (phase, now)
            SupplyImport.objects.filter(pk=job_id).update(
                phase=phase, processed_rows=done, total_rows=total
            )

    return progress


def _import(job: SupplyImport) -> None:
    template = TEMPLATES[job.kind]
    progress = _progress(job.pk)
    progress("读取文件", 0, 0)
    with job.file.open("rb") as stored:
        data = stored.read()
    try:
        sheet = read_supply_file(template, data, job.original_name)
    except SheetFileError as exc:
        # Not the template at all: nothing of it is worth keeping on disk.
        job.file.delete(save=False)
        job_finish(job, status=Status.FAILED, message=str(exc))
        return
    try:
        outcome = supply_rows_import(
            template=template,
            sheet=sheet,
            user=job.created_by,
            dry_run=job.dry_run,
            progress=progress,
        )
    except IntegrityError:
        logger.exception("supply import %s collided with another write", job.pk)
        job_finish(job, status=Status.FAILED, message=CONCURRENT)
        return
    except Exception:
        logger.exception("supply import %s failed", job.pk)
        job_finish(job, status=Status.FAILED, message=FAILED)
        raise
    job.total_rows = job.processed_rows = outcome.total
    if outcome.errors:
        job.error_count = len(outcome.errors)
        job.errors = [e.as_dict() for e in outcome.errors[:ERRORS_SHOWN]]
        message = f"共 {len(outcome.errors)} 处错误，未写入任何数据。"
        try:
            annotated = write_annotated(sheet.sheet_file(), outcome.errors, title=template.name)
            job.error_file.save(
                f"错误标注-{job.original_name.rsplit('.', 1)[0]}.xlsx",
                ContentFile(annotated),
                save=False,
            )
        except Exception:  # the errors are listed on the page all the same
            logger.exception("supply import %s: the annotated file failed", job.pk)
            message += "（错误标注文件未能生成，请按页面列出的错误修改。）"
        job_finish(job, status=Status.FAILED, message=message)
        return
    job.created_count, job.updated_count = outcome.created, outcome.updated
    job.unchanged_count = outcome.unchanged
    done = "检查通过，未写入（仅检查）。" if job.dry_run else "导入完成。"
    job_finish(job, status=Status.SUCCEEDED, message=done)
