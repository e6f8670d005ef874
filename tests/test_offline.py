"""Working offline, the server's side: a visit from a phone's outbox is keyed by the id the phone
gave it (sent again with the same content it is the same visit; with other content it is refused
in Chinese), follows the rules of an online visit, and is answered in JSON; the service worker is
served for the whole site; a village's pages can be taken along."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from acceptance.models import Inspection, InspectionPhoto
from acceptance.services import visit_submit
from heating.models import User
from retrofits.models import Household, TenderItem
from retrofits.services import household_save
from tests.conftest import login
from tests.images import JPEG, PNG
from tests.ledger_files import IDS, row, xlsx, yuanping_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def done(tmp_path: Path, tender: list[TenderItem]) -> Household:
    rows = [
        row(实施进度="已完工", 完工日期=dt.date(2023, 10, 10)),
        row(户编号="XF-0002", 身份证号=IDS[1], 户主姓名="李四", 实施进度="已完工",
            完工日期=dt.date(2023, 10, 10)),
        yuanping_row(取暖路径="集中供热", 设备型号=None, 实施进度="已完工",
                     完工日期=dt.date(2023, 10, 1)),
    ]  # fmt: skip
    call_command("import_ledger", str(xlsx(tmp_path, rows)), stdout=io.StringIO())
    return Household.objects.get(code="XF-0001")


def record(household: Household, client_id: uuid.UUID | str, **changes: object) -> dict[str, Any]:
    """A passing visit as the outbox sends it: the form's fields, its id, a photo."""
    data: dict[str, Any] = {
        "visited_at": "2023-10-20T10:00",
        "result": "passed",
        "check_model_matches": "on",
        "check_installed": "on",
        "check_temperature": "on",
        "check_wiring": "on",
        "seen_version": str(household.version),
        "client_id": str(client_id),
        "notes": "入户核验",
        "photos": [SimpleUploadedFile("front.jpg", JPEG, content_type="image/jpeg")],
    }
    data.update(changes)
    return data


def send(client: Client, household: Household, data: dict[str, Any]) -> Any:
    return client.post(reverse("visit", args=[household.pk]), data, HTTP_X_OUTBOX="1")


def test_a_record_sent_twice_is_recorded_once(
    client: Client, inspector: User, done: Household
) -> None:
    login(client, inspector)
    key = uuid.uuid4()
    first = send(client, done, record(done, key))
    assert first.status_code == 201
    assert first.json()["state"] == "accepted" and first.json()["replayed"] is False
    # The phone never heard the answer and sends the same record again (its version is old now).
    again = send(client, done, record(done, key))
    assert again.status_code == 200
    assert again.json() == {**first.json(), "replayed": True}
    assert Inspection.objects.count() == 1 and InspectionPhoto.objects.count() == 1
    visit = Inspection.objects.get()
    assert visit.client_id == key and len(visit.content_digest) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"notes": "改过的说明"},
        {"visited_at": "2023-10-20T11:00"},
        {"photos": [SimpleUploadedFile("front.png", PNG, content_type="image/png")]},
    ],
)
def test_a_changed_copy_of_a_record_is_refused_in_chinese(
    client: Client, inspector: User, done: Household, change: dict[str, object]
) -> None:
    login(client, inspector)
    key = uuid.uuid4()
    assert send(client, done, record(done, key)).status_code == 201
    done.refresh_from_db()
    changed = send(client, done, record(done, key, **change))
    assert changed.status_code == 422
    answer = changed.json()
    assert answer["state"] == "refused"
    assert "内容与已同步的不同，未保存" in answer["reason"]
    assert Inspection.objects.count() == 1 and InspectionPhoto.objects.count() == 1


def test_an_id_is_one_inspectors_own(client: Client, inspector: User, done: Household) -> None:
    from heating.models import County, Role
    from heating.services import user_create

    colleague = user_create(
        username="ys2", password="x-Long-pass-1", role=Role.INSPECTOR,
        counties=[County.objects.get(short_name="忻府区")],
    )  # fmt: skip
    key = uuid.uuid4()
    assert send(login(client, inspector), done, record(done, key)).status_code == 201
    response = send(login(Client(), colleague), done, record(done, key))
    assert response.status_code == 422 and "未保存" in response.json()["reason"]
    assert Inspection.objects.get().inspector == inspector


def test_a_record_of_a_household_changed_meanwhile_is_refused_with_the_version_message(
    client: Client, inspector: User, official: User, done: Household
) -> None:
    seen = done.version
    done.notes = "县里补充了备注"
    household_save(household=done, user=official, reason="补充")
    response = send(login(client, inspector), done, record(done, uuid.uuid4(), seen_version=seen))
    assert response.status_code == 422
    assert response.json() == {"state": "refused", "reason": "该户已被他人修改，请刷新后重试"}
    assert not Inspection.objects.exists()


def test_an_outbox_record_follows_the_rules_of_a_visit(
    client: Client, inspector: User, done: Household
) -> None:
    login(client, inspector)
    failing = record(done, uuid.uuid4(), result="failed", check_temperature="")
    response = send(client, done, failing)
    assert response.status_code == 422
    assert "不合格须列出问题和整改期限" in response.json()["reason"]
    bad = send(client, done, record(done, uuid.uuid4(), visited_at="昨天"))
    assert bad.status_code == 422 and bad.json()["reason"].startswith("验收时间：")
    assert not Inspection.objects.exists()


def test_an_outbox_record_of_a_household_out_of_reach_is_refused_in_json(
    client: Client, inspector: User, official: User, done: Household
) -> None:
    yuanping = Household.objects.get(code="YP-1")
    response = send(login(client, inspector), yuanping, record(yuanping, uuid.uuid4()))
    assert response.status_code == 404 and response.json()["state"] == "refused"
    assert "不在您负责验收的范围内" in response.json()["reason"]
    # An official may not inspect at all: refused too, in words the outbox can show.
    response = send(login(Client(), official), done, record(done, uuid.uuid4()))
    assert response.status_code == 404 and response.json()["state"] == "refused"
    # Not from the outbox, the pages answer as before.
    plain = login(Client(), inspector).post(reverse("visit", args=[yuanping.pk]), {})
    assert plain.status_code == 404
    assert not Inspection.objects.exists()


def test_the_online_form_sent_twice_with_its_id_saves_once(
    client: Client, inspector: User, done: Household
) -> None:
    """visit.js gives the form an id before posting: a post whose answer was lost, sent again
    (or queued and synced later), is the same visit."""
    login(client, inspector)
    key = uuid.uuid4()
    url = reverse("visit", args=[done.pk])
    assert client.post(url, record(done, key), HTTP_X_VISIT_FORM="fetch").status_code == 204
    assert client.post(url, record(done, key), HTTP_X_VISIT_FORM="fetch").status_code == 204
    assert Inspection.objects.count() == 1


def test_the_service_knows_a_replay_from_a_new_record(inspector: User, done: Household) -> None:
    from django.utils import timezone

    from acceptance.rules import CHECKLISTS

    key = uuid.uuid4()
    visit: dict[str, Any] = {
        "household": done, "inspector": inspector, "passed": True,
        "visited_at": timezone.make_aware(dt.datetime(2023, 10, 20, 10)),
        "checklist": {code: True for code, _ in CHECKLISTS["electric"]},
    }  # fmt: skip
    first = visit_submit(client_id=key, **visit)
    second = visit_submit(client_id=key, **visit)
    assert first.created and not second.created
    assert first.inspection == second.inspection
    assert visit_submit(client_id=None, **{**visit, "household": Household.objects.get(
        code="XF-0002")}).created  # fmt: skip


def test_the_service_worker_is_served_for_the_whole_site(
    client: Client, inspector: User, official: User
) -> None:
    response = login(client, inspector).get(reverse("service-worker"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert b"heating-pages-v1" in response.content
    anonymous = Client().get(reverse("service-worker"))
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


def test_inspectors_pages_load_the_outbox_and_others_do_not(
    client: Client, inspector: User, official: User, done: Household
) -> None:
    page = login(client, inspector).get(reverse("worklist")).content.decode()
    assert 'src="/static/js/outbox.js"' in page and 'data-user="yanshou"' in page
    assert 'data-sw="/acceptance/sw.js"' in page and "data-logout" in page
    assert "待同步记录" in page and "清除浏览器数据" in page
    assert "<script>" not in page  # nothing inline: the policy allows scripts from files only
    visit = client.get(reverse("visit", args=[done.pk])).content.decode()
    assert 'data-outbox-kind="acceptance"' in visit and 'name="client_id"' in visit
    other = login(Client(), official).get(reverse("household-list")).content.decode()
    assert "outbox.js" not in other


def test_the_outbox_page_is_an_inspectors(client: Client, inspector: User, official: User) -> None:
    page = login(client, inspector).get(reverse("outbox"))
    assert page.status_code == 200 and "立即同步" in page.content.decode()
    assert login(Client(), official).get(reverse("outbox")).status_code == 403


def test_a_village_is_taken_along_with_its_forms_and_dossiers(
    client: Client, inspector: User, official: User, done: Household
) -> None:
    login(client, inspector)
    worklist = client.get(reverse("worklist")).content.decode()
    assert f'<option value="{done.village_id}">' in worklist and "（2 户）" in worklist
    answer = client.get(reverse("offline-manifest"), {"village": done.village_id}).json()
    second = Household.objects.get(code="XF-0002")
    assert answer["households"] == 2 and "辛庄" in answer["name"]
    assert set(answer["pages"]) == {
        f"/acceptance/?village={done.village_id}",
        f"/acceptance/households/{done.pk}/visit/",
        f"/households/{done.pk}/",
        f"/acceptance/households/{second.pk}/visit/",
        f"/households/{second.pk}/",
    }
    # The village's worklist, as the phone keeps it.
    only = client.get(reverse("worklist"), {"village": done.village_id}).content.decode()
    assert "XF-0001" in only and "XF-0002" in only
    yuanping = Household.objects.get(code="YP-1")
    other = client.get(reverse("offline-manifest"), {"village": yuanping.village_id})
    assert other.status_code == 400 and "没有您待验收" in other.content.decode()
    assert client.get(reverse("offline-manifest")).status_code == 400
    assert client.get(reverse("offline-manifest"), {"village": "²"}).status_code == 400
    assert client.get(reverse("worklist"), {"village": "²"}).status_code == 400
    assert (
        login(Client(), official)
        .get(reverse("offline-manifest"), {"village": done.village_id})
        .status_code
        == 403
    )
