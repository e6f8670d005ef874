"""Supply imports from the web, as background jobs (SupplyImport): the upload is kept and queued at
once, a Celery worker reads and checks it (in-process under `make run`, as the ledger's), and the
job's page polls its row for the progress and the outcome: the counts, or every error by row and
column with a copy of the file that marks them. Claimed once, kept alive and swept as the ledger's
jobs are (background.py). A passed dry run's file is kept for 确认导入 (`supply_import_confirm`),
as the ledger's is: imported once, every row checked again, the records changed since the check
refused."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from energy_supply.models import SupplyImport
from energy_supply.services.background import job_claim, job_finish, job_heartbeat, jobs_sweep
from energy_supply.services.imports import (
    CONCURRENT,
    Progress,
    SupplyOutcome,
    supply_rows_import,
)
from energy_supply.sheets import (
    TEMPLATES,
    SupplySheet,
    Template,
    check_supply_file,
    read_supply_file,
)
from heating import access
from heating.access import Action
from heating.annotated import write_annotated
from heating.models import User
from heating.sheets import SheetError, SheetFileError
from retrofits.ledger.jobs import (
    ERRORS_SHOWN,
    ConfirmRefused,
    cell_code,
    changed_message,
    changed_since,
    confirm_refusal,
)

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


def supply_import_confirm(*, checked: SupplyImport, user: User) -> tuple[SupplyImport, bool]:
    """确认导入: queue the import of the file a passed dry run kept, as the same user, whose
    supply rights are asked again now. Returns the import, and whether this call started it (a
    check already confirmed gives its one import). ConfirmRefused says why not, in Chinese."""
    access.require(user, Action.SUPPLY)
    with transaction.atomic():
        # Locked: a second click waits here and then finds the first one's import.
        checked = SupplyImport.objects.select_for_update().get(pk=checked.pk)
        earlier = SupplyImport.objects.filter(confirms=checked).first()
        if earlier is not None:
            return earlier, False
        refusal = confirm_refusal(checked, user)
        if refusal:
            raise ConfirmRefused(refusal)
        job = SupplyImport(
            kind=checked.kind,
            original_name=checked.original_name,
            created_by=user,
            county_id=access.scope(user, Action.SUPPLY).single,
            confirms=checked,
        )
        with checked.file.open("rb") as kept:
            job.file.save(job.original_name, ContentFile(kept.read()), save=False)
        try:
            with transaction.atomic():
                job.save()
        except IntegrityError:  # SQLite does not lock rows: the unique key answers instead
            job.file.delete(save=False)
            return SupplyImport.objects.get(confirms=checked), False
        transaction.on_commit(lambda: _queue(job.pk))
    return job, True


def _changed_rows(job: SupplyImport, template: Template, sheet: SupplySheet) -> list[SheetError]:
    """The rows of records changed since the check this job confirms was uploaded: the file was
    checked against what they were, and would overwrite what they are."""
    assert job.confirms is not None
    at = sheet.positions["code"]
    codes: dict[str, int] = {}
    for number, cells in sheet.rows:
        if at < len(cells) and (code := cell_code(cells[at])):
            codes.setdefault(code, number)
    history: Any = template.model.history  # type: ignore[attr-defined]
    changed = changed_since(history.all(), codes, job.confirms.created_at)
    column = template.header_of["code"]
    errors = [
        SheetError(codes[code], column, code, changed_message(when, what="该记录"))
        for code, when in changed.items()
    ]
    return sorted(errors, key=lambda e: e.row)


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
    if job.confirms_id is not None and (changed := _changed_rows(job, template, sheet)):
        _refuse(job, template, sheet, SupplyOutcome(total=len(sheet.rows), errors=changed))
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
    if outcome.errors:
        _refuse(job, template, sheet, outcome)
        return
    job.total_rows = job.processed_rows = outcome.total
    job.created_count, job.updated_count = outcome.created, outcome.updated
    job.unchanged_count = outcome.unchanged
    done = "检查通过，未写入（仅检查）。" if job.dry_run else "导入完成。"
    job_finish(job, status=Status.SUCCEEDED, message=done)


def _refuse(
    job: SupplyImport, template: Template, sheet: SupplySheet, outcome: SupplyOutcome
) -> None:
    """Fail the job with the file's errors: the first on its page, all in the annotated copy."""
    job.total_rows = job.processed_rows = outcome.total
    job.error_count = len(outcome.errors)
    job.errors = [e.as_dict() for e in outcome.errors[:ERRORS_SHOWN]]
    message = f"共 {len(outcome.errors)} 处错误，未写入任何数据。"
    try:
        annotated = write_annotated(
            sheet.sheet_file(), outcome.errors, columns=template.columns, title=template.name
        )
        job.error_file.save(
            f"错误标注-{job.original_name.rsplit('.', 1)[0]}.xlsx",
            ContentFile(annotated),
            save=False,
        )
    except Exception:  # the errors are listed on the page all the same
        logger.exception("supply import %s: the annotated file failed", job.pk)
        message += "（错误标注文件未能生成，请按页面列出的错误修改。）"
    job_finish(job, status=Status.FAILED, message=message)
