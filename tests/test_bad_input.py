"""Bad input never answers 500: every view that reads query parameters, given invalid ones, answers
with a Chinese message; an invalid list filter says the same on the list and on its export."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from heating.models import User
from tests.conftest import login

pytestmark = pytest.mark.django_db

FILTERS = [
    {"county": "abc"},
    {"county": "99999"},
    {"township": "abc"},
    {"village": "-1"},
    {"path": "coal"},
    {"area": "城乡"},
    {"stage": "done"},
    {"low_income": "maybe"},
    {"equipment": "x"},
    {"order": "head_name"},
]


@pytest.mark.parametrize("params", FILTERS)
def test_an_invalid_filter_is_a_chinese_message_on_the_list_and_its_export(
    client: Client, municipal: User, params: dict[str, str]
) -> None:
    login(client, municipal)
    listed = client.get(reverse("household-list"), params)
    exported = client.get(reverse("ledger-export"), params)
    assert listed.status_code == exported.status_code == 400
    assert listed.context["invalid"] and listed.context["invalid"] == exported.context["invalid"]
    assert all(m.startswith("筛选条件「") for m in listed.context["invalid"])
    assert exported["Content-Type"].startswith("text/html")  # no file of the wrong rows


@pytest.mark.parametrize(
    ("name", "params", "actor", "message"),
    [
        ("household-list", {"page": "abc", "q": "\x00"}, "municipal", None),
        ("village-options", {"township": "abc"}, "official", "乡（镇、街道）「abc」无效"),
        ("village-options", {"township": ""}, "official", None),
        ("township-options", {"county": "abc"}, "municipal", "县（市、区）「abc」无效"),
        ("township-options", {"county": "99999"}, "municipal", None),
        ("village-options", {"township": "99999999"}, "official", None),
        ("api-progress", {"year": "abc"}, "municipal", "没有年度「abc」的计划"),
        ("api-progress", {"year": "99999999999999999999"}, "municipal", "没有年度"),
        ("worklist", {"q": "\x00", "page": "-3"}, "inspector", None),
        ("acceptance-ledger", {"county": "abc"}, "municipal", "县（市、区）「abc」无效"),
        ("acceptance-ledger", {"start": "2023-13-01"}, "municipal", "日期格式应为 2023-10-15"),
        ("acceptance-ledger", {"end": "yesterday"}, "municipal", "日期格式应为 2023-10-15"),
        ("acceptance-ledger", {"county": "99999"}, "municipal", None),
    ],
)
def test_invalid_query_parameters_never_answer_500(
    client: Client,
    request: pytest.FixtureRequest,
    name: str,
    params: dict[str, str],
    actor: str,
    message: str | None,
) -> None:
    response = login(client, request.getfixturevalue(actor)).get(reverse(name), params)
    assert response.status_code < 500
    if message is not None:
        assert response.status_code in (400, 404)
        assert message in response.content.decode()


def test_a_job_page_takes_any_header(client: Client, official: User) -> None:
    response = login(client, official).get(
        reverse("ledger-import-detail", args=[999]), HTTP_HX_REQUEST="garbage"
    )
    assert response.status_code == 404
