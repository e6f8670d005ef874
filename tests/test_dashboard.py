"""The dashboards: figures from the rollups, scoped to the user's counties, the progress export."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from heating.models import County, Township, User
from retrofits.choices import Stage
from retrofits.models import Household, TenderItem
from retrofits.rollups import rollup_run
from tests.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def rolled_up(tender: list[TenderItem]) -> None:
    call_command("generate_households", "--scale", "0.01", stdout=io.StringIO())
    rollup_run()


def pk(short_name: str) -> int:
    return County.objects.get(short_name=short_name).pk


def test_city_dashboard_shows_the_rollup(client: Client, municipal: User, rolled_up: None) -> None:
    response = login(client, municipal).get(reverse("dashboard"))
    page = response.content.decode()
    completed = Household.objects.filter(stage__in=[Stage.COMPLETED, Stage.ACCEPTED]).count()
    assert response.status_code == 200
    assert 'data-testid="target">209,683<' in page
    assert f'data-testid="completed">{completed:,}<' in page
    assert len(response.context["rows"]) == 16
    assert response.context["charts"]["funnel"][0]["value"] == Household.objects.count()


def test_every_county_is_overdue_or_done_after_its_deadline(
    client: Client, municipal: User, rolled_up: None
) -> None:
    rows = login(client, municipal).get(reverse("dashboard")).context["rows"]
    assert {status.label for _, _, status, _ in rows} == {"逾期"}  # 2023's works ended long ago
    # and every county's 已完工 households are now overdue for acceptance
    overdue = {c.county.short_name: n for c, _, _, n in rows}
    assert sum(overdue.values()) == Household.objects.filter(stage=Stage.COMPLETED).count()


@pytest.mark.parametrize("actor", ["official", "inspector"])
def test_county_roles_land_on_their_county(
    client: Client, request: pytest.FixtureRequest, actor: str
) -> None:
    response = login(client, request.getfixturevalue(actor)).get(reverse("dashboard"))
    assert response["Location"] == reverse("county", args=[pk("忻府区")])


@pytest.mark.parametrize(
    ("actor", "county", "status"),
    [
        ("official", "忻府区", 200),
        ("official", "原平市", 404),
        ("inspector", "定襄县", 200),
        ("municipal", "原平市", 200),
    ],
)
def test_county_dashboard_is_404_outside_the_users_counties(
    client: Client,
    request: pytest.FixtureRequest,
    rolled_up: None,
    actor: str,
    county: str,
    status: int,
) -> None:
    user = request.getfixturevalue(actor)
    assert login(client, user).get(reverse("county", args=[pk(county)])).status_code == status


def test_drill_down_to_townships_and_villages(
    client: Client, official: User, rolled_up: None
) -> None:
    login(client, official)
    county_page = client.get(reverse("county", args=[pk("忻府区")]))
    townships = county_page.context["townships"]
    assert (
        sum(t.figures.households for t in townships)
        == Household.objects.filter(county__short_name="忻府区").count()
    )
    first = next(t for t in townships if t.figures.households)
    village_page = client.get(reverse("dashboard-township", args=[first.pk]))
    assert (
        sum(v.figures.households for v in village_page.context["places"])
        == first.figures.households
    )
    other = Township.objects.filter(county__short_name="原平市").first()
    assert other is not None
    assert client.get(reverse("dashboard-township", args=[other.pk])).status_code == 404


def test_progress_export_is_the_printed_layout(
    client: Client, municipal: User, rolled_up: None
) -> None:
    response = login(client, municipal).get(reverse("progress-export"))
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet["A3"].value == "县（市、区）" and sheet["B3"].value == "总任务数"
    assert [sheet["B4"].value, sheet["C4"].value, sheet["D4"].value] == ["任务数", "完工", "完成率"]
    assert sheet["A21"].value == "总计" and sheet["B21"].value == 209683
    completed = Household.objects.filter(stage__in=[Stage.COMPLETED, Stage.ACCEPTED]).count()
    assert sheet["C21"].value == completed


def test_dashboards_need_login(client: Client) -> None:
    for name in ("dashboard", "progress-export"):
        assert client.get(reverse(name)).status_code == 302
