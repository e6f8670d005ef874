"""A payment batch through every state: 草稿 → 公示中 (7 working days over the National Day
holiday) → 县级审核 → 已报银行 (the roster) → the bank's return with a failure, the account
corrected and the line resent in the next batch; a second payment refused by the database."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from heating.models import HeatingPath, PersonalDataAccess, User
from retrofits.models import Household, TenderItem
from subsidies.models import Batch, BatchLine, Entitlement, Kind, Method, Policy, Status
from subsidies.services import subsidy_compute
from subsidies.services.accounts import bank_accounts_import
from subsidies.services.batches import (
    batch_approve,
    batch_create,
    batch_notice,
    batch_publicize,
    batch_return_import,
    batch_roster,
    batch_submit,
)
from tests.conftest import county, login
from tests.test_subsidies import household
from tests.test_subsidies_accounts import book as accounts_book
from tests.test_subsidies_accounts import finance  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db

RETURN_HEADERS = ["身份证号", "一卡通账号", "补贴金额（元）", "发放结果", "失败原因"]


def bank_return(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(RETURN_HEADERS)
    for r in rows:
        sheet.append(r)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@pytest.fixture
def two(tender: list[TenderItem], finance: User) -> list[Household]:  # noqa: F811
    Policy.objects.create(
        plan_year_id=2023, path=HeatingPath.GAS, kind=Kind.EQUIPMENT, method=Method.FIXED,
        amount=Decimal(3000), cap=Decimal(3000), city_share=Decimal("0.5"),
    )  # fmt: skip
    homes = [
        household("K-1", HeatingPath.GAS, equipment=tender[2]),
        household("K-2", HeatingPath.GAS, equipment=tender[2]),
    ]
    subsidy_compute(year=2023)
    rows: list[list[object]] = [["K-1", "622848000000000001", "忻州农商银行", "测试", ""],
            ["K-2", "622848000000000002", "忻州农商银行", "测试", ""]]  # fmt: skip
    assert bank_accounts_import(data=accounts_book(rows), name="b.xlsx", user=finance).created == 2
    return homes


def test_a_batch_goes_through_every_state(
    two: list[Household],
    finance: User,  # noqa: F811
    official: User,
) -> None:
    batch = batch_create(county=county("忻府区"), season=2023)
    assert batch.state == Batch.State.DRAFT and batch.lines.count() == 2
    # From Thursday 2023-09-28: 9/29–10/6 are the Mid-Autumn and National Day holidays, 10/7
    # and 10/8 make-up working days; the seventh working day is Friday 10/13.
    batch = batch_publicize(batch=batch, start=dt.date(2023, 9, 28))
    assert batch.publicity_end == dt.date(2023, 10, 13)
    notice = load_workbook(io.BytesIO(batch_notice(batch=batch))).worksheets[0]
    cells = [c for row in notice.iter_rows(values_only=True) for c in row]
    assert "622848000000000001" not in cells
    assert not any(isinstance(c, str) and c.startswith("14090219800101") for c in cells)
    with pytest.raises(ValidationError, match="至2023-10-13，尚未结束"):
        batch_submit(batch=batch, today=dt.date(2023, 10, 13))
    batch = batch_submit(batch=batch, today=dt.date(2023, 10, 16))
    with pytest.raises(PermissionDenied):
        batch_approve(batch=batch, user=official)
    batch = batch_approve(batch=batch, user=finance)
    assert batch.state == Batch.State.SENT
    roster = load_workbook(io.BytesIO(batch_roster(batch=batch, user=finance))).worksheets[0]
    rows = list(roster.iter_rows(values_only=True))
    assert rows[1][4] == "622848000000000001" and rows[1][7] == 3000
    assert PersonalDataAccess.objects.get(user=finance, kind="export").households == 2
    with pytest.raises(PermissionDenied):
        batch_roster(batch=batch, user=official)

    k1, k2 = two
    back = bank_return([
        [k1.id_number, "622848000000000001", 3000, "成功", ""],
        [k2.id_number, "622848000000000002", 3000, "失败", "账户已销户"],
    ])  # fmt: skip
    outcome = batch_return_import(
        batch=batch, data=back, name="r.xlsx", user=finance, paid_on=dt.date(2023, 10, 20)
    )
    assert (outcome.errors, outcome.paid, outcome.failed, outcome.waiting) == ([], 1, 1, 0)
    batch.refresh_from_db()
    assert batch.state == Batch.State.RECONCILED
    assert Entitlement.objects.get(household=k1).status == Status.PAID
    assert Entitlement.objects.get(household=k2).status == Status.UNPAID  # 待更正

    # The account corrected: the failed entitlement joins the next batch, the paid one never.
    fixed: list[list[object]] = [["K-2", "622848000000000099", "忻州农商银行", "测试", ""]]
    assert (
        bank_accounts_import(data=accounts_book(fixed), name="b2.xlsx", user=finance).updated == 1
    )
    again = batch_create(county=county("忻府区"), season=2023)
    assert [line.entitlement.household.code for line in again.lines.all()] == ["K-2"]
    with pytest.raises(ValidationError, match="没有可发放的补贴"):
        batch_create(county=county("忻府区"), season=2023)
    paid = Entitlement.objects.get(household=k1)
    with pytest.raises(IntegrityError), transaction.atomic():
        BatchLine.objects.create(batch=again, entitlement=paid, amount_fen=paid.amount_fen)


def test_a_return_that_matches_nothing_is_refused_by_row(
    two: list[Household],
    finance: User,  # noqa: F811
) -> None:
    batch = batch_create(county=county("忻府区"), season=2023)
    batch = batch_publicize(batch=batch, start=dt.date(2023, 11, 1))
    batch = batch_approve(
        batch=batch_submit(batch=batch, today=dt.date(2023, 11, 20)), user=finance
    )
    k1, _ = two
    back = bank_return([
        [k1.id_number, "622848000000000001", 2999, "成功", ""],
        [k1.id_number, "622848000000000001", 3000, "失败", ""],
        [k1.id_number, "622848000000000001", 3000, "退回", ""],
    ])  # fmt: skip
    outcome = batch_return_import(
        batch=batch, data=back, name="r.xlsx", user=finance, paid_on=dt.date(2023, 12, 1)
    )
    assert [str(e) for e in outcome.errors] == [
        "第2行「身份证号」：本批次中没有身份证号、一卡通账号和金额都相符的待发放记录",
        "第3行「失败原因」：发放结果为失败时必填",
        "第4行「发放结果」：「退回」应为 成功 或 失败",
    ]
    assert not Entitlement.objects.filter(status=Status.PAID).exists()


def test_an_entitlement_in_a_live_batch_is_not_recomputed(two: list[Household]) -> None:
    batch_create(county=county("忻府区"), season=2023)
    rule = Policy.objects.get()
    rule.cap = Decimal(2000)
    rule.save()
    outcome = subsidy_compute(year=2023)
    assert outcome.updated == 0  # published as 3,000: paid as published, settled afterwards


def test_the_batch_pages(
    client: Client,
    two: list[Household],
    finance: User,  # noqa: F811
    official: User,
    other_official: User,
) -> None:
    url = reverse("subsidy-batches")
    step = reverse("subsidy-batch-step")
    login(client, official).post(step, {"step": "create", "county": county("忻府区").pk})
    batch = Batch.objects.get()
    page = client.get(url).content.decode()
    assert "开始公示" in page and "subsidies/batches/roster/" not in page
    client.post(step, {"step": "publicize", "batch": batch.pk})
    batch.refresh_from_db()
    assert batch.state == Batch.State.PUBLICITY and batch.publicity_end is not None
    # Today is inside the publicity: the step is refused with the reason.
    answer = client.post(step, {"step": "submit", "batch": batch.pk}, follow=True)
    assert "尚未结束" in answer.content.decode()
    batch = batch_submit(batch=batch, today=batch.publicity_end + dt.timedelta(days=1))
    assert client.post(step, {"step": "approve", "batch": batch.pk}).status_code == 403
    notice = client.get(reverse("subsidy-batch-notice"), {"batch": batch.pk}).content.decode()
    k1, _ = two
    assert k1.id_number not in notice and k1.id_number[:6] + "********" in notice
    roster = reverse("subsidy-batch-roster")
    assert client.get(roster, {"batch": batch.pk}).status_code == 403
    login(client, finance).post(step, {"step": "approve", "batch": batch.pk})
    batch.refresh_from_db()
    assert batch.state == Batch.State.SENT
    answer = client.get(roster, {"batch": batch.pk})
    assert answer.status_code == 200 and answer["Content-Type"].startswith("application/vnd")
    # Another county's users never see it.
    login(client, other_official)
    assert client.get(reverse("subsidy-batch-notice"), {"batch": batch.pk}).status_code == 404
    assert client.post(step, {"step": "publicize", "batch": batch.pk}).status_code == 404
    assert client.get(roster).status_code == 404
