"""The households' 一卡通 accounts (一卡通账户): the import, all or nothing, an upsert by 户编号.
Kept by the county's 县级财政 (Action.SUBSIDY_PAY), who alone sees the numbers in full."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from simple_history.utils import bulk_create_with_history

from heating import access
from heating.access import Action
from heating.models import User
from heating.sheets import SheetError
from retrofits.models import Household
from subsidies.models import BankAccount
from subsidies.sheets import BANK_COLUMNS, BANK_TEMPLATE, read_small, text

HEADERS = {c.field: c.header for c in BANK_COLUMNS}
ACCOUNT_NUMBER = re.compile(r"\d{12,30}")
LIMITS = {"bank": 60, "holder": 50, "notes": 200}
REQUIRED = ("code", "number", "bank", "holder")


def account_problems(
    values: dict[str, str], household: Household | None
) -> list[tuple[str, str, str]]:
    """What is wrong with one account's number, bank, holder and notes once given (REQUIRED are
    checked first): (field, the value as it may be shown, message). The import's rows and the
    form both ask here. A number is never shown back: the errors are kept and shown to whoever
    uploaded."""
    problems: list[tuple[str, str, str]] = []
    if values["number"] and not ACCOUNT_NUMBER.fullmatch(values["number"]):
        problems.append(("number", "（不显示）", "应为 12 到 30 位数字"))
    for f, limit in LIMITS.items():
        if len(values[f]) > limit:
            problems.append((f, values[f], f"最多{limit}个字符"))
    if (
        household is not None
        and values["holder"]
        and values["holder"] != household.head_name
        and not values["notes"]
    ):
        problems.append(
            ("notes", "", "账户名与户主姓名不同，备注须说明原因（如代领人与户主的关系）")
        )
    return problems


@dataclass
class BankImport:
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[SheetError] = field(default_factory=list)


@transaction.atomic
def bank_accounts_import(
    *, data: bytes, name: str, user: User | None, dry_run: bool = False
) -> BankImport:
    """Every row written or none. Errors name the row and column but never echo an account
    number: the error list is shown to whoever uploaded, and kept."""
    sheet = read_small(data, name, BANK_TEMPLATE)
    allowed = (
        access.Scope(everything=True) if user is None else access.scope(user, Action.SUBSIDY_PAY)
    )
    outcome = BankImport()
    rows = []
    for number, cells in sheet.rows:
        raw = {f: cells[i] if i < len(cells) else None for f, i in sheet.positions.items()}
        rows.append((number, {f: text(raw.get(f)) for f in HEADERS}))
    outcome.total = len(rows)
    codes = sorted({v["code"] for _, v in rows if v["code"]})
    households = {
        h.code: h
        for h in Household.objects.filter(code__in=codes).only("code", "county_id", "head_name")
    }
    existing = {
        a.household_id: a
        for a in BankAccount.objects.select_for_update().filter(household__code__in=codes)
    }
    seen: dict[str, int] = {}
    changed: list[tuple[int, BankAccount]] = []
    for number, values in rows:
        problems: list[tuple[str, str, str]] = []  # field, value shown, message
        for f in REQUIRED:
            if not values[f]:
                problems.append((f, "", "必填，不能为空"))
        household = households.get(values["code"]) if values["code"] else None
        if values["code"] and household is None:
            problems.append(("code", values["code"], f"台账中没有户编号「{values['code']}」"))
        elif household is not None and household.county_id not in allowed:
            problems.append(("code", values["code"], "不是本县的户，无权登记一卡通账户"))
        if values["code"] and seen.setdefault(values["code"], number) != number:
            problems.append(("code", values["code"], f"与第{seen[values['code']]}行是同一户"))
        problems += account_problems(values, household)
        if problems:
            outcome.errors += [SheetError(number, HEADERS[f], v, m) for f, v, m in problems]
            continue
        assert household is not None
        account = existing.get(household.pk) or BankAccount(household=household)
        wanted = (values["number"], values["bank"], values["holder"], values["notes"])
        if account.pk and (account.number, account.bank, account.holder, account.notes) == wanted:
            outcome.unchanged += 1
            continue
        account.number, account.bank, account.holder, account.notes = wanted
        account.last4 = values["number"][-4:]
        changed.append((number, account))
    if outcome.errors:
        return outcome
    # New accounts in bulk with their history rows (a county's first file: thousands), changed
    # ones one by one, each change in its history with the row that made it.
    new = [account for _, account in changed if account.pk is None]
    bulk_create_with_history(
        new,
        BankAccount,
        batch_size=2000,
        default_user=user,
        default_change_reason=f"导入{BANK_TEMPLATE}（{name}）",
    )
    outcome.created = len(new)
    created = {id(account) for account in new}
    for number, account in changed:
        if id(account) in created:
            continue
        account._change_reason = f"导入{BANK_TEMPLATE}（{name}第{number}行）"  # type: ignore[attr-defined]
        if user is not None:
            account._history_user = user  # type: ignore[attr-defined]
        account.save()
        outcome.updated += 1
    if dry_run:
        transaction.set_rollback(True)
    return outcome


@transaction.atomic
def bank_account_save(
    *, household: Household, number: str, bank: str, holder: str, notes: str, user: User
) -> BankAccount:
    """One household's account, registered or corrected on its page by the county's 县级财政.
    Saving counts as the correction a failed payment waits for (待更正), even when the number
    is the same (the bank unfroze it): the entitlement joins the next batch."""
    access.require(user, Action.SUBSIDY_PAY, household.county_id)
    values = {"number": number.strip(), "bank": bank.strip(), "holder": holder.strip(),
              "notes": notes.strip()}  # fmt: skip
    problems = [(f, "", "必填，不能为空") for f in REQUIRED[1:] if not values[f]]
    problems += account_problems(values, household)
    if problems:
        errors: dict[str, list[str]] = {}
        for f, _, message in problems:
            errors.setdefault(f, []).append(message)
        raise ValidationError(errors)
    account = BankAccount.objects.select_for_update().filter(
        household=household
    ).first() or BankAccount(household=household)
    account.number, account.bank = values["number"], values["bank"]
    account.holder, account.notes = values["holder"], values["notes"]
    account.last4 = values["number"][-4:]
    account.full_clean()
    account._change_reason = "更正一卡通账户" if account.pk else "登记一卡通账户"  # type: ignore[attr-defined]
    account._history_user = user  # type: ignore[attr-defined]
    account.save()
    return account
