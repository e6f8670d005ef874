"""Large exports are made in the background: the page answers at once with a progress bar that
polls, then a link; only the user who asked downloads the file, each download is kept like any
look at personal data, and the file is gone a day later."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook
from pytest_django.fixtures import Settings as SettingsWrapper

from heating import exports
from heating.models import ExportJob, PersonalDataAccess, User
from heating.services import export_start, exports_sweep
from retrofits.models import TenderItem
from tests.conftest import login
from tests.ledger_files import IDS, row, xlsx, yuanping_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(tmp_path: Path, tender: list[TenderItem], settings: SettingsWrapper) -> None:
    rows = [row(), row(户编号="XF-0002", 身份证号=IDS[1]), yuanping_row()]
    call_command("import_ledger", str(xlsx(tmp_path, rows)), stdout=io.StringIO())
    settings.EXPORT_INLINE_ROWS = 1  # every export of these households is "large"


def started(client: Client, captured: Any, query: str = "") -> ExportJob:
    with captured(execute=True):
        response = client.get(reverse("ledger-export") + query)
    assert response.status_code == 302
    job = ExportJob.objects.get()
    assert response["Location"] == reverse("export", args=[job.pk])
    return job


def test_a_large_export_is_made_in_the_background_and_downloaded(
    client: Client, official: User, ledger: None, django_capture_on_commit_callbacks: Any
) -> None:
    login(client, official)
    job = started(client, django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert (job.status, job.total, job.done, job.personal_households) == ("done", 2, 2, 2)
    page = client.get(reverse("export", args=[job.pk])).content.decode()
    assert reverse("export-download", args=[job.pk]) in page and "hx-get" not in page
    assert not PersonalDataAccess.objects.filter(kind=PersonalDataAccess.Kind.EXPORT).exists()
    response = client.get(reverse("export-download", args=[job.pk]))
    assert response["Cache-Control"] == "no-store"
    sheet = load_workbook(io.BytesIO(response.getvalue())).active
    assert [r[0].value for r in sheet.iter_rows(min_row=2)] == ["XF-0001", "XF-0002"]
    assert sheet["F2"].value == IDS[0]  # their own county: in full
    kept = PersonalDataAccess.objects.get(kind=PersonalDataAccess.Kind.EXPORT)
    assert (kept.user, kept.households) == (official, 2)


def test_the_page_polls_while_the_file_is_made(
    client: Client, official: User, ledger: None
) -> None:
    exports_job = ExportJob.objects.create(
        kind="ledger", title="导出", created_by=official, total=100, done=40,
        status=ExportJob.Status.RUNNING,
    )  # fmt: skip
    page = login(client, official).get(reverse("export", args=[exports_job.pk]))
    text = page.content.decode()
    assert 'hx-trigger="every 1s"' in text and 'value="40"' in text and "40 / 100" in text
    partial = client.get(reverse("export", args=[exports_job.pk]), HTTP_HX_REQUEST="true")
    assert "<html" not in partial.content.decode() and "export-status" in partial.content.decode()


def test_only_the_user_who_asked_sees_the_file(
    client: Client,
    official: User,
    municipal: User,
    administrator: User,
    ledger: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    job = started(login(client, official), django_capture_on_commit_callbacks)
    for other in (municipal, administrator):
        other_client = login(Client(), other)
        assert other_client.get(reverse("export", args=[job.pk])).status_code == 404
        assert other_client.get(reverse("export-download", args=[job.pk])).status_code == 404


def test_the_bureaus_export_is_masked_and_scoped_like_its_list(
    client: Client, municipal: User, ledger: None, django_capture_on_commit_callbacks: Any
) -> None:
    login(client, municipal)
    job = started(client, django_capture_on_commit_callbacks, "?county=&path=electric")
    response = client.get(reverse("export-download", args=[job.pk]))
    sheet = load_workbook(io.BytesIO(response.getvalue())).active
    ids = [r[5].value for r in sheet.iter_rows(min_row=2)]
    assert len(ids) == 3 and all("********" in i for i in ids)
    assert ExportJob.objects.get().personal_households == 0


def test_a_failing_export_says_so_in_chinese(
    client: Client,
    official: User,
    ledger: None,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    def broken(job: ExportJob, progress: exports.Progress) -> exports.Made:
        raise RuntimeError("disk full")

    monkeypatch.setitem(exports.EXPORTERS, "ledger", broken)
    job = started(login(client, official), django_capture_on_commit_callbacks)
    page = client.get(reverse("export", args=[job.pk])).content.decode()
    assert exports.FAILED in page
    assert client.get(reverse("export-download", args=[job.pk])).status_code == 404


def test_files_are_deleted_a_day_later_and_lost_jobs_failed(
    official: User, ledger: None, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        job = export_start(kind="ledger", user=official, title="导出", params={}, total=3)
    job.refresh_from_db()
    assert job.file and Path(job.file.path).exists()
    path = Path(job.file.path)
    lost = ExportJob.objects.create(kind="ledger", title="丢失", created_by=official)
    ExportJob.objects.filter(pk=lost.pk).update(created_at=timezone.now() - dt.timedelta(hours=1))
    assert exports_sweep(now=timezone.now() + dt.timedelta(hours=2)) == 1  # the lost one
    assert exports_sweep(now=timezone.now() + dt.timedelta(days=2)) == 1  # then the file
    job.refresh_from_db()
    lost.refresh_from_db()
    assert not job.file and not path.exists() and "过期" in job.message
    assert lost.status == ExportJob.Status.FAILED


def test_a_small_export_is_written_at_once(
    client: Client, official: User, ledger: None, settings: SettingsWrapper
) -> None:
    settings.EXPORT_INLINE_ROWS = 5000
    response = login(client, official).get(reverse("ledger-export"))
    assert response.status_code == 200 and not ExportJob.objects.exists()
