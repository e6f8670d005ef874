"""Funds: allocated, spent (the reconciled payments' city and county parts, other spending),
balance and 预算执行率 per county and source, on the page and /api/funds; and the tilt."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from heating.models import User
from retrofits.models import Household
from subsidies.funds import fund_lines, tilt
from subsidies.models import Allocation, Entitlement, FundSource, Spending
from subsidies.services import entitlements_mark_paid, subsidy_compute
from tests.conftest import county, login
from tests.test_subsidies import city, policies  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def test_funds_and_the_tilt(
    client: Client,
    city: dict[str, Household],  # noqa: F811
    municipal: User,
    other_official: User,
) -> None:
    subsidy_compute(year=2023)
    xinfu = county("忻府区")
    for source, amount in ((FundSource.CITY, 20000), (FundSource.COUNTY, 10000)):
        Allocation.objects.create(
            county=xinfu, plan_year_id=2023, source=source, amount=Decimal(amount),
            document_no="忻财建〔2023〕1号", allocated_on=dt.date(2023, 6, 1),
        )  # fmt: skip
    Spending.objects.create(
        county=xinfu, plan_year_id=2023, source=FundSource.COUNTY, amount=Decimal(1000),
        purpose="入户线路改造", spent_on=dt.date(2023, 9, 1),
    )  # fmt: skip
    paid = Entitlement.objects.get(household__code="S-A", kind="equipment")  # 7,000: 4,200 / 2,800
    entitlements_mark_paid(ids=[paid.pk], paid_on=dt.date(2024, 1, 10))
    lines = {(f.county.short_name, f.source): f for f in fund_lines(municipal, 2023)}
    city_line = lines[("忻府区", FundSource.CITY)]
    assert (city_line.spent, city_line.balance, city_line.rate) == (
        Decimal("4200.00"), Decimal("15800.00"), Decimal("21.0"),
    )  # fmt: skip
    own = lines[("忻府区", FundSource.COUNTY)]
    assert (own.spent, own.rate) == (Decimal("3800.00"), Decimal("38.0"))
    assert fund_lines(other_official, 2023) == []  # 原平市 has nothing, 忻府区 is not its own

    # 忻府区 煤改电: S-B and S-C low-income (1,666.67; 7,500 + 1,400), S-A 7,600.11 alone.
    shown = {(t.county.short_name, t.path): t for t in tilt(municipal, 2023)}
    electric = shown[("忻府区", "electric")]
    assert (electric.low_income_households, electric.other_households) == (2, 1)
    assert electric.low_income_average == Decimal("5283.34")  # (1,666.67 + 8,900) / 2, half up
    assert electric.other_average == Decimal("7600.11")

    page = login(client, municipal).get(reverse("subsidy-funds")).content.decode()
    assert "预算执行率" in page and "21.0%" in page and "5,283.34" in page
    data = login(client, municipal).get(reverse("api-funds"), {"year": 2023}).json()
    first = data["funds"][0]
    assert first == {
        "county": "忻府区", "source": "市级", "allocated": "20000.00", "spent": "4200.00",
        "balance": "15800.00", "execution_rate": "21.0",
    }  # fmt: skip
    assert login(client, other_official).get(reverse("api-funds")).json()["funds"] == []
