"""The households' 一卡通 accounts: encrypted at rest, imported by the county's 县级财政 only, shown
in full to that role alone (and the view recorded), as the last four digits to everyone else."""

from __future__ import annotations

import io

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from openpyxl import Workbook

from heating.access import Action, may
from heating.models import HeatingPath, PersonalDataAccess, Role, User
from heating.services import user_create
from retrofits.models import Household, TenderItem
from subsidies.models import BankAccount
from subsidies.services.accounts import bank_accounts_import
from tests.conftest import PASSWORD, county, login
from tests.test_subsidies import household

pytestmark = pytest.mark.django_db

HEADERS = ["户编号", "一卡通账号", "开户银行", "账户名", "备注"]
NUMBER = "6228480123456789012"


def book(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADERS)
    for r in rows:
        sheet.append(r)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@pytest.fixture
def finance(db: None) -> User:
    """忻府区's 县级财政."""
    return user_create(
        username="xinfu-caizheng", password=PASSWORD, role=Role.FINANCE, county=county("忻府区")
    )


@pytest.fixture
def home(tender: list[TenderItem]) -> Household:
    return household("B-1", HeatingPath.ELECTRIC, equipment=tender[0])


def test_the_number_is_encrypted_at_rest(finance: User, home: Household) -> None:
    outcome = bank_accounts_import(
        data=book([["B-1", NUMBER, "忻州农商银行", "测试", ""]]), name="b.xlsx", user=finance
    )
    assert (outcome.errors, outcome.created) == ([], 1)
    account = BankAccount.objects.get()
    assert (account.number, account.last4, account.masked) == (NUMBER, "9012", "****9012")
    with connection.cursor() as cursor:
        cursor.execute("SELECT number FROM subsidies_bankaccount")
        (stored,) = cursor.fetchone()
        cursor.execute("SELECT number FROM subsidies_historicalbankaccount")
        (kept,) = cursor.fetchone()
    assert NUMBER not in stored and NUMBER[-8:] not in stored
    assert NUMBER not in kept
    again = bank_accounts_import(
        data=book([["B-1", NUMBER, "忻州农商银行", "测试", ""]]), name="b.xlsx", user=finance
    )
    assert again.unchanged == 1


def test_errors_by_row_never_echo_a_number(
    finance: User, home: Household, tender: list[TenderItem]
) -> None:
    household("B-2", HeatingPath.ELECTRIC, equipment=tender[0], where="原平市")
    rows: list[list[object]] = [
        ["B-1", "62284801234x", "忻州农商银行", "测试", ""],
        ["B-1", NUMBER, "忻州农商银行", "李四", ""],
        ["B-2", NUMBER, "忻州农商银行", "测试", ""],
        ["B-9", NUMBER, "", "测试", ""],
    ]
    outcome = bank_accounts_import(data=book(rows), name="b.xlsx", user=finance)
    shown = [str(e) for e in outcome.errors]
    assert shown == [
        "第2行「一卡通账号」：应为 12 到 30 位数字",
        "第3行「户编号」：与第2行是同一户",
        "第3行「备注」：账户名与户主姓名不同，备注须说明原因（如代领人与户主的关系）",
        "第4行「户编号」：不是本县的户，无权登记一卡通账户",
        "第5行「开户银行」：必填，不能为空",
        "第5行「户编号」：台账中没有户编号「B-9」",
    ]
    assert all("62284801234" not in e.value for e in outcome.errors)
    assert not BankAccount.objects.exists()


def test_only_the_countys_finance_keeps_accounts(official: User, finance: User) -> None:
    assert may(finance, Action.SUBSIDY_PAY, county("忻府区").pk)
    assert not may(finance, Action.SUBSIDY_PAY, county("原平市").pk)
    assert not may(official, Action.SUBSIDY_PAY)
    assert not may(finance, Action.EDIT)


def test_the_dossier_shows_the_number_to_the_countys_finance_only(
    client: Client, finance: User, official: User, municipal: User, home: Household
) -> None:
    bank_accounts_import(
        data=book([["B-1", NUMBER, "忻州农商银行", "测试", ""]]), name="b.xlsx", user=finance
    )
    url = reverse("household-detail", args=[home.pk])
    for user in (official, municipal):
        page = login(client, user).get(url).content.decode()
        assert "****9012" in page and NUMBER not in page
    assert not PersonalDataAccess.objects.filter(detail__startswith="一卡通账号").exists()
    page = login(client, finance).get(url).content.decode()
    assert NUMBER in page
    seen = PersonalDataAccess.objects.get(detail__startswith="一卡通账号")
    assert (seen.user, seen.households) == (finance, 1)
