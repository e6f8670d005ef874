"""Supply imports as background jobs (energy_supply/services/jobs.py, the upload's views): the
page answers at once with the job queued; the job checks and writes each template all or
nothing, lists every error with a copy of the file that marks them; one worker claims it, a
heartbeat shows it alive, and a job whose worker died is queued again once, then failed in
Chinese; the uploader alone sees it; a file over the supply's bounds is refused at the upload."""

from __future__ import annotations

import datetime as dt
import io
import re
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.http import FileResponse
from django.test import Client
from django.test.utils import override_settings
from django.urls import resolve, reverse
from django.utils import timezone
from openpyxl import load_workbook
from pytest_django.fixtures import Settings

from energy_supply import sheets
from energy_supply.models import GasContract, GasNetwork, GridUpgrade, SupplyImport
from energy_supply.services import background, jobs
from energy_supply.services.jobs import supply_import_run, supply_imports_sweep
from energy_supply.sheets import CONTRACT, NETWORK, UPGRADE, Template
from heating.models import User
from retrofits.ledger.jobs import INTERRUPTED
from tests.conftest import login
from tests.test_supply_import import a_contract, a_network, an_upgrade, sheet

pytestmark = pytest.mark.django_db

Row = Callable[..., dict[str, Any]]
# Each template: its rows, the code of the good row, and a wrong row with what is said of it.
TEMPLATES: dict[str, tuple[Template, Row, str, dict[str, Any], list[str]]] = {
    "contracts": (
        CONTRACT, a_contract, "XF-GQ-2023-01", a_contract(合同编号="B", 签订日期="昨天"),
        ["第3行「签订日期」：「昨天」应为日期，如 2023-10-12、2023/10/12 或 2023年10月12日"],
    ),
    "upgrades": (
        UPGRADE, an_upgrade, "DW-2023-001",
        an_upgrade(工程编号="B", 投运日期=dt.date(2099, 1, 1), **{"乡（镇、街道）": "火星镇"}),
        ["第3行「乡（镇、街道）」：「火星镇」不是忻府区的乡（镇、街道）",
         "第3行「投运日期」：投运日期2099-01-01晚于今天"],
    ),
    "networks": (
        NETWORK, a_network, "GW-2023-1", a_network(工程编号="B", 状态="已开工"),
        ["第3行「状态」：「已开工」应为 未开工、施工中、已通气"],
    ),
}  # fmt: skip


def upload(
    client: Client, kind: str, path: Path, capture: Any, *, dry_run: bool = False
) -> SupplyImport:
    """Post the file; the job runs (in-process, as under make run) once the request commits."""
    data = {"dry_run": "on"} if dry_run else {}
    with path.open("rb") as f, capture(execute=True):
        response = client.post(reverse("supply-import", args=[kind]), {"file": f, **data})
    assert response.status_code == 302
    match = resolve(response["Location"])
    assert match.url_name == "supply-import-detail"
    return SupplyImport.objects.get(pk=match.kwargs["pk"])


def page(client: Client, job: SupplyImport) -> str:
    return str(client.get(reverse("supply-import-detail", args=[job.pk])).content.decode())


@pytest.mark.parametrize("kind", list(TEMPLATES))
def test_a_job_checks_imports_and_lists_every_error_for_each_template(
    kind: str, client: Client, official: User, tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    template, good, code, bad, said = TEMPLATES[kind]
    model: Any = template.model
    login(client, official)
    path = sheet(tmp_path, template, [good()])

    checked = upload(client, kind, path, django_capture_on_commit_callbacks, dry_run=True)
    assert (checked.status, checked.dry_run, checked.kind) == ("succeeded", True, kind)
    assert (checked.created_count, checked.total_rows, checked.county) == (1, 1, official.county)
    assert not model.objects.filter(code=code).exists()
    shown = page(client, checked)
    assert "检查通过，未写入（仅检查）" in shown and "新增 1，更新 0，未变 0" in shown
    assert "hx-get" not in shown  # finished: no more polling

    done = upload(client, kind, path, django_capture_on_commit_callbacks)
    assert (done.status, done.created_count, done.message) == ("succeeded", 1, "导入完成。")
    assert model.objects.get(code=code).history.get().history_change_reason == (
        f"导入{template.name}"
    )

    changed = good(**{template.columns[2].header: good()[template.columns[2].header]})
    failed = upload(
        client, kind, sheet(tmp_path, template, [changed, bad], "bad.xlsx"),
        django_capture_on_commit_callbacks,
    )  # fmt: skip
    assert (
        failed.status == "failed" and failed.message == f"共 {len(said)} 处错误，未写入任何数据。"
    )
    assert [f"第{e['row']}行「{e['column']}」：{e['message']}" for e in failed.errors] == said
    assert not model.objects.filter(code="B").exists()
    shown = page(client, failed)
    assert "下载标注错误的文件" in shown and said[0].split("：", 1)[1] in shown
    response = client.get(reverse("supply-import-errors", args=[failed.pk]))
    assert isinstance(response, FileResponse) and response["Content-Disposition"].endswith(".xlsx")
    table = load_workbook(io.BytesIO(b"".join(response.streaming_content)))[template.name]
    rows = [[c.value for c in r] for r in table.iter_rows()]
    assert rows[0] == [c.header for c in template.columns] + ["错误说明"]
    assert rows[1][-1] is None and rows[2][-1] == "；".join(said)


def test_an_uploaded_file_annotated_only_for_a_failed_import(
    client: Client, official: User, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    login(client, official)
    job = upload(
        client, "networks", sheet(tmp_path, NETWORK, [a_network()]),
        django_capture_on_commit_callbacks,
    )  # fmt: skip
    assert job.status == "succeeded" and not job.error_file
    assert client.get(reverse("supply-import-errors", args=[job.pk])).status_code == 404


def test_the_page_answers_at_once_while_the_job_is_queued(
    client: Client, official: User, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing of the file is parsed in the request: it is kept and queued (the worker runs it,
    and in this test nobody does until the end)."""

    def parsed(*args: object, **kwargs: object) -> Any:
        raise AssertionError("the request parsed the file")

    monkeypatch.setattr(sheets, "read_sheet", parsed)
    monkeypatch.setattr(jobs, "read_supply_file", parsed)
    login(client, official)
    path = sheet(tmp_path, NETWORK, [a_network()])
    started = time.monotonic()
    with path.open("rb") as f:
        response = client.post(reverse("supply-import", args=["networks"]), {"file": f})
    assert response.status_code == 302 and time.monotonic() - started < 2
    job = SupplyImport.objects.get()
    assert (job.status, job.created_by, job.kind) == ("pending", official, "networks")
    shown = page(client, job)
    assert "排队中" in shown and "<progress" in shown and "hx-get" in shown
    polled = client.get(reverse("supply-import-detail", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert "<html" not in polled.content.decode() and "排队中" in polled.content.decode()
    monkeypatch.undo()
    supply_import_run(job_id=job.pk)
    shown = page(client, job)
    assert "导入完成" in shown and "hx-get" not in shown
    assert GasNetwork.objects.filter(code="GW-2023-1").exists()


# ---------------------------------------------------------------- access


def test_a_county_official_imports_only_their_countys_rows(
    client: Client, official: User, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    theirs = an_upgrade(
        工程编号="YP-1",
        **{"县（市、区）": "原平市", "乡（镇、街道）": "北城街道", "村（社区）": None},
    )
    login(client, official)
    job = upload(
        client, "upgrades", sheet(tmp_path, UPGRADE, [an_upgrade(), theirs]),
        django_capture_on_commit_callbacks,
    )  # fmt: skip
    assert job.status == "failed"
    assert [(e["row"], e["column"], e["message"]) for e in job.errors] == [
        (3, "县（市、区）", "只能导入本县（市、区）的电网改造工程")
    ]
    assert not GridUpgrade.objects.filter(code="DW-2023-001").exists()


def test_another_countys_job_is_not_found(
    client: Client, official: User, other_official: User, municipal: User, tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    login(client, official)
    bad = a_contract(签订日期="昨天")
    job = upload(
        client, "contracts", sheet(tmp_path, CONTRACT, [bad]), django_capture_on_commit_callbacks
    )
    assert job.error_file
    for someone in (other_official, municipal):
        login(client, someone)
        assert client.get(reverse("supply-import-detail", args=[job.pk])).status_code == 404
        assert client.get(reverse("supply-import-errors", args=[job.pk])).status_code == 404
        assert (
            "「昨天」"
            not in client.get(reverse("supply-import", args=["contracts"])).content.decode()
        )
    client.logout()
    response = client.get(reverse("supply-import-detail", args=[job.pk]))
    assert response["Location"].startswith(reverse("login"))


def test_the_job_pages_refuse_wrong_methods_and_those_who_keep_no_supply(
    client: Client, official: User, inspector: User, tmp_path: Path
) -> None:
    job = SupplyImport.objects.create(kind="networks", original_name="a.xlsx", created_by=official)
    login(client, official)
    assert client.post(reverse("supply-import-detail", args=[job.pk])).status_code == 405
    assert client.post(reverse("supply-import-errors", args=[job.pk])).status_code == 405
    assert client.get(reverse("supply-import-detail", args=[job.pk + 1])).status_code == 404
    login(client, inspector)
    with sheet(tmp_path, NETWORK, [a_network()]).open("rb") as f:
        response = client.post(reverse("supply-import", args=["networks"]), {"file": f})
    assert response.status_code == 403 and SupplyImport.objects.count() == 1


# ---------------------------------------------------------------- the supply's bounds


def test_a_file_over_the_supply_row_limit_is_refused_before_parsing(
    client: Client, official: User, tmp_path: Path, settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    settings.MAX_SUPPLY_ROWS = 3
    monkeypatch.setattr(sheets, "read_sheet", lambda *a, **k: pytest.fail("parsed"))
    # The header may stand below a title: the size the sheet declares has five rows of slack.
    rows = [a_network(工程编号=f"NEW-{i}") for i in range(9)]
    login(client, official)
    with sheet(tmp_path, NETWORK, rows).open("rb") as f:
        response = client.post(reverse("supply-import", args=["networks"]), {"file": f})
    assert response.status_code == 200
    assert "文件有 10 行，超过每次导入 3 行的上限" in response.content.decode()
    lines = "工程编号\n" + "".join(f"GW-{i}\n" for i in range(9))
    csv = ContentFile(lines.encode(), name="many.csv")
    response = client.post(reverse("supply-import", args=["networks"]), {"file": csv})
    assert "超过每次导入 3 行的上限" in response.content.decode()
    assert not SupplyImport.objects.exists()


def without_dimension(path: Path) -> Path:
    """The file as some writers save it: the sheet does not declare its size."""
    out = path.with_name("undeclared.xlsx")
    with zipfile.ZipFile(path) as book, zipfile.ZipFile(out, "w") as copy:
        for item in book.infolist():
            data = book.read(item)
            if item.filename.startswith("xl/worksheets/"):
                data = re.sub(rb"<dimension[^>]*/>", b"", data)
            copy.writestr(item, data)
    return out


def test_a_file_that_hides_its_size_is_refused_once_its_rows_are_counted(
    client: Client, official: User, tmp_path: Path, settings: Settings,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    settings.MAX_SUPPLY_ROWS = 3
    rows = [a_network(工程编号=f"NEW-{i}") for i in range(4)]
    login(client, official)
    path = without_dimension(sheet(tmp_path, NETWORK, rows))
    job = upload(client, "networks", path, django_capture_on_commit_callbacks)
    assert job.status == "failed" and job.message.startswith("文件有 4 行，超过每次导入 3 行的上限")
    assert not job.file and not GasNetwork.objects.filter(code__startswith="NEW-").exists()


# ---------------------------------------------------------------- claimed once, swept if lost


@pytest.fixture
def queued(tmp_path: Path, official: User) -> SupplyImport:
    job = SupplyImport(
        kind="networks", original_name="n.xlsx", created_by=official, county=official.county
    )
    data = sheet(tmp_path, NETWORK, [a_network()]).read_bytes()
    job.file.save("n.xlsx", ContentFile(data), save=False)
    job.save()
    return job


def lost(job: SupplyImport, *, attempts: int) -> SupplyImport:
    """The job as a worker killed mid-import leaves it."""
    SupplyImport.objects.filter(pk=job.pk).update(
        status="running",
        attempts=attempts,
        heartbeat_at=timezone.now() - dt.timedelta(minutes=5),
        phase="逐行检查",
    )
    return SupplyImport.objects.get(pk=job.pk)


def test_a_job_is_run_by_the_worker_that_claims_it_and_only_once(queued: SupplyImport) -> None:
    supply_import_run(job_id=queued.pk)
    queued.refresh_from_db()
    assert (queued.status, queued.attempts) == ("succeeded", 1)
    supply_import_run(job_id=queued.pk)  # the message delivered again
    queued.refresh_from_db()
    assert queued.attempts == 1 and GasNetwork.objects.get(code="GW-2023-1").version == 0


def test_a_job_another_worker_runs_is_left_to_it(queued: SupplyImport) -> None:
    SupplyImport.objects.filter(pk=queued.pk).update(status="running", heartbeat_at=timezone.now())
    supply_import_run(job_id=queued.pk)
    assert not GasNetwork.objects.filter(code="GW-2023-1").exists()
    assert supply_imports_sweep() == 0  # it beats: alive


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_a_job_whose_worker_died_is_queued_again_then_runs(
    queued: SupplyImport, django_capture_on_commit_callbacks: Any
) -> None:
    lost(queued, attempts=1)
    with django_capture_on_commit_callbacks() as queued_again:
        assert supply_imports_sweep() == 1
    assert len(queued_again) == 1  # run_supply_import.delay(job)
    queued.refresh_from_db()
    assert queued.status == "pending" and queued.processed_rows == 0
    supply_import_run(job_id=queued.pk)
    queued.refresh_from_db()
    assert (queued.status, queued.attempts) == ("succeeded", 2)


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_a_job_interrupted_twice_fails_in_chinese(
    client: Client, official: User, queued: SupplyImport
) -> None:
    lost(queued, attempts=2)
    shown = page(login(client, official), queued)
    queued.refresh_from_db()
    assert queued.status == "failed" and queued.message == INTERRUPTED
    assert "处理中断" in shown and "<progress" not in shown


def test_without_a_worker_an_interrupted_job_fails_at_once(queued: SupplyImport) -> None:
    """Under make run the server itself ran it: a retry would run inside a page view."""
    lost(queued, attempts=1)
    assert supply_imports_sweep() == 1
    queued.refresh_from_db()
    assert queued.status == "failed" and queued.message == INTERRUPTED


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_a_queued_job_nobody_claimed_is_queued_again(
    queued: SupplyImport, django_capture_on_commit_callbacks: Any
) -> None:
    SupplyImport.objects.filter(pk=queued.pk).update(
        created_at=timezone.now() - dt.timedelta(hours=1)
    )
    with django_capture_on_commit_callbacks() as queued_again:
        assert supply_imports_sweep() == 1
    assert len(queued_again) == 1
    assert supply_imports_sweep() == 0  # queued anew, its clock restarted


def test_a_failure_to_write_the_error_file_still_finishes_the_job(
    queued: SupplyImport, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bad = sheet(tmp_path, NETWORK, [a_network(状态="完成")], "bad.xlsx").read_bytes()
    queued.file.save("bad.xlsx", ContentFile(bad))

    def broken(*args: object, **kwargs: object) -> bytes:
        raise OSError("disk full")

    monkeypatch.setattr(jobs, "write_annotated", broken)
    supply_import_run(job_id=queued.pk)
    queued.refresh_from_db()
    assert queued.status == "failed" and queued.error_count == 1
    assert "错误标注文件未能生成" in queued.message and not queued.error_file


def test_a_system_error_fails_the_job_and_is_raised(
    queued: SupplyImport, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**kwargs: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(jobs, "supply_rows_import", broken)
    with pytest.raises(RuntimeError):
        supply_import_run(job_id=queued.pk)
    queued.refresh_from_db()
    assert queued.status == "failed" and "系统错误" in queued.message


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_running_job_beats(queued: SupplyImport, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(background, "HEARTBEAT", dt.timedelta(seconds=0.05))
    beats: list[dt.datetime | None] = []
    real = jobs.supply_rows_import

    def slow(**kwargs: Any) -> Any:
        first = SupplyImport.objects.get(pk=queued.pk).heartbeat_at
        time.sleep(0.5)
        beats.extend([first, SupplyImport.objects.get(pk=queued.pk).heartbeat_at])
        return real(**kwargs)

    monkeypatch.setattr(jobs, "supply_rows_import", slow)
    supply_import_run(job_id=queued.pk)
    first, later = beats
    assert first is not None and later is not None and later > first
    assert GasContract.objects.exists()  # the reference data is back for the next tests
