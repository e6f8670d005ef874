"""The access matrix of the plan's pages: each role × each view, plus wrong method and bad input."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from heating.models import County, User
from tests.conftest import login

pytestmark = pytest.mark.django_db


def pk(short_name: str) -> int:
    return County.objects.get(short_name=short_name).pk


PAGES = [
    reverse("home"),
    reverse("targets"),
    reverse("targets-year", args=[2023]),
    reverse("targets-export", args=[2023]),
    reverse("county", args=[1]),
    reverse("password_change"),
]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_needs_login(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_municipal_sees_the_whole_city(client: Client, municipal: User) -> None:
    response = login(client, municipal).get(reverse("home"))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="total">209,683<' in page
    for figure in ("164,768", "29,976", "4,589", "10,350"):
        assert figure in page
    assert len(response.context["table"].rows) == 16
    assert "121.76" in page and "183.45" in page  # building energy, 万平方米


def test_administrator_sees_the_whole_city(client: Client, administrator: User) -> None:
    response = login(client, administrator).get(reverse("targets"))
    assert len(response.context["table"].rows) == 16
    assert response.context["table"].total.label == "总计"


def test_county_official_sees_only_their_county(client: Client, official: User) -> None:
    login(client, official)
    home = client.get(reverse("home"), follow=True)  # their county's page
    assert 'data-testid="target">4,449<' in home.content.decode()
    table = client.get(reverse("targets")).context["table"]
    assert [r.label for r in table.rows] == ["忻府区"]
    assert table.total.total == 4449
    assert "原平市" not in client.get(reverse("targets")).content.decode()


def test_inspector_sees_their_counties(client: Client, inspector: User) -> None:
    login(client, inspector)
    table = client.get(reverse("targets")).context["table"]
    assert [r.label for r in table.rows] == ["忻府区", "定襄县"]
    assert table.total.label == "合计"
    assert 'data-testid="total">7,441<' in client.get(reverse("home")).content.decode()


def test_county_page_shows_targets_and_townships(client: Client, official: User) -> None:
    response = login(client, official).get(reverse("county", args=[pk("忻府区")]))
    assert response.status_code == 200
    assert response.context["progress"].total.target == 4449
    assert len(response.context["townships"]) == 11
    assert "2023年10月15日" in response.content.decode()


def test_wutaishan_page_shows_its_earlier_works_deadline(client: Client, municipal: User) -> None:
    response = login(client, municipal).get(reverse("county", args=[pk("五台山")]))
    assert "2023年10月1日" in response.content.decode()


@pytest.mark.parametrize(
    ("actor", "county", "status"),
    [
        ("municipal", "原平市", 200),
        ("administrator", "原平市", 200),
        ("official", "忻府区", 200),
        ("official", "原平市", 404),
        ("official", "忻州城区", 404),
        ("other_official", "忻府区", 404),
        ("inspector", "定襄县", 200),
        ("inspector", "原平市", 404),
    ],
)
def test_county_page_is_404_outside_the_users_counties(
    client: Client, request: pytest.FixtureRequest, actor: str, county: str, status: int
) -> None:
    user = request.getfixturevalue(actor)
    response = login(client, user).get(reverse("county", args=[pk(county)]))
    assert response.status_code == status


@pytest.mark.parametrize(
    ("actor", "status"),
    [
        ("municipal", 200),
        ("administrator", 200),
        ("official", 403),
        ("inspector", 403),
    ],
)
def test_only_the_city_downloads_the_table(
    client: Client, request: pytest.FixtureRequest, actor: str, status: int
) -> None:
    user = request.getfixturevalue(actor)
    response = login(client, user).get(reverse("targets-export", args=[2023]))
    assert response.status_code == status


def test_download_is_the_printed_table(client: Client, municipal: User) -> None:
    response = login(client, municipal).get(reverse("targets-export", args=[2023]))
    assert "attachment" in response["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet["A1"].value == "忻州市2023年冬季清洁取暖改造任务分解表"
    assert sheet["P2"].value == "单位：户"
    assert [sheet["A21"].value, sheet["D21"].value] == ["总计", 209683]


def test_refused_download_explains_in_chinese(client: Client, official: User) -> None:
    response = login(client, official).get(reverse("targets-export", args=[2023]))
    assert "只有市级用户可以下载全市任务分解表" in response.content.decode()


@pytest.mark.parametrize(
    "url", [reverse("targets-year", args=[1999]), reverse("county", args=[999])]
)
def test_unknown_year_or_county_is_404(client: Client, municipal: User, url: str) -> None:
    assert login(client, municipal).get(url).status_code == 404


@pytest.mark.parametrize("url", PAGES[:5])
def test_pages_refuse_post(client: Client, municipal: User, url: str) -> None:
    assert login(client, municipal).post(url).status_code == 405


def test_home_links_only_visible_counties(client: Client, inspector: User) -> None:
    page = login(client, inspector).get(reverse("home")).content.decode()
    assert reverse("county", args=[pk("忻府区")]) in page
    assert reverse("county", args=[pk("原平市")]) not in page


def test_every_page_has_an_icon_and_favicon_ico_finds_it(client: Client, municipal: User) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")
    page = login(client, municipal).get(reverse("targets")).content.decode()
    assert 'rel="icon"' in page and "favicon.svg" in page
    admin_page = client.get(reverse("admin:index")).content.decode()
    assert "favicon.svg" in admin_page and "admin-zh.js" in admin_page
