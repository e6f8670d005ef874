"""The tender list: imported by the municipal bureau from its template, all or nothing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from heating.models import User
from retrofits.models import TenderItem
from tests.conftest import login

pytestmark = pytest.mark.django_db
DEMO = settings.FIXTURES_DIR / "demo" / "tender-list-demo.csv"
HEADER = "设备类别,适用路径,型号,中标企业,额定功率（kW）,中标单价（元）\n"


def test_it_imports_and_reimports_unchanged() -> None:
    out = io.StringIO()
    call_command("import_tender", str(DEMO), stdout=out)
    call_command("import_tender", str(DEMO), stdout=out)
    assert "新增 9" in out.getvalue() and "未变 9" in out.getvalue()
    assert TenderItem.objects.filter(path="gas").count() == 3


def test_every_bad_cell_is_listed_and_nothing_written(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        HEADER + "热泵,煤改电,OK-1,甲,8,20000\n热泵,煤改水,M-2,乙,-1,abc\n", encoding="utf-8"
    )
    err = io.StringIO()
    with pytest.raises(CommandError, match="未写入任何数据"):
        call_command("import_tender", str(path), stdout=io.StringIO(), stderr=err)
    text = err.getvalue()
    assert "第3行「适用路径」：「煤改水」应为 煤改电 或 煤改气" in text
    assert "第3行「额定功率（kW）」：「-1」应为正数" in text
    assert "第3行「中标单价（元）」：「abc」应为正数" in text
    assert not TenderItem.objects.exists()


def test_only_the_city_manages_it_in_the_admin(
    client: Client, municipal: User, official: User
) -> None:
    assert (
        login(client, municipal).get(reverse("admin:retrofits_tenderitem_import")).status_code
        == 200
    )
    client.logout()
    assert (
        login(client, official).get(reverse("admin:retrofits_tenderitem_import")).status_code == 302
    )
