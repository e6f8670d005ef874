"""Every page of the subsidies as every role, 县级财政 included, on another county's batch (原平市):
no server error, anonymous visitors sent to log in, and the 一卡通 number in full only to 原平市's
县级财政 and the administrator (the roster, the dossier); full ID numbers only in the roster."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from heating.models import HeatingPath, Role, User
from heating.services import user_create
from retrofits.models import TenderItem
from subsidies.models import Kind, Method, Policy
from subsidies.services import subsidy_compute
from subsidies.services.accounts import bank_accounts_import
from subsidies.services.batches import batch_approve, batch_create, batch_publicize, batch_submit
from tests.conftest import PASSWORD, county
from tests.test_subsidies import household
from tests.test_subsidies_accounts import book

pytestmark = pytest.mark.django_db

NUMBER = "6228480099887766554"


def text_of(response: object) -> str:
    content: bytes = response.content  # type: ignore[attr-defined]
    if response["Content-Type"].startswith("application/vnd"):  # type: ignore[index]
        sheet = load_workbook(io.BytesIO(content)).worksheets[0]
        return " ".join(str(c) for row in sheet.iter_rows(values_only=True) for c in row)
    return content.decode()


def test_every_subsidies_page_as_every_role(
    client: Client,
    tender: list[TenderItem],
    official: User,
    other_official: User,
    municipal: User,
    inspector: User,
    administrator: User,
) -> None:
    Policy.objects.create(
        plan_year_id=2023, path=HeatingPath.GAS, kind=Kind.EQUIPMENT, method=Method.FIXED,
        amount=Decimal(3000), cap=Decimal(3000), city_share=Decimal("0.5"),
    )  # fmt: skip
    home = household("YP-9", HeatingPath.GAS, equipment=tender[2], where="原平市")
    subsidy_compute(year=2023)
    roles: dict[str, User | None] = {
        "anonymous": None,
        "official": official,
        "other_official": other_official,
        "municipal": municipal,
        "inspector": inspector,
        "administrator": administrator,
        "finance": user_create(
            username="xf-cz", password=PASSWORD, role=Role.FINANCE, county=county("忻府区")
        ),
        "other_finance": user_create(
            username="yp-cz", password=PASSWORD, role=Role.FINANCE, county=county("原平市")
        ),
    }
    yuanping = roles["other_finance"]
    assert yuanping is not None
    rows: list[list[object]] = [["YP-9", NUMBER, "原平农商银行", "测试", ""]]
    assert bank_accounts_import(data=book(rows), name="b.xlsx", user=yuanping).created == 1
    batch = batch_publicize(
        batch=batch_create(county=county("原平市"), season=2023), start=dt.date(2024, 4, 1)
    )
    batch = batch_approve(
        batch=batch_submit(batch=batch, today=dt.date(2024, 4, 30)), user=yuanping
    )
    pages = [
        reverse("subsidy-policies"),
        reverse("subsidy-funds"),
        reverse("api-funds") + "?year=2023",
        reverse("subsidy-batches") + "?year=2023",
        reverse("subsidy-batch-notice") + f"?batch={batch.pk}",
        reverse("subsidy-batch-roster") + f"?batch={batch.pk}",
        reverse("household-detail", args=[home.pk]),
        reverse("subsidy-batch-notice") + "?batch=x",
        reverse("subsidy-batch-roster"),
    ]
    sees_number = {"administrator", "other_finance"}
    problems = []
    for role, user in roles.items():
        client.logout()
        if user is not None:
            client.force_login(user)
        for url in pages:
            response = client.get(url)
            where = f"{role} {url} → {response.status_code}"
            if response.status_code >= 500:
                problems.append(f"{where}: server error")
            if user is None:
                if response.status_code != 302 or "/accounts/login/" not in response["Location"]:
                    problems.append(f"{where}: answered an anonymous visitor")
                continue
            if response.status_code != 200:
                continue
            shown = text_of(response)
            if NUMBER in shown and role not in sees_number:
                problems.append(f"{where}: shows the 一卡通 number")
            roster = "roster" in url
            if home.id_number in shown and not roster and role not in {"administrator", "other_official", "other_finance"}:  # fmt: skip
                problems.append(f"{where}: shows the ID number")
            if roster and role not in sees_number:
                problems.append(f"{where}: the roster answered")
        # What each may not do, refused: another county's batch, a step of another's role.
        if user is not None:
            step = client.post(
                reverse("subsidy-batch-step"), {"step": "publicize", "batch": batch.pk}
            )
            if step.status_code not in (302, 403, 404) or step.status_code >= 500:
                problems.append(f"{role} publicize → {step.status_code}")
    batch.refresh_from_db()
    assert batch.state == batch.State.SENT  # nobody moved it back to publicity
    assert problems == [], "\n".join(problems)
