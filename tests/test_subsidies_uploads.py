"""The 县级财政's upload pages: the bank's return of a batch (checked, every error by row and
column, then written only after 确认导入) and the households' 一卡通 accounts; both through the
bounded reader, both all or nothing, both for the county's 县级财政 only."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from heating.models import HeatingPath, User
from retrofits.models import Household, TenderItem
from subsidies.models import (
    BankAccount,
    Batch,
    BatchLine,
    Entitlement,
    Kind,
    Method,
    Policy,
    Status,
)
from subsidies.services import subsidy_compute
from subsidies.services.accounts import bank_accounts_import
from subsidies.services.batches import batch_approve, batch_create, batch_publicize, batch_submit
from tests.conftest import county, login
from tests.test_hostile_uploads import far_cell
from tests.test_subsidies import household
from tests.test_subsidies_accounts import book as accounts_book
from tests.test_subsidies_accounts import finance  # noqa: F401  (a fixture)
from tests.test_subsidies_batches import bank_return

pytestmark = pytest.mark.django_db

ONE, TWO = "622848000000000001", "622848000000000002"


@pytest.fixture
def sent(tender: list[TenderItem], finance: User) -> tuple[Batch, list[Household]]:  # noqa: F811
    """忻府区's batch of two households' equipment subsidies (3,000 元 each), at the bank."""
    Policy.objects.create(
        plan_year_id=2023, path=HeatingPath.GAS, kind=Kind.EQUIPMENT, method=Method.FIXED,
        amount=Decimal(3000), cap=Decimal(3000), city_share=Decimal("0.5"),
    )  # fmt: skip
    homes = [
        household("U-1", HeatingPath.GAS, equipment=tender[2]),
        household("U-2", HeatingPath.GAS, equipment=tender[2]),
    ]
    subsidy_compute(year=2023)
    rows: list[list[object]] = [["U-1", ONE, "忻州农商银行", "测试", ""],
                                ["U-2", TWO, "忻州农商银行", "测试", ""]]  # fmt: skip
    assert bank_accounts_import(data=accounts_book(rows), name="b.xlsx", user=finance).created == 2
    batch = batch_publicize(
        batch=batch_create(county=county("忻府区"), season=2023), start=dt.date(2024, 4, 1)
    )
    batch = batch_submit(batch=batch, today=dt.date(2024, 4, 30))
    return batch_approve(batch=batch, user=finance), homes


def upload(data: bytes, name: str = "回盘.xlsx", **extra: str) -> dict[str, object]:
    return {"file": SimpleUploadedFile(name, data), "paid_on": "2024-05-06", **extra}


def token_of(page: str) -> str:
    start = page.index('name="token" value="') + len('name="token" value="')
    return page[start : page.index('"', start)]


# ---------------------------------------------------------------- the bank's return


def test_the_return_is_checked_then_written_on_confirmation(
    client: Client,
    sent: tuple[Batch, list[Household]],
    finance: User,  # noqa: F811
) -> None:
    batch, (u1, u2) = sent
    url = reverse("subsidy-batch-return", args=[batch.pk])
    assert "上传并检查" in login(client, finance).get(url).content.decode()
    back = bank_return([
        [u1.id_number, ONE, 3000, "成功", ""],
        [u2.id_number, TWO, 3000, "失败", "账户已销户"],
    ])  # fmt: skip
    page = client.post(url, upload(back)).content.decode()
    assert "检查通过，确认后写入" in page and "成功 1 笔，3,000.00 元" in page
    assert "账户已销户：1 笔" in page and "不能撤销" in page
    assert ONE not in page and u1.id_number not in page
    # Checked, nothing written yet.
    assert not Entitlement.objects.filter(status=Status.PAID).exists()
    assert batch.lines.filter(result=BatchLine.Result.PENDING).count() == 2
    token = token_of(page)
    answer = client.post(url, {"token": token}, follow=True)
    assert "银行回盘已导入：成功 1 笔，失败 1 笔（待更正），未回盘 0 笔" in answer.content.decode()
    assert Entitlement.objects.get(household=u1).paid_on == dt.date(2024, 5, 6)
    assert Entitlement.objects.get(household=u2).status == Status.UNPAID
    line = batch.lines.get(entitlement__household=u2)
    assert (line.result, line.reason, line.answered_at is not None) == (
        "failed",
        "账户已销户",
        True,
    )
    batch.refresh_from_db()
    assert batch.state == Batch.State.RECONCILED
    # A second click on the same confirmation writes nothing.
    again = client.post(url, {"token": token}, follow=True).content.decode()
    assert "只有“已报银行”的批次可以导入银行回盘" in again
    assert Entitlement.objects.filter(status=Status.PAID).count() == 1


def test_a_return_with_errors_lists_each_by_row_and_column_and_offers_no_confirmation(
    client: Client,
    sent: tuple[Batch, list[Household]],
    finance: User,  # noqa: F811
) -> None:
    batch, (u1, u2) = sent
    back = bank_return([
        [u1.id_number, ONE, 2999, "成功", ""],
        [u2.id_number, TWO, 3000, "失败", ""],
        [u2.id_number, TWO, "三千", "退回", ""],
    ])  # fmt: skip
    url = reverse("subsidy-batch-return", args=[batch.pk])
    page = login(client, finance).post(url, upload(back)).content.decode()
    assert "有 4 处错误，未写入任何数据" in page
    for row, column, message in [
        (2, "身份证号", "本批次中没有身份证号、一卡通账号和金额都相符的待发放记录"),
        (3, "失败原因", "发放结果为失败时必填"),
        (4, "补贴金额（元）", "「三千」应为数字"),
        (4, "发放结果", "「退回」应为 成功 或 失败"),
    ]:
        assert f"<td>{row}</td><td>{column}</td><td>{message}</td>" in page
    assert 'name="token"' not in page and ONE not in page and u1.id_number not in page
    assert not Entitlement.objects.filter(status=Status.PAID).exists()


def test_bad_uploads_and_forged_confirmations_write_nothing(
    client: Client,
    sent: tuple[Batch, list[Household]],
    finance: User,  # noqa: F811
    tmp_path: Path,
) -> None:
    batch, (u1, _) = sent
    url = reverse("subsidy-batch-return", args=[batch.pk])
    login(client, finance)
    page = client.post(url, upload(b"not a workbook", name="回盘.txt")).content.decode()
    assert "请上传 .xlsx 或 .csv 文件" in page
    hostile = far_cell(tmp_path / "far.xlsx", declared=True).read_bytes()
    page = client.post(url, upload(hostile)).content.decode()
    assert "超过每次导入" in page and "请分成几个文件上传" in page  # the bounded reader
    future = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    back = bank_return([[u1.id_number, ONE, 3000, "成功", ""]])
    page = client.post(url, upload(back, paid_on=future)).content.decode()
    assert "发放日期不能晚于今天" in page
    # A confirmation forged, or made for another user, is refused.
    for token in ("x", "eyJiYXRjaCI6MX0:forged"):
        answer = client.post(url, {"token": token}, follow=True).content.decode()
        assert "确认已过期或无效，未写入任何数据" in answer
    token = token_of(client.post(url, upload(back)).content.decode())
    other = User.objects.create(username="xf-cz-2", role=finance.role, county=finance.county)
    answer = login(client, other).post(url, {"token": token}, follow=True).content.decode()
    assert "确认已过期或无效" in answer
    assert not Entitlement.objects.filter(status=Status.PAID).exists()


def test_only_the_countys_finance_may_upload_a_return(
    client: Client,
    sent: tuple[Batch, list[Household]],
    official: User,
    other_official: User,
    municipal: User,
) -> None:
    batch, _ = sent
    url = reverse("subsidy-batch-return", args=[batch.pk])
    assert client.get(url)["Location"].startswith("/accounts/login/")
    for user in (official, municipal):
        answer = login(client, user).get(url)
        assert answer.status_code == 403 and "县级财政" in answer.content.decode()
        assert client.post(url, {"token": "x"}).status_code == 403
    assert login(client, other_official).get(url).status_code == 404
    assert client.get(reverse("subsidy-batch-return", args=[999999])).status_code == 404


def test_the_return_page_refuses_other_methods_and_batches_not_at_the_bank(
    client: Client,
    sent: tuple[Batch, list[Household]],
    finance: User,  # noqa: F811
) -> None:
    batch, _ = sent
    url = reverse("subsidy-batch-return", args=[batch.pk])
    login(client, finance)
    assert client.put(url).status_code == 405 and client.delete(url).status_code == 405
    Batch.objects.filter(pk=batch.pk).update(state=Batch.State.REVIEW)
    page = client.get(url).content.decode()
    assert "只有“已报银行”的批次可以导入银行回盘" in page and "上传并检查" not in page
    answer = client.post(url, upload(bank_return([]))).content.decode()
    assert "只有“已报银行”的批次可以导入银行回盘" in answer


def test_the_batches_page_links_the_return_for_the_countys_finance_only(
    client: Client,
    sent: tuple[Batch, list[Household]],
    finance: User,  # noqa: F811
    official: User,
) -> None:
    batch, _ = sent
    link = reverse("subsidy-batch-return", args=[batch.pk])
    page = login(client, finance).get(reverse("subsidy-batches"), {"year": 2023})
    assert link in page.content.decode()
    assert reverse("subsidy-accounts-import") in page.content.decode()
    page = login(client, official).get(reverse("subsidy-batches"), {"year": 2023})
    assert link not in page.content.decode()
    assert reverse("subsidy-accounts-import") not in page.content.decode()


# ---------------------------------------------------------------- the accounts' file


def test_the_accounts_upload_writes_all_or_nothing(
    client: Client,
    tender: list[TenderItem],
    finance: User,  # noqa: F811
) -> None:
    household("A-1", HeatingPath.GAS, equipment=tender[2])
    household("A-2", HeatingPath.GAS, equipment=tender[2])
    url = reverse("subsidy-accounts-import")
    login(client, finance)
    good: list[list[object]] = [["A-1", ONE, "忻州农商银行", "测试", ""],
                                ["A-2", TWO, "忻州农商银行", "测试", ""]]  # fmt: skip
    page = client.post(url, {"file": SimpleUploadedFile("a.xlsx", accounts_book(good)),
                             "dry_run": "on"}).content.decode()  # fmt: skip
    assert "检查通过，未写入：共 2 行，新增 2 户" in page and not BankAccount.objects.exists()
    bad: list[list[object]] = [*good, ["A-9", "1234", "", "测试", ""]]
    shown = client.post(
        url, {"file": SimpleUploadedFile("a.xlsx", accounts_book(bad))}
    ).content.decode()
    assert "有 3 处错误，未写入任何数据" in shown
    assert "<td>4</td><td>开户银行</td><td></td><td>必填，不能为空</td>" in shown
    assert "<td>4</td><td>户编号</td><td>A-9</td><td>台账中没有户编号「A-9」</td>" in shown
    assert "<td>4</td><td>一卡通账号</td><td>（不显示）</td><td>应为 12 到 30 位数字</td>" in shown
    assert not BankAccount.objects.exists()
    done = client.post(url, {"file": SimpleUploadedFile("a.xlsx", accounts_book(good))})
    assert "导入完成：共 2 行，新增 2 户" in done.content.decode()
    assert ONE not in done.content.decode()
    assert BankAccount.objects.get(household__code="A-1").number == ONE
    template = client.get(reverse("subsidy-accounts-template"))
    assert template.status_code == 200 and template["Content-Type"].startswith("application/vnd")


def test_the_accounts_upload_is_the_finance_roles_and_refuses_what_hurts(
    client: Client,
    finance: User,  # noqa: F811
    official: User,
    municipal: User,
    tmp_path: Path,
) -> None:
    url = reverse("subsidy-accounts-import")
    assert client.get(url)["Location"].startswith("/accounts/login/")
    for user in (official, municipal):
        login(client, user)
        assert client.get(url).status_code == 403
        assert client.get(reverse("subsidy-accounts-template")).status_code == 403
        assert client.post(url, {}).status_code == 403
    login(client, finance)
    assert client.put(url).status_code == 405
    hostile = far_cell(tmp_path / "far.xlsx", declared=True).read_bytes()
    page = client.post(url, {"file": SimpleUploadedFile("a.xlsx", hostile)}).content.decode()
    assert "请分成几个文件上传" in page
    broken = client.post(url, {"file": SimpleUploadedFile("a.xlsx", b"PK\x03\x04 broken")})
    assert broken.status_code == 200 and "无法读取文件" in broken.content.decode()
