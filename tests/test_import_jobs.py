"""Import jobs never hang at 处理中: one worker claims a job, a heartbeat shows it alive, and a job
whose worker died is queued again once, then failed with a Chinese message."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse
from django.utils import timezone

from heating.models import User
from retrofits.ledger import jobs as import_jobs
from retrofits.ledger.jobs import INTERRUPTED, ledger_import_run, sweep_stuck_imports
from retrofits.models import Household, LedgerImport, TenderItem
from tests.conftest import login
from tests.ledger_files import row, xlsx

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(tmp_path: Path, official: User, tender: list[TenderItem]) -> LedgerImport:
    job = LedgerImport(original_name="ledger.xlsx", created_by=official, county=official.county)
    job.file.save("ledger.xlsx", ContentFile(xlsx(tmp_path, [row()]).read_bytes()), save=False)
    job.save()
    return job


def lost(job: LedgerImport, *, attempts: int) -> LedgerImport:
    """The job as a worker killed mid-import leaves it."""
    LedgerImport.objects.filter(pk=job.pk).update(
        status="running",
        attempts=attempts,
        heartbeat_at=timezone.now() - dt.timedelta(minutes=5),
        phase="逐行检查",
    )
    return LedgerImport.objects.get(pk=job.pk)


def test_a_job_is_run_by_the_worker_that_claims_it_and_only_once(queued: LedgerImport) -> None:
    ledger_import_run(job_id=queued.pk)
    queued.refresh_from_db()
    assert (queued.status, queued.attempts) == ("succeeded", 1)
    ledger_import_run(job_id=queued.pk)  # the message delivered again
    queued.refresh_from_db()
    assert queued.attempts == 1 and Household.objects.count() == 1


def test_a_job_another_worker_runs_is_left_to_it(queued: LedgerImport) -> None:
    LedgerImport.objects.filter(pk=queued.pk).update(status="running", heartbeat_at=timezone.now())
    ledger_import_run(job_id=queued.pk)
    assert not Household.objects.exists()
    assert sweep_stuck_imports() == 0  # it beats: alive


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_a_job_whose_worker_died_is_queued_again_then_runs(
    queued: LedgerImport, django_capture_on_commit_callbacks: Any
) -> None:
    lost(queued, attempts=1)
    with django_capture_on_commit_callbacks() as queued_again:
        assert sweep_stuck_imports() == 1
    assert len(queued_again) == 1  # run_ledger_import.delay(job)
    queued.refresh_from_db()
    assert queued.status == "pending" and queued.processed_rows == 0
    ledger_import_run(job_id=queued.pk)
    queued.refresh_from_db()
    assert (queued.status, queued.attempts) == ("succeeded", 2)


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_a_job_interrupted_twice_fails_in_chinese(
    client: Client, official: User, queued: LedgerImport
) -> None:
    lost(queued, attempts=2)
    page = login(client, official).get(reverse("ledger-import-detail", args=[queued.pk]))
    queued.refresh_from_db()
    assert queued.status == "failed" and queued.message == INTERRUPTED
    assert "处理中断" in page.content.decode() and "<progress" not in page.content.decode()


def test_without_a_worker_an_interrupted_job_fails_at_once(queued: LedgerImport) -> None:
    """Under make run the server itself ran it: a retry would run inside a page view."""
    lost(queued, attempts=1)
    assert sweep_stuck_imports() == 1
    queued.refresh_from_db()
    assert queued.status == "failed" and queued.message == INTERRUPTED


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_a_queued_job_nobody_claimed_is_queued_again(
    queued: LedgerImport, django_capture_on_commit_callbacks: Any
) -> None:
    LedgerImport.objects.filter(pk=queued.pk).update(
        created_at=timezone.now() - dt.timedelta(hours=1)
    )
    with django_capture_on_commit_callbacks() as queued_again:
        assert sweep_stuck_imports() == 1
    assert len(queued_again) == 1
    assert sweep_stuck_imports() == 0  # queued anew, its clock restarted


def test_a_failure_to_write_the_error_file_still_finishes_the_job(
    queued: LedgerImport, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    LedgerImport.objects.filter(pk=queued.pk).update(file="")
    bad = xlsx(tmp_path, [row(城乡类型="郊区")], name="bad.xlsx").read_bytes()
    queued.file.save("bad.xlsx", ContentFile(bad))

    def broken(*args: object, **kwargs: object) -> bytes:
        raise OSError("disk full")

    monkeypatch.setattr(import_jobs, "write_annotated", broken)
    ledger_import_run(job_id=queued.pk)
    queued.refresh_from_db()
    assert queued.status == "failed" and queued.error_count == 1
    assert "错误标注文件未能生成" in queued.message and not queued.error_file


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_running_job_beats(queued: LedgerImport, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(import_jobs, "HEARTBEAT", dt.timedelta(seconds=0.05))
    beats: list[dt.datetime | None] = []
    real = import_jobs.import_ledger

    def slow(*args: Any, **kwargs: Any) -> Any:
        first = LedgerImport.objects.get(pk=queued.pk).heartbeat_at
        time.sleep(0.5)
        beats.extend([first, LedgerImport.objects.get(pk=queued.pk).heartbeat_at])
        return real(*args, **kwargs)

    monkeypatch.setattr(import_jobs, "import_ledger", slow)
    ledger_import_run(job_id=queued.pk)
    first, later = beats
    assert first is not None and later is not None and later > first
