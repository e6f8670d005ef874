"""Writes of the household ledger: one household from a form, a whole ledger file from an upload."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from heating.models import Role, User
from retrofits.importer import import_ledger
from retrofits.ledger import LedgerFileError, read_ledger, write_annotated
from retrofits.models import Household, LedgerImport
from retrofits.validators import stage_change_needs_reason, stage_change_problem

logger = logging.getLogger(__name__)

# The result page shows this many errors; the annotated file carries all of them.
ERRORS_SHOWN = 1000


def household_stage_errors(
    *, household: Household, new_stage: str, reason: str
) -> dict[str, list[str]]:
    """The stage rules of one change, for the service and for forms that show all errors at once."""
    old_stage = (
        Household.objects.filter(pk=household.pk).values_list("stage", flat=True).first()
        if household.pk
        else None
    )
    errors: dict[str, list[str]] = {}
    if problem := stage_change_problem(old_stage, new_stage):
        errors["stage"] = [problem]
    if stage_change_needs_reason(old_stage, new_stage) and not reason.strip():
        errors["reason"] = ["实施进度跨越或回退了阶段，请填写原因"]
    return errors


@transaction.atomic
def household_save(*, household: Household, user: User, reason: str = "") -> Household:
    """Create or change one household; a stage that skips or goes back needs a reason, kept in history."""
    if household.pk:
        # Two people saving the same household at once are serialised here.
        Household.objects.select_for_update().filter(pk=household.pk).exists()
    errors = household_stage_errors(household=household, new_stage=household.stage, reason=reason)
    try:
        household.full_clean()
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    if household.pk is None:
        household.created_by = user
    household.updated_by = user
    household._change_reason = reason.strip()  # type: ignore[attr-defined]
    household.save()
    return household


def ledger_import_start(*, upload: UploadedFile, user: User, dry_run: bool = False) -> LedgerImport:
    """Keep the uploaded file and queue its import; the page polls the returned row."""
    from retrofits.tasks import run_ledger_import

    job = LedgerImport(
        original_name=upload.name or "ledger.xlsx",
        created_by=user,
        county=user.county if user.role == Role.COUNTY else None,
        dry_run=dry_run,
    )
    job.file.save(job.original_name, upload, save=False)
    job.save()
    transaction.on_commit(lambda: run_ledger_import.delay(job.pk))
    return job


def ledger_import_run(*, job_id: int) -> None:
    """Run a queued import. Safe to run twice: a finished job is left alone, an interrupted one
    starts again (nothing of it was written: the import is one transaction)."""
    job = LedgerImport.objects.get(pk=job_id)
    if job.finished:
        return
    LedgerImport.objects.filter(pk=job_id).update(
        status=LedgerImport.Status.RUNNING, phase="读取文件", processed_rows=0
    )

    def progress(phase: str, done: int, total: int) -> None:
        LedgerImport.objects.filter(pk=job_id).update(
            phase=phase, processed_rows=done, total_rows=total
        )

    data = job.file.read()
    job.file.close()
    try:
        ledger = read_ledger(data, job.original_name)
    except LedgerFileError as exc:
        _finish(job, status=LedgerImport.Status.FAILED, message=str(exc))
        return
    try:
        outcome = import_ledger(
            ledger,
            user=job.created_by,
            source=f"台账导入：{job.original_name}",
            only_county=job.county,
            dry_run=job.dry_run,
            progress=progress,
        )
    except IntegrityError:
        # Another upload wrote the same codes or ID numbers between our checks and our write.
        logger.exception("ledger import %s collided with another write", job_id)
        _finish(
            job,
            status=LedgerImport.Status.FAILED,
            message="导入期间数据被同时修改，未写入任何数据，请重新上传。",
        )
        return
    except Exception:
        logger.exception("ledger import %s failed", job_id)
        _finish(
            job,
            status=LedgerImport.Status.FAILED,
            message="导入时发生系统错误，未写入任何数据。错误已记录，请联系系统管理员。",
        )
        raise
    job.total_rows = outcome.total
    job.processed_rows = outcome.total
    if outcome.errors:
        job.error_count = len(outcome.errors)
        job.errors = [e.as_dict() for e in outcome.errors[:ERRORS_SHOWN]]
        annotated = write_annotated(read_ledger(data, job.original_name), outcome.errors)
        job.error_file.save(
            f"错误标注-{job.original_name.rsplit('.', 1)[0]}.xlsx",
            ContentFile(annotated),
            save=False,
        )
        _finish(
            job,
            status=LedgerImport.Status.FAILED,
            message=f"共 {len(outcome.errors)} 处错误，未写入任何数据。",
        )
        return
    job.created_count, job.updated_count, job.unchanged_count = (
        outcome.created,
        outcome.updated,
        outcome.unchanged,
    )
    if not job.dry_run and (outcome.created or outcome.updated):
        from retrofits.tasks import run_rollup

        transaction.on_commit(run_rollup.delay)
    _finish(
        job,
        status=LedgerImport.Status.SUCCEEDED,
        message="检查通过，未写入（仅检查）。" if job.dry_run else "导入完成。",
    )


def _finish(job: LedgerImport, *, status: str, message: str) -> None:
    job.status = status
    job.message = message
    job.phase = ""
    job.finished_at = timezone.now()
    job.save()
