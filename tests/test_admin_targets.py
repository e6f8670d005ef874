"""The task-breakdown table through django-import-export's admin import (preview, then confirm)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from heating.models import Target, User
from tests.conftest import TABLE_2023, login

pytestmark = pytest.mark.django_db
IMPORT_URL = reverse("admin:heating_target_import")
PROCESS_URL = reverse("admin:heating_target_process_import")


def upload(client: Client, path: Path) -> Any:
    with path.open("rb") as f:
        return client.post(
            IMPORT_URL, {"plan_year": 2023, "resource": "0", "format": "0", "import_file": f}
        )


def test_municipal_imports_through_preview_and_confirm(client: Client, municipal: User) -> None:
    Target.objects.filter(county__short_name="原平市").delete()
    login(client, municipal)
    preview = upload(client, TABLE_2023)
    assert preview.status_code == 200
    confirm = preview.context["confirm_form"]
    assert confirm is not None
    assert preview.context["result"].totals["new"] == 1
    assert Target.objects.filter(county__short_name="原平市").count() == 0  # preview writes nothing

    done = client.post(PROCESS_URL, {**confirm.initial, "plan_year": 2023})
    assert done.status_code == 302
    assert Target.objects.for_year(2023).total() == 209683


def test_admin_lists_every_error_by_row_and_column(
    client: Client, municipal: User, tmp_path: Path
) -> None:
    book = load_workbook(TABLE_2023)
    book.active["A6"] = "忻府县"
    book.active["F7"] = -3
    broken = tmp_path / "broken.xlsx"
    book.save(broken)
    before = Target.objects.for_year(2023).total()

    response = upload(login(client, municipal), broken)
    page = response.content.decode()
    assert response.context["result"].has_validation_errors()
    assert "第6行（忻府县）「县（市、区）」：未知的县（市、区）「忻府县」" in page
    assert "第7行（定襄县）「集中供热（工业余热） · 农村」：「-3」为负数" in page
    assert "confirm_form" not in response.context or response.context["confirm_form"] is None
    assert Target.objects.for_year(2023).total() == before


def test_admin_explains_a_file_in_another_layout(
    client: Client, municipal: User, tmp_path: Path
) -> None:
    other = tmp_path / "other.xlsx"
    book = load_workbook(TABLE_2023)
    book.active["A3"] = "单位名称"
    book.save(other)
    response = upload(login(client, municipal), other)
    assert "找不到表头" in response.content.decode()


@pytest.mark.parametrize("actor", ["official", "inspector"])
def test_only_staff_roles_reach_the_admin(
    client: Client, request: pytest.FixtureRequest, actor: str
) -> None:
    response = login(client, request.getfixturevalue(actor)).get(IMPORT_URL)
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_municipal_cannot_manage_users(client: Client, municipal: User) -> None:
    login(client, municipal)
    assert client.get(reverse("admin:heating_user_changelist")).status_code == 403
    assert client.get(reverse("admin:heating_target_changelist")).status_code == 200


def test_divisions_are_read_only_in_the_admin(client: Client, municipal: User) -> None:
    login(client, municipal)
    assert client.get(reverse("admin:heating_village_changelist")).status_code == 200
    assert client.get(reverse("admin:heating_village_add")).status_code == 403


def test_administrator_manages_users(client: Client, administrator: User) -> None:
    login(client, administrator)
    assert client.get(reverse("admin:heating_user_changelist")).status_code == 200


def test_an_import_posted_without_a_file_or_year_is_a_form_error(
    client: Client, municipal: User
) -> None:
    # Found by the every-URL walk: a KeyError (500) when the form's year was missing.
    url = reverse("admin:heating_target_import")
    response = login(client, municipal).post(url, {"plan_year": "", "format": "0"})
    assert response.status_code == 200
    assert response.context["form"].errors
