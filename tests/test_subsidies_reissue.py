"""补发: a payment the bank refused waits (待更正) until its household's 一卡通 account is corrected,
on the account page or by a new accounts file, then joins the next batch and is paid once; the
account page itself (the county's 县级财政 only; the number never put back into the page)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from heating.models import User
from retrofits.models import Household
from subsidies.models import BankAccount, Batch, BatchLine, Entitlement, Status
from subsidies.services.accounts import bank_accounts_import
from subsidies.services.batches import batch_create, batch_submit
from tests.conftest import county, login
from tests.test_subsidies_accounts import book as accounts_book
from tests.test_subsidies_accounts import finance  # noqa: F401  (a fixture)
from tests.test_subsidies_batches import bank_return
from tests.test_subsidies_uploads import ONE, TWO, sent, token_of, upload  # noqa: F401

pytestmark = pytest.mark.django_db

NEW = "622848000000000099"


def returned(client: Client, batch: Batch, rows: list[list[object]]) -> str:
    """The bank's return uploaded, checked and confirmed on the page, as the 县级财政 does."""
    url = reverse("subsidy-batch-return", args=[batch.pk])
    page = client.post(url, upload(bank_return(rows))).content.decode()
    assert "检查通过" in page, page
    return client.post(url, {"token": token_of(page)}, follow=True).content.decode()


def test_a_refused_payment_is_corrected_on_its_page_and_paid_once_in_the_next_batch(
    client: Client,
    sent: tuple[Batch, list[Household]],  # noqa: F811
    finance: User,  # noqa: F811
    official: User,
) -> None:
    batch, (u1, u2) = sent
    login(client, finance)
    returned(client, batch, [[u1.id_number, ONE, 3000, "成功", ""],
                             [u2.id_number, TWO, 3000, "失败", "账户已销户"]])  # fmt: skip
    # 待更正: listed on the batches page, with the way to the account page.
    page = client.get(reverse("subsidy-batches"), {"year": 2023}).content.decode()
    assert 'data-testid="awaiting-correction"' in page
    assert "账户已销户" in page and "****0002" in page
    account_page = reverse("subsidy-account", args=[u2.pk])
    assert account_page in page
    # Not corrected yet: the county official's next batch has nothing to pay.
    step = reverse("subsidy-batch-step")
    answer = login(client, official).post(
        step, {"step": "create", "county": county("忻府区").pk}, follow=True
    )
    assert "没有可发放的补贴" in answer.content.decode()
    # The same wrong account sent again by a file is no correction either.
    same: list[list[object]] = [["U-2", TWO, "忻州农商银行", "测试", ""]]
    assert bank_accounts_import(data=accounts_book(same), name="b.xlsx", user=finance).unchanged
    with pytest.raises(ValidationError, match="没有可发放的补贴"):
        batch_create(county=county("忻府区"), season=2023)

    # The 县级财政 corrects it on the household's page.
    form = login(client, finance).get(account_page).content.decode()
    assert "账户已销户" in form and "****0002" in form and TWO not in form
    answer = client.post(
        account_page, {"number": NEW, "bank": "忻州农商银行", "holder": "测试", "notes": ""}
    )
    assert answer.status_code == 302 and answer["Location"] == reverse(
        "household-detail", args=[u2.pk]
    )
    account = BankAccount.objects.get(household=u2)
    assert (account.number, account.last4) == (NEW, "0099")
    assert account.history.first().history_change_reason == "更正一卡通账户"
    page = client.get(reverse("subsidy-batches"), {"year": 2023}).content.decode()
    assert 'data-testid="awaiting-correction"' not in page

    # The next batch holds the refused one alone, and goes to the bank with the new account.
    login(client, official).post(step, {"step": "create", "county": county("忻府区").pk})
    again = Batch.objects.exclude(pk=batch.pk).get()
    assert [line.entitlement.household.code for line in again.lines.all()] == ["U-2"]
    client.post(step, {"step": "publicize", "batch": again.pk})
    again.refresh_from_db()
    assert again.publicity_end is not None
    batch_submit(batch=again, today=again.publicity_end + dt.timedelta(days=1))
    login(client, finance).post(step, {"step": "approve", "batch": again.pk})
    shown = returned(client, again, [[u2.id_number, NEW, 3000, "成功", ""]])
    assert "成功 1 笔，失败 0 笔" in shown

    # Each paid once: one entitlement each, one paid line each, and nothing left to pay.
    paid = Entitlement.objects.filter(status=Status.PAID)
    assert sorted(paid.values_list("household__code", flat=True)) == ["U-1", "U-2"]
    for e in paid:
        assert e.lines.filter(result=BatchLine.Result.PAID).count() == 1
    with pytest.raises(ValidationError, match="没有可发放的补贴"):
        batch_create(county=county("忻府区"), season=2023)
    twice = Entitlement.objects.get(household=u2)
    with pytest.raises(IntegrityError), transaction.atomic():
        Entitlement.objects.create(
            household=u2, county=twice.county, kind=twice.kind, season=twice.season,
            policy=twice.policy, amount_fen=twice.amount_fen, city_fen=twice.city_fen,
            county_fen=twice.county_fen, computed_at=twice.computed_at,
        )  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():
        BatchLine.objects.create(batch=again, entitlement=twice, amount_fen=twice.amount_fen)


def test_a_corrected_file_releases_the_refused_payment(
    client: Client,
    sent: tuple[Batch, list[Household]],  # noqa: F811
    finance: User,  # noqa: F811
) -> None:
    batch, (u1, u2) = sent
    login(client, finance)
    returned(client, batch, [[u1.id_number, ONE, 3000, "失败", "户名不符"],
                             [u2.id_number, TWO, 3000, "成功", ""]])  # fmt: skip
    fixed: list[list[object]] = [["U-1", NEW, "忻州农商银行", "测试", ""]]
    assert bank_accounts_import(data=accounts_book(fixed), name="b.xlsx", user=finance).updated
    again = batch_create(county=county("忻府区"), season=2023)
    assert [line.entitlement.household.code for line in again.lines.all()] == ["U-1"]


def test_the_account_page_checks_as_the_import_does(
    client: Client,
    sent: tuple[Batch, list[Household]],  # noqa: F811
    finance: User,  # noqa: F811
) -> None:
    _, (u1, _) = sent
    url = reverse("subsidy-account", args=[u1.pk])
    login(client, finance)
    page = client.post(url, {"number": "6228-48", "bank": "", "holder": "李四", "notes": ""})
    shown = page.content.decode()
    assert page.status_code == 200
    assert "应为 12 到 30 位数字" in shown and "必填" in shown
    page = client.post(url, {"number": NEW, "bank": "忻州农商银行", "holder": "李四", "notes": ""})
    assert "账户名与户主姓名不同，备注须说明原因" in page.content.decode()
    assert BankAccount.objects.get(household=u1).number == ONE
    page = client.post(
        url, {"number": NEW, "bank": "忻州农商银行", "holder": "李四", "notes": "户主之子代领"}
    )
    assert page.status_code == 302
    assert BankAccount.objects.get(household=u1).holder == "李四"
    assert client.put(url).status_code == 405


def test_only_the_countys_finance_opens_the_account_page(
    client: Client,
    sent: tuple[Batch, list[Household]],  # noqa: F811
    finance: User,  # noqa: F811
    official: User,
    other_official: User,
    municipal: User,
) -> None:
    _, (u1, _) = sent
    url = reverse("subsidy-account", args=[u1.pk])
    assert client.get(url)["Location"].startswith("/accounts/login/")
    for user in (official, municipal):
        login(client, user)
        assert client.get(url).status_code == 403
        assert client.post(url, {"number": NEW, "bank": "行", "holder": "测试"}).status_code == 403
    assert login(client, other_official).get(url).status_code == 404
    dossier = reverse("household-detail", args=[u1.pk])
    assert url not in login(client, official).get(dossier).content.decode()
    assert url in login(client, finance).get(dossier).content.decode()
    assert BankAccount.objects.get(household=u1).number == ONE
