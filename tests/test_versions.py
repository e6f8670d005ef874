"""Optimistic locking: the second save of a stale form is refused with a Chinese message, keeps
what was typed, and leaves the first save in place; for the household form, the admin's
correction, a visit, a contract, its cancellation and a reserve, and after an upload."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from acceptance.models import Inspection
from energy_supply.models import FuelReserve, GasContract
from heating.models import County, User
from heating.versions import STALE, STALE_HOUSEHOLD
from retrofits.choices import Stage
from retrofits.models import Household, TenderItem
from tests.conftest import login
from tests.ledger_files import row, xlsx
from tests.test_acceptance_views import visit_data
from tests.test_household_views import form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def household(tmp_path: Path, tender: list[TenderItem]) -> Household:
    call_command("import_ledger", str(xlsx(tmp_path, [row()])), stdout=io.StringIO())
    return Household.objects.get(code="XF-0001")


def shown(client: Client, url: str, context: str = "form") -> dict[str, Any]:
    """What a form page shows, as a browser would post it back (its hidden version included)."""
    response = client.get(url)
    assert response.status_code == 200
    form = response.context[context]
    if context == "adminform":
        form = form.form
    data: dict[str, Any] = {}
    for field in form:
        value = field.value()
        if value is False:
            continue
        data[field.html_name] = "" if value is None else value
    return data


def page_of(response: Any) -> str:
    assert response.status_code == 200, "a stale save must stay on the form"
    return response.content.decode()


def test_the_second_of_two_open_household_forms_is_refused_and_keeps_what_was_typed(
    client: Client, official: User, household: Household
) -> None:
    login(client, official)
    url = reverse("household-edit", args=[household.pk])
    first, second = shown(client, url), shown(client, url)
    assert first["seen_version"] == household.version

    assert client.post(url, {**first, "phone": "13900002222"}).status_code == 302
    page = page_of(client.post(url, {**second, "notes": "第二人补充的备注"}))

    assert STALE_HOUSEHOLD in page
    assert "第二人补充的备注" in page
    household.refresh_from_db()
    assert (household.phone, household.notes) == ("13900002222", "")
    assert household.version == 1

    # Reloaded, the same change saves.
    again = shown(client, url)
    assert client.post(url, {**again, "notes": "第二人补充的备注"}).status_code == 302
    household.refresh_from_db()
    assert (household.phone, household.notes) == ("13900002222", "第二人补充的备注")


def test_an_upload_makes_a_form_opened_before_it_stale(
    client: Client, official: User, household: Household, tmp_path: Path
) -> None:
    login(client, official)
    url = reverse("household-edit", args=[household.pk])
    opened = shown(client, url)
    changed = row(联系电话="13900003333")
    call_command("import_ledger", str(xlsx(tmp_path, [changed])), stdout=io.StringIO())

    page = page_of(client.post(url, {**opened, "notes": "上传前打开的表单"}))
    assert STALE_HOUSEHOLD in page
    household.refresh_from_db()
    assert (household.phone, household.notes) == ("13900003333", "")


def test_a_form_posted_without_a_version_is_not_taken_as_stale(
    client: Client, official: User, household: Household
) -> None:
    # Older pages (and scripts) that send no version are checked by the rules alone.
    response = login(client, official).post(
        reverse("household-edit", args=[household.pk]), form_data(household, stage="building")
    )
    assert response.status_code == 302


def test_a_stale_correction_in_the_admin_is_refused(
    client: Client, administrator: User, official: User, household: Household
) -> None:
    login(client, administrator)
    url = reverse("admin:retrofits_household_change", args=[household.pk])
    opened = shown(client, url, "adminform")
    household_form = reverse("household-edit", args=[household.pk])
    official_client = login(Client(), official)
    edit = shown(official_client, household_form)
    assert official_client.post(household_form, {**edit, "phone": "13900004444"}).status_code == 302

    response = client.post(url, {**opened, "notes": "管理员更正", "reason": "核对"})
    assert STALE_HOUSEHOLD in page_of(response)
    household.refresh_from_db()
    assert (household.phone, household.notes) == ("13900004444", "")


def test_a_visit_on_a_household_changed_since_the_form_opened_is_refused(
    client: Client, inspector: User, official: User, tmp_path: Path, tender: list[TenderItem]
) -> None:
    done = row(实施进度="已完工", 完工日期=dt.date(2023, 10, 10))
    call_command("import_ledger", str(xlsx(tmp_path, [done])), stdout=io.StringIO())
    household = Household.objects.get(code="XF-0001")
    login(client, inspector)
    url = reverse("visit", args=[household.pk])
    opened = shown(client, url)["seen_version"]
    # Meanwhile the county takes the completion back (the works are reopened).
    official_client = login(Client(), official)
    edit = reverse("household-edit", args=[household.pk])
    back = {
        **shown(official_client, edit),
        "stage": "building",
        "completed_on": "",
        "reason": "返工",
    }
    assert official_client.post(edit, back).status_code == 302

    page = page_of(client.post(url, visit_data(seen_version=opened, co_inspectors="王工")))
    assert STALE_HOUSEHOLD in page and 'value="王工"' in page
    assert not Inspection.objects.exists()
    household.refresh_from_db()
    assert household.stage == Stage.BUILDING


def test_the_second_of_two_open_contract_forms_is_refused(client: Client, official: User) -> None:
    contract = GasContract.objects.filter(county__short_name="忻府区").first()
    assert contract is not None
    login(client, official)
    url = reverse("supply-edit", args=["contracts", contract.pk])
    first, second = shown(client, url), shown(client, url)
    assert client.post(url, {**first, "supplier": "甲燃气公司"}).status_code == 302

    page = page_of(client.post(url, {**second, "supplier": "乙燃气公司"}))
    assert STALE in page and 'value="乙燃气公司"' in page
    contract.refresh_from_db()
    assert contract.supplier == "甲燃气公司"


def test_cancelling_a_contract_changed_since_the_page_opened_is_refused(
    client: Client, official: User
) -> None:
    contract = GasContract.objects.filter(county__short_name="忻府区").first()
    assert contract is not None
    login(client, official)
    detail = client.get(reverse("supply-detail", args=["contracts", contract.pk]))
    seen = detail.context["cancel_form"]["seen_version"].value()
    edit = reverse("supply-edit", args=["contracts", contract.pk])
    assert client.post(edit, {**shown(client, edit), "supplier": "甲燃气公司"}).status_code == 302

    response = client.post(
        reverse("contract-cancel", args=[contract.pk]),
        {"cancelled_on": "2023-09-01", "seen_version": seen},
        follow=True,
    )
    assert STALE in response.content.decode()
    contract.refresh_from_db()
    assert contract.cancelled_on is None


def test_the_second_of_two_open_reserve_forms_is_refused(client: Client, official: User) -> None:
    reserve = FuelReserve.objects.create(
        county=County.objects.get(short_name="忻府区"), season=2023, fuel="clean_coal",
        households=1000, contracted_t=Decimal(2600), stored_t=Decimal(2000),
    )  # fmt: skip
    login(client, official)
    url = reverse("reserve-edit", args=[reserve.pk])
    first, second = shown(client, url), shown(client, url)
    assert client.post(url, {**first, "supplier": "甲公司"}).status_code == 302
    page = page_of(client.post(url, {**second, "supplier": "乙公司", "stored_t": "2100"}))
    assert STALE in page and 'value="乙公司"' in page
    reserve.refresh_from_db()
    assert (reserve.supplier, reserve.stored_t) == ("甲公司", Decimal(2000))
