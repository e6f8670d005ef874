"""The two writers of households: one household (`household_save`, for forms, the admin, acceptance
and commands) and a whole ledger file (`ledger_import_*`, for the web upload, the CLI and the demo,
each recorded as a job). Both ask the rules of rules.py the same way."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from heating import access
from heating.access import Action
from heating.models import County, User
from heating.sheets import SheetFile, SheetFileError, write_annotated
from retrofits.importer import ImportOutcome, Progress, import_ledger
from retrofits.ledger import SHEET_TITLE, read_ledger
from retrofits.models import Household, LedgerImport
from retrofits.models.households import household_writer
from retrofits.rollups import request_rollup
from retrofits.rules import State, Touched, Via, change_problems, lock_counties, plan_breaches

logger = logging.getLogger(__name__)

# The result page shows this many errors; the annotated file carries all of them.
ERRORS_SHOWN = 1000

# Who may write a household each way (a command's writes, with no user, may all).
_ALLOWED = {
    Via.EDIT: Action.EDIT,
    Via.CORRECTION: Action.CORRECT,
    Via.ACCEPTANCE: Action.INSPECT,
}
# What the history says when a write came with no reason of its own.
_DEFAULT_REASON = {Via.CORRECTION: "管理后台修改"}


def household_lock(pk: int, *, also: set[int] | None = None) -> Household:
    """The household, locked for this transaction after its county's lock (and those of `also`):
    every writer takes county locks before row locks, so that none waits for another in a circle."""
    while True:
        county_id = Household.objects.filter(pk=pk).values_list("county_id", flat=True).get()
        lock_counties({county_id} | (also or set()))
        household = Household.objects.select_for_update().get(pk=pk)
        if household.county_id == county_id:
            return household
        # An administrator moved it to another county meanwhile: lock that one instead.


@transaction.atomic
def household_save(
    *,
    household: Household,
    user: User | None,
    reason: str = "",
    via: Via = Via.EDIT,
    dry_run: bool = False,
) -> Household:
    """Create or change one household: the value, change and plan rules, all or nothing.

    `user=None` is the server's own command. A dry run checks everything, the plan rules after
    the write included, and rolls back."""
    new = household.pk is None
    old = None if new else household_lock(household.pk, also={household.county_id})
    if old is None:
        lock_counties({household.county_id})
    if user is not None:
        access.require(user, _ALLOWED[via], old.county_id if old else household.county_id)

    errors: dict[str, list[str]] = {}
    try:
        household.full_clean()
    except ValidationError as exc:
        errors = exc.message_dict
    problems = change_problems(
        State.of(old) if old else None, State.of(household), via=via, reason=reason
    )
    for problem in problems:
        errors.setdefault(problem.field, []).append(problem.message)
    if errors:
        raise ValidationError(errors)
    if user is not None:  # the county it moves to, where the rules let it move at all
        access.require(user, _ALLOWED[via], household.county_id)

    if new:
        household.created_by = user
    household.updated_by = user
    household._change_reason = reason.strip() or _DEFAULT_REASON.get(via, "")  # type: ignore[attr-defined]
    kept = False
    try:
        with household_writer():
            household.save()
        touched = Touched(
            counties=frozenset({household.county_id} | ({old.county_id} if old else set())),
            households=Household.objects.filter(pk=household.pk),
        )
        breaches = plan_breaches(touched)
        if breaches:
            refused: dict[str, list[str]] = {}
            for breach in breaches:
                refused.setdefault(breach.field, []).append(breach.message)
            raise ValidationError(refused)
        kept = not dry_run
        if kept:
            transaction.on_commit(request_rollup)
    finally:
        if not kept:
            transaction.set_rollback(True)
            if new:  # a form shows it again as the new household it still is
                household.pk = None
                household._state.adding = True
    return household


# ---------------------------------------------------------------- a whole ledger


def ledger_import_start(*, upload: UploadedFile, user: User, dry_run: bool = False) -> LedgerImport:
    """Keep the uploaded file and queue its import; the page polls the returned row."""
    from retrofits.tasks import run_ledger_import

    job = _new_job(name=upload.name or "ledger.xlsx", user=user, dry_run=dry_run)
    job.file.save(job.original_name, upload, save=False)
    job.save()
    transaction.on_commit(lambda: run_ledger_import.delay(job.pk))
    return job


def ledger_import_file(
    *, data: bytes, name: str, user: User | None, dry_run: bool = False
) -> tuple[LedgerImport, ImportOutcome | None]:
    """Keep a file given on the command line and import it now; every error is in the outcome."""
    job = _new_job(name=name, user=user, dry_run=dry_run)
    job.file.save(name, ContentFile(data), save=False)
    job.save()
    return job, _run(job, lambda: read_ledger(data, name))


def ledger_import_rows(
    *, ledger: SheetFile, name: str, source: str, progress: Progress | None = None
) -> ImportOutcome:
    """Import rows made by the server itself (the demo generator), recorded as a job too;
    `progress` hears what the job's page would show."""
    job = _new_job(name=name, user=None, dry_run=False)
    job.save()
    outcome = _run(job, lambda: ledger, source=source, heard=progress)
    assert outcome is not None
    return outcome


def ledger_import_run(*, job_id: int) -> None:
    """Run a queued import. Safe to run twice: a finished job is left alone, an interrupted one
    starts again (nothing of it was written: the import is one transaction)."""
    job = LedgerImport.objects.get(pk=job_id)
    if job.finished:
        return
    data = job.file.read()
    job.file.close()
    _run(job, lambda: read_ledger(data, job.original_name))


def _new_job(*, name: str, user: User | None, dry_run: bool) -> LedgerImport:
    """A job for a user who may import: a county official's is bound to their county."""
    county_id = None
    if user is not None:
        access.require(user, Action.IMPORT)
        county_id = access.scope(user, Action.IMPORT).single
    return LedgerImport(original_name=name, created_by=user, county_id=county_id, dry_run=dry_run)


def _run(
    job: LedgerImport,
    read: Callable[[], SheetFile],
    *,
    source: str = "",
    heard: Progress | None = None,
) -> ImportOutcome | None:
    """Read and import, recording progress and the outcome on the job; the rollup follows a
    write that changed anything. None when the file could not be read at all."""
    job_id = job.pk
    LedgerImport.objects.filter(pk=job_id).update(
        status=LedgerImport.Status.RUNNING, phase="读取文件", processed_rows=0
    )

    def progress(phase: str, done: int, total: int) -> None:
        LedgerImport.objects.filter(pk=job_id).update(
            phase=phase, processed_rows=done, total_rows=total
        )
        if heard is not None and (done % 50000 < 10000 or done >= total):
            heard(phase, done, total)

    try:
        ledger = read()
    except SheetFileError as exc:
        # Not a ledger at all: nothing of it is worth keeping on disk.
        if job.file:
            job.file.delete(save=False)
        _finish(job, status=LedgerImport.Status.FAILED, message=str(exc))
        return None
    try:
        outcome = import_ledger(
            ledger,
            user=job.created_by,
            source=source or f"台账导入：{job.original_name}",
            only_county=County.objects.get(pk=job.county_id) if job.county_id else None,
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
        return None
    except Exception:
        logger.exception("ledger import %s failed", job_id)
        _finish(
            job,
            status=LedgerImport.Status.FAILED,
            message="导入时发生系统错误，未写入任何数据。错误已记录，请联系系统管理员。",
        )
        raise
    job.total_rows = job.processed_rows = outcome.total
    if outcome.errors:
        job.error_count = len(outcome.errors)
        job.errors = [e.as_dict() for e in outcome.errors[:ERRORS_SHOWN]]
        if job.file:
            annotated = write_annotated(read(), outcome.errors, title=SHEET_TITLE)
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
        return outcome
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
    return outcome


def _finish(job: LedgerImport, *, status: str, message: str) -> None:
    job.status = status
    job.message = message
    job.phase = ""
    job.finished_at = timezone.now()
    job.save()
