"""Building energy retrofits (二(二)): accepted m² by unit and in total against the plan's
121.76万 m² of town buildings and 183.45万 m² of rural envelopes, on the city dashboard, the county
page, /api/progress and the dispatch figures; 忻州经济开发区 a unit for buildings only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from acceptance.models import Project
from heating.models import PlanYear, User
from oversight.dispatch.figures import county_figures
from tests.conftest import county, login

pytestmark = pytest.mark.django_db


@pytest.fixture
def projects() -> None:
    done = dt.date(2023, 10, 20)
    Project.objects.create(county=county("定襄县"), kind=Project.Kind.BUILDING_TOWN,
                           name="定襄县城小区改造", area_m2=1000, accepted_on=done)  # fmt: skip
    Project.objects.create(county=county("忻府区"), unit=Project.Unit.DEVELOPMENT_ZONE,
                           kind=Project.Kind.BUILDING_TOWN, name="开发区厂区宿舍改造",
                           area_m2=500, accepted_on=done)  # fmt: skip
    Project.objects.create(county=county("定襄县"), kind=Project.Kind.BUILDING_RURAL,
                           name="定襄县农房围护", area_m2=800, accepted_on=done)  # fmt: skip
    Project.objects.create(county=county("定襄县"), kind=Project.Kind.BUILDING_RURAL,
                           name="未验收的农房", area_m2=9999)  # fmt: skip


def test_the_city_adds_up_accepted_m2_by_unit_against_the_plan(
    client: Client, municipal: User, projects: None
) -> None:
    login(client, municipal)
    data = client.get(reverse("api-progress"), {"year": 2023}).json()["building_m2"]
    assert (data["town"]["target"], data["town"]["accepted"]) == (1217600, 1500)
    assert (data["rural_envelope"]["target"], data["rural_envelope"]["accepted"]) == (1834500, 800)
    units = {row["unit"]: row for row in data["by_unit"]}
    assert units["忻州经济开发区"]["town"] == 500 and units["定襄县"]["town"] == 1000
    assert units["定襄县"]["rural_envelope"] == 800  # the unaccepted one is not counted
    counties = {
        c["county"]: c
        for c in client.get(reverse("api-progress"), {"year": 2023}).json()["counties"]
    }
    assert counties["定襄县"]["building_m2"] == {"town": 1000, "rural_envelope": 800}
    assert counties["忻府区"]["building_m2"] == {"town": 0, "rural_envelope": 0}
    page = client.get(reverse("dashboard")).content.decode()
    card = page.split('data-testid="buildings"', 1)[1].split("</section>", 1)[0]
    assert "忻州经济开发区" in card and "1,217,600" in card and "1,500" in card


def test_a_county_page_and_its_dispatch_figures_carry_its_m2(
    client: Client, municipal: User, projects: None
) -> None:
    page = login(client, municipal).get(reverse("county", args=[county("定襄县").pk])).content
    assert "城区/县城既有建筑 1,000 平方米，农村围护结构 800 平方米" in page.decode()
    figures = county_figures(
        county("定襄县"), PlanYear.objects.get(year=2023), dt.date(2023, 11, 1)
    )
    assert figures["building_m2"] == {"town": 1000, "rural_envelope": 800}


def test_the_development_zone_has_building_duties_only() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Project.objects.create(county=county("忻府区"), unit=Project.Unit.DEVELOPMENT_ZONE,
                               kind=Project.Kind.GRID_UPGRADE, name="开发区电网")  # fmt: skip
