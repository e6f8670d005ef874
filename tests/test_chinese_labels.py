"""Every label a user reads is Chinese: the change records (fields by their names, choices by their
labels), the key project's households by stage, the admin's index and its add-user page. The
every-URL walk (tests/test_every_url.py) scans every page of every role the same way."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from energy_supply.models import GasContract, KeyProject
from energy_supply.services import gas_contract_save
from heating.locale import LOCALE, compiled
from heating.models import HeatingPath, User
from retrofits.models import TenderItem
from tests.conftest import county, login
from tests.labels import latin_words, shown_text
from tests.ledger_files import row, xlsx

pytestmark = pytest.mark.django_db


def test_the_words_check_finds_latin_outside_codes() -> None:
    page = "<p>accepted 144,739，XF-0001 KRS-8P 下载 xlsx</p><p title='Search'>户</p><script>var x;</script>"
    assert latin_words(page) == {"accepted", "Search"}
    assert "var" not in shown_text(page)


def test_a_masked_value_is_not_a_label() -> None:
    # The admin's password summary shows a hash's first letters, then asterisks: the whole-city
    # tour flagged "fDTfEz" and "kSXjuN" there. Data shown masked is not a label to translate.
    page = (
        "<p><strong>盐</strong>: kSXjuN********** <strong>哈希</strong>: fDTfEz****</p><p>Owner</p>"
    )
    assert latin_words(page) == {"Owner"}


def test_a_contracts_change_record_names_its_fields(client: Client, official: User) -> None:
    contract = GasContract.objects.get(county=county("忻府区"))
    before = contract.households
    contract.households = before + 7
    gas_contract_save(contract=contract, user=official)
    page = (
        login(client, official)
        .get(reverse("supply-detail", args=["contracts", contract.pk]))
        .content.decode()
    )
    assert f"可保障户数：{before} → {before + 7}" in page
    assert latin_words(page, also={"xinfu"}) == set()


def test_a_key_projects_households_are_counted_by_stage_in_chinese(
    client: Client, municipal: User, tmp_path: Path, tender: list[TenderItem]
) -> None:
    project = KeyProject.objects.create(
        name="测试重点项目", county=county("忻府区"), responsible="副区长",
        responsible_unit="住建局", path=HeatingPath.ELECTRIC,
    )  # fmt: skip
    project.counties.set([county("忻府区")])
    call_command("import_ledger", str(xlsx(tmp_path, [row()])), stdout=io.StringIO())
    page = login(client, municipal).get(reverse("key-project", args=[project.pk])).content
    text = page.decode()
    assert "已选型 1" in text
    assert latin_words(text, also={"shi"}) == set()


@pytest.mark.parametrize(
    "url", ["/admin/", "/admin/heating/user/add/", "/admin/axes/accessattempt/"]
)
def test_the_admins_pages_for_accounts_and_lockouts_speak_chinese(
    client: Client, administrator: User, url: str
) -> None:
    page = login(client, administrator).get(url).content.decode()
    assert latin_words(page, also={"root"}) == set()
    if url == "/admin/":
        assert "登录锁定" in page


def test_the_compiled_chinese_is_the_po_files() -> None:
    """locale/*.mo are made from their .po by `make locale`; a .po changed without it fails here."""
    for po in LOCALE.glob("*/LC_MESSAGES/*.po"):
        assert po.with_suffix(".mo").read_bytes() == compiled(po), po


def test_a_change_record_is_read_never_reverted(
    client: Client, administrator: User, tmp_path: Path, tender: list[TenderItem]
) -> None:
    """simple-history's revert would write a household past its service and rules."""
    from retrofits.models import Household

    call_command("import_ledger", str(xlsx(tmp_path, [row()])), stdout=io.StringIO())
    household = Household.objects.get(code="XF-0001")
    version = household.history.earliest("history_date").history_id
    url = f"/admin/retrofits/household/{household.pk}/history/{version}/"
    login(client, administrator)
    assert client.get(url).status_code == 200
    assert client.post(url, {"head_name": "改名"}).status_code == 403
    household.refresh_from_db()
    assert household.head_name == "张三"
