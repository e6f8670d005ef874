"""Import jobs: each import of a ledger file, whether the web upload (queued, run by a Celery
worker), the CLI or the demo generator, is recorded as a job (LedgerImport) whose page shows its
progress and outcome.

A job never hangs at 处理中: the worker claims it (one worker at a time), beats a heartbeat while it
runs, and finishes it whatever happens after the checks. A worker that dies (killed, out of memory)
stops beating; `sweep_stuck_imports`, on beat every minute and whenever someone looks at their
imports, puts such a job back in the queue once and fails it with a Chinese message the second time.
Nothing of an interrupted import was written: the import is one transaction.

A passed dry run (仅检查) keeps its file: 确认导入 on its page (`ledger_import_confirm`) queues the
real import of that file, once per check, as a job of its own that checks every row again as any
import does, and refuses the rows of households changed since the check was asked for (their new
values would be overwritten by a file checked against the old ones).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from heating import access
from heating.access import Action
from heating.annotated import write_annotated
from heating.models import User
from heating.sheets import SheetError, SheetFile, SheetFileError, unneutralise
from retrofits.ledger.file import COLUMNS, HEADER_OF, SHEET_TITLE, read_ledger, start_ledger
from retrofits.ledger.importer import ImportOutcome, Progress, import_ledger
from retrofits.models import Household, LedgerImport

logger = logging.getLogger(__name__)

# The result page shows this many errors; the annotated file carries all of them.
ERRORS_SHOWN = 1000
HEARTBEAT = dt.timedelta(seconds=20)
# A running job with no heartbeat for this long lost its worker.
STUCK_AFTER = dt.timedelta(minutes=2)
# A queued job nobody claimed for this long lost its message.
UNCLAIMED_AFTER = dt.timedelta(minutes=30)
ATTEMPTS = 2  # the first run and one retry
PROGRESS_SECONDS = 1.0
INTERRUPTED = "处理中断（服务重启或处理进程异常退出），未写入任何数据。请重新上传；如再次中断，请联系系统管理员。"


def ledger_import_start(*, upload: UploadedFile, user: User, dry_run: bool = False) -> LedgerImport:
    """Keep the uploaded file and queue its import; the page polls the returned row."""
    from retrofits.tasks import run_ledger_import

    job = _new_job(name=upload.name or "ledger.xlsx", user=user, dry_run=dry_run)
    job.file.save(job.original_name, upload, save=False)
    job.save()
    transaction.on_commit(lambda: run_ledger_import.delay(job.pk))
    return job


class ConfirmRefused(ValueError):
    """确认导入 cannot go on; the message says why, in Chinese."""


def confirm_refusal(checked: Any, user: User) -> str | None:
    """Why this job's kept file may not be imported now (None: it may). A LedgerImport or the
    supply's SupplyImport: they keep the same fields (the supply's model is not imported here,
    a floor up)."""
    if not checked.dry_run:
        return "这次上传不是“仅检查”，无需确认导入。"
    if checked.status != checked.Status.SUCCEEDED:
        return "这次检查未通过（或尚未完成），不能导入。请改正后重新上传。"
    if checked.created_by_id != user.pk:
        return "只能确认导入自己检查过的文件。"
    name = checked.file.name if checked.file else None
    if not name or not checked.file.storage.exists(name):
        return "检查时保存的文件已不在，请重新上传。"
    return None


def ledger_import_confirm(*, checked: LedgerImport, user: User) -> tuple[LedgerImport, bool]:
    """确认导入: queue the import of the file a passed dry run kept, as the same user, whose
    import rights are asked again now. Returns the import, and whether this call started it: a
    check already confirmed (a second click, or two at once) gives its one import, never another.
    ConfirmRefused says why not, in Chinese."""
    from retrofits.tasks import run_ledger_import

    with transaction.atomic():
        # Locked: a second click waits here and then finds the first one's import.
        checked = LedgerImport.objects.select_for_update().get(pk=checked.pk)
        earlier = LedgerImport.objects.filter(confirms=checked).first()
        if earlier is not None:
            return earlier, False
        refusal = confirm_refusal(checked, user)
        if refusal:
            raise ConfirmRefused(refusal)
        job = _new_job(name=checked.original_name, user=user, dry_run=False)
        job.confirms = checked
        with checked.file.open("rb") as kept:
            job.file.save(job.original_name, ContentFile(kept.read()), save=False)
        try:
            with transaction.atomic():
                job.save()
        except IntegrityError:  # SQLite does not lock rows: the unique key answers instead
            job.file.delete(save=False)
            return LedgerImport.objects.get(confirms=checked), False
        transaction.on_commit(lambda: run_ledger_import.delay(job.pk))
    return job, True


def changed_since(
    history: QuerySet[Any], codes: Iterable[str], since: dt.datetime
) -> dict[str, dt.datetime]:
    """The codes among `codes` whose record has a change recorded at or after `since` (its
    history: simple-history's table), with the latest such change."""
    wanted = set(codes)
    changed: dict[str, dt.datetime] = {}
    recent = history.filter(history_date__gte=since).values_list("code", "history_date")
    for code, when in recent.iterator(chunk_size=10000):
        if code in wanted and (code not in changed or when > changed[code]):
            changed[code] = when
    return changed


def changed_message(when: dt.datetime, *, what: str = "该户") -> str:
    local = timezone.localtime(when)
    return (
        f"{what}在检查之后（{local:%m-%d %H:%M}）已被修改，为免覆盖未导入；请重新上传检查后再导入"
    )


def cell_code(value: object) -> str:
    """A code cell as the checks read it."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unneutralise(str(value).strip())


def _changed_rows(job: LedgerImport, ledger: SheetFile) -> tuple[list[SheetError], int]:
    """The rows of households changed since the check this job confirms was uploaded (and how
    many rows the file has). From the upload, not the check's end: a change made while it ran
    may not have been seen."""
    assert job.confirms is not None
    at = ledger.positions["code"]
    codes: dict[str, int] = {}
    total = 0
    for number, cells in ledger.rows:
        total += 1
        if at < len(cells) and (code := cell_code(cells[at])):
            codes.setdefault(code, number)
    changed = changed_since(Household.history.all(), codes, job.confirms.created_at)
    errors = [
        SheetError(codes[code], HEADER_OF["code"], code, changed_message(when))
        for code, when in changed.items()
    ]
    return sorted(errors, key=lambda e: e.row), total


def ledger_import_file(
    *,
    data: bytes,
    name: str,
    user: User | None,
    dry_run: bool = False,
    first_load: bool = False,
) -> tuple[LedgerImport, ImportOutcome | None]:
    """Keep a file given on the command line and import it now; every error is in the outcome.
    `first_load`: see import_ledger."""
    job = _new_job(name=name, user=user, dry_run=dry_run)
    # The sheet is parsed (in its child process) while the job and its file are recorded.
    started: list[Callable[[], SheetFile]] = [start_ledger(data, name)]
    job.file.save(name, ContentFile(data), save=False)
    job.save()

    def read() -> SheetFile:
        return started.pop()() if started else read_ledger(data, name)

    return job, _run(job, read, first_load=first_load)


def ledger_import_rows(
    *,
    ledger: SheetFile,
    name: str,
    source: str,
    progress: Progress | None = None,
    first_load: bool = False,
) -> ImportOutcome:
    """Import rows made by the server itself (the demo generator), recorded as a job too;
    `progress` hears what the job's page would show."""
    job = _new_job(name=name, user=None, dry_run=False)
    job.save()
    outcome = _run(job, lambda: ledger, source=source, heard=progress, first_load=first_load)
    assert outcome is not None
    return outcome


def ledger_import_run(*, job_id: int) -> None:
    """Run a queued import, if no other worker has claimed it: a message delivered twice, or a
    job put back in the queue while its first worker still ran, is run once."""
    claimed = LedgerImport.objects.filter(pk=job_id, status=LedgerImport.Status.PENDING).update(
        status=LedgerImport.Status.RUNNING,
        attempts=F("attempts") + 1,
        heartbeat_at=timezone.now(),
    )
    if not claimed:
        return
    job = LedgerImport.objects.get(pk=job_id)
    data = job.file.read()
    job.file.close()
    _run(job, lambda: read_ledger(data, job.original_name))


def sweep_stuck_imports() -> int:
    """Jobs whose worker died (no heartbeat) or whose message was lost (never claimed): back in
    the queue if they have an attempt left and a worker to run them, failed otherwise. Returns
    how many were swept."""
    now = timezone.now()
    lost = Q(status=LedgerImport.Status.RUNNING, heartbeat_at__lt=now - STUCK_AFTER) | Q(
        status=LedgerImport.Status.PENDING, created_at__lt=now - UNCLAIMED_AFTER
    )
    swept = 0
    for job_id in LedgerImport.objects.filter(lost).values_list("pk", flat=True):
        with transaction.atomic():
            job = (
                LedgerImport.objects.select_for_update(skip_locked=True)
                .filter(lost, pk=job_id)
                .first()
            )
            if job is None:
                continue  # claimed, finished or swept meanwhile
            swept += 1
            # Without a worker (make run) a retry would run inside a page view: fail it instead.
            if job.attempts < ATTEMPTS and job.file and not settings.CELERY_TASK_ALWAYS_EAGER:
                from retrofits.tasks import run_ledger_import

                job.status, job.phase, job.processed_rows = LedgerImport.Status.PENDING, "", 0
                job.created_at = now  # queued anew: the unclaimed clock starts again
                job.save(update_fields=["status", "phase", "processed_rows", "created_at"])
                transaction.on_commit(functools.partial(run_ledger_import.delay, job.pk))
                logger.warning("ledger import %s lost its worker: queued again", job.pk)
            else:
                _finish(job, status=LedgerImport.Status.FAILED, message=INTERRUPTED)
                logger.error("ledger import %s lost its worker: failed", job.pk)
    return swept


def _new_job(*, name: str, user: User | None, dry_run: bool) -> LedgerImport:
    """A job for a user who may import. Its county is the user's one county where import rights
    cover exactly one (whose users then see the job); what the job may write is decided when it
    runs, from the user's whole import scope (`_scope`)."""
    county_id = None
    if user is not None:
        access.require(user, Action.IMPORT)
        county_id = access.scope(user, Action.IMPORT).single
    return LedgerImport(original_name=name, created_by=user, county_id=county_id, dry_run=dry_run)


def _scope(user: User | None) -> access.Scope:
    """Where a job's file may write: the server's own jobs everywhere, a user's wherever their
    import rights reach when it runs (none left: every row is refused)."""
    return access.Scope(everything=True) if user is None else access.scope(user, Action.IMPORT)


def _run(
    job: LedgerImport,
    read: Callable[[], SheetFile],
    *,
    source: str = "",
    heard: Progress | None = None,
    first_load: bool = False,
) -> ImportOutcome | None:
    """Read and import, recording progress and the outcome on the job; the rollup follows a
    write that changed anything. None when the file could not be read at all."""
    job_id = job.pk
    LedgerImport.objects.filter(pk=job_id).update(
        status=LedgerImport.Status.RUNNING,
        phase="读取文件",
        processed_rows=0,
        heartbeat_at=timezone.now(),
    )
    with _heartbeat(job_id):
        return _import(job, read, source=source, heard=heard, first_load=first_load)


@contextmanager
def _heartbeat(job_id: int) -> Iterator[None]:
    """While the import runs, a thread marks the job alive (in its own connection, outside the
    import's transaction); when the process dies, the marks stop."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(HEARTBEAT.total_seconds()):
                # SQLite may be busy with the import's own write: the next beat will do.
                with suppress(OperationalError):
                    LedgerImport.objects.filter(pk=job_id).update(heartbeat_at=timezone.now())
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"heartbeat-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _import(
    job: LedgerImport,
    read: Callable[[], SheetFile],
    *,
    source: str,
    heard: Progress | None,
    first_load: bool,
) -> ImportOutcome | None:
    job_id = job.pk
    shown: list[tuple[str, float]] = [("", 0.0)]  # the phase last written, and when

    def progress(phase: str, done: int, total: int) -> None:
        # The page polls every few seconds: a new phase is written at once, the rows done in it
        # at most every PROGRESS_SECONDS (each write is a commit the import waits for).
        now = time.monotonic()
        last_phase, last_at = shown[0]
        if phase != last_phase or now - last_at >= PROGRESS_SECONDS or done >= total:
            shown[0] = (phase, now)
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
    if job.confirms_id is not None:
        LedgerImport.objects.filter(pk=job_id).update(phase="核对检查后的修改")
        changed, total = _changed_rows(job, ledger)
        if changed:
            _refuse(job, ImportOutcome(total=total, errors=changed), read)
            return None
        ledger = read()  # the rows again, for the import's own reading
    try:
        outcome = import_ledger(
            ledger,
            user=job.created_by,
            source=source or f"台账导入：{job.original_name}",
            scope=_scope(job.created_by),
            dry_run=job.dry_run,
            progress=progress,
            first_load=first_load,
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
    if outcome.errors:
        _refuse(job, outcome, read)
        return outcome
    job.total_rows = job.processed_rows = outcome.total
    job.created_count, job.updated_count, job.unchanged_count = (
        outcome.created,
        outcome.updated,
        outcome.unchanged,
    )
    if not job.dry_run and (outcome.created or outcome.updated) and not outcome.counted:
        from retrofits.tasks import run_rollup

        # The counties the file wrote are counted anew; the others' figures carry over.
        counties = sorted(outcome.counties)
        transaction.on_commit(lambda: run_rollup.delay(counties))
    _finish(
        job,
        status=LedgerImport.Status.SUCCEEDED,
        message="检查通过，未写入（仅检查）。" if job.dry_run else "导入完成。",
    )
    return outcome


def _refuse(job: LedgerImport, outcome: ImportOutcome, read: Callable[[], SheetFile]) -> None:
    """Fail the job with the file's errors: the first on its page, all in the annotated copy."""
    job.total_rows = job.processed_rows = outcome.total
    job.error_count = len(outcome.errors)
    job.errors = [e.as_dict() for e in outcome.errors[:ERRORS_SHOWN]]
    message = f"共 {len(outcome.errors)} 处错误，未写入任何数据。"
    if job.file:
        try:
            annotated = write_annotated(read(), outcome.errors, columns=COLUMNS, title=SHEET_TITLE)
            job.error_file.save(
                f"错误标注-{job.original_name.rsplit('.', 1)[0]}.xlsx",
                ContentFile(annotated),
                save=False,
            )
        except Exception:  # the errors are listed on the page all the same
            logger.exception("ledger import %s: the annotated file failed", job.pk)
            message += "（错误标注文件未能生成，请按页面列出的错误修改。）"
    _finish(job, status=LedgerImport.Status.FAILED, message=message)


def _finish(job: LedgerImport, *, status: str, message: str) -> None:
    job.status = status
    job.message = message
    job.phase = ""
    job.finished_at = timezone.now()
    job.save()
