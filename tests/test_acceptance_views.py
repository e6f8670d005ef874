"""Inspectors' pages: the worklist, the visit form, photos and the removal form, per role."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from acceptance.models import Inspection, InspectionPhoto, Project
from heating.models import County, PersonalDataAccess, User
from retrofits.choices import Stage
from retrofits.models import Household, TenderItem
from tests.conftest import login
from tests.images import JPEG
from tests.ledger_files import row, xlsx, yuanping_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def done(tmp_path: Path, tender: list[TenderItem]) -> Household:
    yuanping = yuanping_row(
        取暖路径="集中供热", 设备型号=None, 实施进度="已完工", 完工日期=dt.date(2023, 10, 1)
    )
    rows = [row(实施进度="已完工", 完工日期=dt.date(2023, 10, 10)), yuanping]
    call_command("import_ledger", str(xlsx(tmp_path, rows)), stdout=io.StringIO())
    return Household.objects.get(code="XF-0001")


def visit_data(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "visited_at": "2023-10-20T10:00",
        "result": "passed",
        "check_model_matches": "on",
        "check_installed": "on",
        "check_temperature": "on",
        "check_wiring": "on",
    }
    data.update(changes)
    return data


def test_worklist_lists_the_inspectors_households(
    client: Client, inspector: User, done: Household
) -> None:
    page = login(client, inspector).get(reverse("worklist")).content.decode()
    assert "XF-0001" in page and "YP-1" not in page
    assert "XF-0001" not in client.get(reverse("worklist"), {"q": "不存在"}).content.decode()


@pytest.mark.parametrize("typed", ["张", "张三", "0001", "XF-0001", "辛庄", "奇村"])
def test_the_worklist_finds_as_the_inspector_types(
    client: Client, inspector: User, done: Household, typed: str
) -> None:
    """A surname, a code's tail, part of a village's or township's name (as the household list)."""
    page = login(client, inspector).get(reverse("worklist"), {"q": typed}).content.decode()
    assert "XF-0001" in page


@pytest.mark.parametrize("actor", ["official", "municipal"])
def test_worklist_is_for_inspectors(
    client: Client, request: pytest.FixtureRequest, actor: str
) -> None:
    assert login(client, request.getfixturevalue(actor)).get(reverse("worklist")).status_code == 403


@pytest.mark.parametrize(
    ("actor", "code", "status"),
    [
        ("inspector", "XF-0001", 200),
        ("inspector", "YP-1", 404),
        ("official", "XF-0001", 403),
        ("municipal", "YP-1", 403),
    ],
)
def test_only_the_countys_inspectors_open_the_visit_form(
    client: Client,
    request: pytest.FixtureRequest,
    done: Household,
    actor: str,
    code: str,
    status: int,
) -> None:
    household = Household.objects.get(code=code)
    response = login(client, request.getfixturevalue(actor)).get(
        reverse("visit", args=[household.pk])
    )
    assert response.status_code == status


def test_a_failing_visit_with_photos_then_a_passing_revisit(
    client: Client, inspector: User, other_official: User, done: Household
) -> None:
    login(client, inspector)
    photos = [SimpleUploadedFile(f"{n}.jpg", JPEG, content_type="image/jpeg") for n in "ab"]
    failing = visit_data(
        result="failed",
        check_temperature="",
        defect_0="室温不达标",
        rectify_by_0="2023-10-28",
        photos=photos,
    )
    response = client.post(reverse("visit", args=[done.pk]), failing)
    assert response.status_code == 302
    done.refresh_from_db()
    assert done.stage == Stage.COMPLETED
    assert InspectionPhoto.objects.count() == 2

    response = client.post(
        reverse("visit", args=[done.pk]), visit_data(visited_at="2023-10-29T09:30")
    )
    assert response.status_code == 302
    done.refresh_from_db()
    assert done.stage == Stage.ACCEPTED
    assert done.accepted_on == dt.date(2023, 10, 29)
    page = client.get(reverse("household-detail", args=[done.pk])).content.decode()
    assert "<dt>验收日期</dt><dd>2023年10月29日</dd>" in page
    assert "不合格" in page and "合格" in page and "室温不达标" in page and "已复验" in page
    photo = InspectionPhoto.objects.first()
    assert photo is not None
    assert client.get(reverse("inspection-photo", args=[photo.pk]))["Content-Type"] == "image/jpeg"
    client.logout()
    assert (
        login(client, other_official).get(reverse("inspection-photo", args=[photo.pk])).status_code
        == 404
    )


def test_a_bad_visit_keeps_what_was_typed(client: Client, inspector: User, done: Household) -> None:
    response = login(client, inspector).post(
        reverse("visit", args=[done.pk]), visit_data(result="failed", co_inspectors="王工")
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "不合格须列出问题和整改期限" in page
    assert 'value="王工"' in page
    assert not Inspection.objects.exists()


def test_removal_too_early_is_refused_with_the_date(
    client: Client, inspector: User, official: User, done: Household
) -> None:
    login(client, inspector).post(
        reverse("visit", args=[done.pk]), visit_data(visited_at="2023-10-29T09:30")
    )
    client.logout()
    login(client, official)
    response = client.post(
        reverse("heating-removal", args=[done.pk]), {"removed_on": "2024-03-31"}, follow=True
    )
    assert "2024年04月01日起方可拆除原有取暖设施" in response.content.decode()
    response = client.post(
        reverse("heating-removal", args=[done.pk]), {"removed_on": "2024-04-01"}, follow=True
    )
    assert "已于 2024年4月1日 拆除" in response.content.decode()


def test_the_acceptance_ledger_lists_visits_and_flags_the_window(
    client: Client, inspector: User, municipal: User, official: User, done: Household
) -> None:
    login(client, inspector)
    client.post(reverse("visit", args=[done.pk]), visit_data(result="failed", check_temperature="",
                defect_0="室温不达标", rectify_by_0="2023-10-28", visited_at="2023-10-10T10:00"))  # fmt: skip
    client.post(reverse("visit", args=[done.pk]), visit_data(visited_at="2023-10-29T09:30"))
    for user in (municipal, official, inspector):
        client.logout()
        response = login(client, user).get(
            reverse("acceptance-ledger"), {"start": "2023-10-01", "end": "2023-10-31"}
        )
        sheet = load_workbook(io.BytesIO(response.content)).active
        rows = list(sheet.iter_rows(min_row=3, values_only=True))
        assert [r[9] for r in rows] == ["不合格", "合格"]
        assert rows[0][15] == "是"  # 10/10 is before the 10/15–10/31 window
        assert rows[1][15] is None and rows[0][14] == "是"
    page = client.get(reverse("household-detail", args=[done.pk])).content.decode()
    assert "验收窗口外" in page


def test_the_acceptance_ledger_runs_nothing_people_typed_as_a_formula(
    client: Client, inspector: User, municipal: User, done: Household
) -> None:
    hyperlink = '=HYPERLINK("http://example.com/x","点击")'
    command = "=cmd|' /C calc'!A0"
    login(client, inspector).post(
        reverse("visit", args=[done.pk]),
        visit_data(supervision_unit=hyperlink, co_inspectors=command),
    )
    client.logout()
    response = login(client, municipal).get(
        reverse("acceptance-ledger"), {"start": "2023-10-01", "end": "2023-10-31"}
    )
    sheet = load_workbook(io.BytesIO(response.content)).active
    cells = [c for row in sheet.iter_rows(min_row=3) for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    values = [c.value for c in cells]
    assert "'" + hyperlink in values and "'" + command in values


def test_the_acceptance_ledger_stays_in_the_users_counties(
    client: Client, other_official: User, done: Household
) -> None:
    login(client, other_official)
    xinfu = Household.objects.get(code="XF-0001").county
    assert client.get(reverse("acceptance-ledger"), {"county": xinfu.pk}).status_code == 404
    assert client.get(reverse("acceptance-ledger"), {"start": "10/1"}).status_code == 400


def test_an_inspector_accepts_a_town_building_project(
    client: Client, inspector: User, official: User
) -> None:
    project = Project.objects.create(
        county=County.objects.get(short_name="忻府区"),
        kind=Project.Kind.BUILDING_TOWN,
        name="秀容小区节能改造",
        area_m2=52000,
    )
    login(client, inspector)
    assert "秀容小区节能改造" in client.get(reverse("worklist")).content.decode()
    url = reverse("project-visit", args=[project.pk])
    data = {"visited_at": "2023-10-25T10:00", "result": "passed", "efficiency_gain_pct": "25"}
    response = client.post(url, data)
    assert "能效须提升30%以上" in response.content.decode()
    assert client.post(url, {**data, "efficiency_gain_pct": "32"}).status_code == 302
    project.refresh_from_db()
    assert project.accepted_on is not None
    assert list(client.get(reverse("worklist")).context["projects"]) == []
    client.logout()
    assert login(client, official).get(url).status_code == 403


def test_a_project_visits_photo_is_served_to_those_who_see_the_project(
    client: Client, inspector: User, other_official: User, municipal: User
) -> None:
    grid = Project.objects.create(
        county=County.objects.get(short_name="定襄县"),
        kind=Project.Kind.GRID_UPGRADE,
        name="配变增容",
    )
    jpeg = SimpleUploadedFile("a.jpg", JPEG, content_type="image/jpeg")
    login(client, inspector).post(
        reverse("project-visit", args=[grid.pk]),
        {"visited_at": "2023-10-20T10:00", "result": "passed", "photos": [jpeg]},
    )
    photo = InspectionPhoto.objects.get(inspection__project=grid)
    url = reverse("inspection-photo", args=[photo.pk])
    assert client.get(url).status_code == 200  # the inspector who took it
    assert login(Client(), municipal).get(url).status_code == 200
    assert login(Client(), other_official).get(url).status_code == 404


def test_a_visit_in_a_year_with_no_plan_is_flagged_outside_the_window(
    client: Client, inspector: User, municipal: User, done: Household
) -> None:
    login(client, inspector)
    client.post(reverse("visit", args=[done.pk]), visit_data(visited_at="2022-10-20T10:00"))
    page = client.get(reverse("household-detail", args=[done.pk])).content.decode()
    assert "验收窗口外" in page  # there is no 2022 plan, so no window to be in
    response = login(client, municipal).get(reverse("acceptance-ledger"))
    rows = list(
        load_workbook(io.BytesIO(response.content)).active.iter_rows(min_row=3, values_only=True)
    )
    assert rows[0][15] == "是"


def test_a_failing_visit_without_defects_says_so_beside_the_defect_rows(
    client: Client, inspector: User, done: Household
) -> None:
    response = login(client, inspector).post(
        reverse("visit", args=[done.pk]), visit_data(result="failed", check_temperature="")
    )
    page = response.content.decode()
    defects = page[page.index("<legend>问题与整改期限") :]
    assert 'data-testid="defect-errors">不合格须列出问题和整改期限' in defects
    assert not response.context["form"].non_field_errors()
    assert "<label>问题1" in page and "<label>整改期限" in page  # every box says what it is


def test_the_inspector_calls_the_households_on_the_worklist_and_each_look_is_kept(
    client: Client, inspector: User, done: Household
) -> None:
    """An inspector of the county sees the phone numbers of the households awaiting their visit in
    full, to arrange it; the ID number stays masked, and the dossier masks the phone as before."""
    login(client, inspector)
    worklist = client.get(reverse("worklist")).content.decode()
    assert f'href="tel:{done.phone}"' in worklist
    visit_page = client.get(reverse("visit", args=[done.pk])).content.decode()
    assert f'href="tel:{done.phone}"' in visit_page and done.id_number not in visit_page
    dossier = client.get(reverse("household-detail", args=[done.pk])).content.decode()
    assert done.phone not in dossier
    kept = PersonalDataAccess.objects.filter(user=inspector, kind=PersonalDataAccess.Kind.CONTACT)
    assert list(kept.values_list("households", flat=True)) == [1, 1]


def test_another_countys_inspector_never_sees_the_household(
    client: Client, done: Household
) -> None:
    from heating.models import Role
    from heating.services import user_create
    from tests.conftest import PASSWORD, county

    other = user_create(
        username="yp-ys", password=PASSWORD, role=Role.INSPECTOR, counties=[county("原平市")]
    )
    page = login(client, other).get(reverse("worklist")).content.decode()
    assert done.code not in page and "YP-1" in page  # their own county's households only
    assert client.get(reverse("visit", args=[done.pk])).status_code == 404


def test_a_revisit_shows_the_open_defects_and_the_dossier_at_the_top(
    client: Client, inspector: User, done: Household
) -> None:
    login(client, inspector)
    url = reverse("visit", args=[done.pk])
    failing = visit_data(result="failed", check_temperature="", defect_0="室温不达标",
                         rectify_by_0="2023-10-28")  # fmt: skip
    assert client.post(url, failing).status_code == 302
    page = client.get(url).content.decode()
    defects = page.split('data-testid="open-defects"', 1)[1].split("</section>", 1)[0]
    assert "室温不达标" in defects and "2023-10-28" in defects
    assert page.index('data-testid="open-defects"') < page.index("visit-form")
    assert reverse("household-detail", args=[done.pk]) in page


def test_a_saved_visit_goes_back_to_the_worklist_page_it_came_from(
    client: Client, inspector: User, done: Household
) -> None:
    login(client, inspector)
    url = reverse("visit", args=[done.pk])
    # Anywhere but the worklist is not where it goes.
    failing = visit_data(result="failed", check_temperature="", defect_0="室温不达标",
                         rectify_by_0="2023-10-28", back="https://evil.example/")  # fmt: skip
    assert client.post(url, failing)["Location"] == reverse("worklist")
    back = reverse("worklist") + "?q=%E5%BC%A0&page=1"
    response = client.post(url, {**visit_data(visited_at="2023-10-29T10:00"), "back": back})
    assert response["Location"] == back
    page = client.get(back).content.decode()
    assert "已记录验收" in page and reverse("household-detail", args=[done.pk]) in page


def test_errors_are_summed_up_above_the_form(
    client: Client, inspector: User, done: Household
) -> None:
    login(client, inspector)
    page = client.post(
        reverse("visit", args=[done.pk]), visit_data(result="failed", check_temperature="")
    ).content.decode()
    summary = page.split('data-testid="error-summary"', 1)[1].split("</div>", 1)[0]
    assert "不合格须列出问题和整改期限" in summary
    assert page.index('data-testid="error-summary"') < page.index("visit-form")
