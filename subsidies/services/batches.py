"""Payment batches (发放批次) and the 一卡通 roster: 草稿 → 公示中 (7 working days, China's holidays
and make-up days counted) → 县级审核 (the county's 县级财政 approves) → 已报银行 (the roster, full ID
and account numbers, for that role only, every download recorded) → 已对账 from the bank's return
(成功 / 失败 with a reason). A failed line leaves its entitlement unpaid (待更正): once the
account is corrected it joins the next batch."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone

from heating import access, workdays
from heating.access import Action, mask_id_number
from heating.models import County, PersonalDataAccess, User
from heating.services import personal_access_record
from heating.sheets import Column, SheetError, read_sheet, write_sheet
from subsidies.models import (
    BankAccount,
    Batch,
    BatchLine,
    Entitlement,
    Status,
    yuan,
)
from subsidies.services.payments import entitlements_mark_paid
from subsidies.sheets import Problem, parse_decimal, text

PUBLICITY_WORKING_DAYS = 7
CHUNK = 5000  # ids in one IN (…): well under SQLite's bound on a statement's parameters


@transaction.atomic
def batch_create(*, county: County, season: int) -> Batch:
    """A draft batch of the county's unpaid entitlements of the season whose household has a
    一卡通 account and that no live batch holds. A failed line's entitlement is free again once
    the account has been corrected (saved after the bank's return); until then it waits (待更正)."""
    free = (
        Entitlement.objects.filter(county=county, season=season, status=Status.UNPAID)
        .filter(household__bank_account__isnull=False)
        .exclude(lines__result__in=[BatchLine.Result.PENDING, BatchLine.Result.PAID])
        .exclude(Exists(_failed_since_saved()))
        .order_by("household__code", "kind")
        .values_list("pk", "amount_fen")
    )
    rows = list(free)
    if not rows:
        raise ValidationError(
            f"{county.short_name}{season}年度没有可发放的补贴"
            "（已核算、未发放、已登记一卡通账户且不在其他批次中）。"
        )
    batch = Batch.objects.create(county=county, season=season)
    BatchLine.objects.bulk_create(
        [BatchLine(batch=batch, entitlement_id=pk, amount_fen=fen) for pk, fen in rows],
        batch_size=5000,
    )
    return batch


def _failed_since_saved() -> QuerySet[BatchLine]:
    """An entitlement's failed lines that the bank answered after its account was last saved
    (a line answered before the field existed, with no time, counts as corrected)."""
    return BatchLine.objects.filter(
        entitlement=OuterRef("pk"),
        result=BatchLine.Result.FAILED,
        answered_at__gte=OuterRef("household__bank_account__updated_at"),
    )


def awaiting_correction(entitlements: QuerySet[Entitlement]) -> QuerySet[BatchLine]:
    """待更正: the last failed line of each of these unpaid entitlements whose account has not
    been saved since the bank refused it, newest first."""
    waiting = entitlements.filter(status=Status.UNPAID).filter(Exists(_failed_since_saved()))
    return (
        BatchLine.objects.filter(result=BatchLine.Result.FAILED, entitlement__in=waiting)
        .filter(answered_at__gte=F("entitlement__household__bank_account__updated_at"))
        .select_related("batch", "entitlement__household__bank_account")
        .order_by("-answered_at", "entitlement__household__code", "pk")
    )


def _locked(batch: Batch, state: str) -> Batch:
    # The row locked: two clicks (or two officials) cannot move one batch twice.
    fresh = Batch.objects.select_for_update().get(pk=batch.pk)
    if fresh.state != state:
        raise ValidationError(
            f"批次状态为“{fresh.get_state_display()}”，"
            f"只有“{Batch.State(state).label}”的批次可以进行此操作。"
        )
    return fresh


@transaction.atomic
def batch_publicize(*, batch: Batch, start: dt.date) -> Batch:
    """草稿 → 公示中: the village lists go up on `start`, for 7 working days after it."""
    batch = _locked(batch, Batch.State.DRAFT)
    batch.state = Batch.State.PUBLICITY
    batch.publicity_start = start
    batch.publicity_end = workdays.add_working_days(start, PUBLICITY_WORKING_DAYS)
    batch.save()
    return batch


@transaction.atomic
def batch_submit(*, batch: Batch, today: dt.date) -> Batch:
    """公示中 → 县级审核, once the publicity's last working day has passed."""
    batch = _locked(batch, Batch.State.PUBLICITY)
    assert batch.publicity_end is not None
    if today <= batch.publicity_end:
        raise ValidationError(
            f"公示期（{PUBLICITY_WORKING_DAYS}个工作日）至{batch.publicity_end:%Y-%m-%d}，尚未结束。"
        )
    batch.state = Batch.State.REVIEW
    batch.save()
    return batch


@transaction.atomic
def batch_approve(*, batch: Batch, user: User) -> Batch:
    """县级审核 → 已报银行, by the county's 县级财政."""
    access.require(user, Action.SUBSIDY_PAY, batch.county_id)
    batch = _locked(batch, Batch.State.REVIEW)
    batch.state = Batch.State.SENT
    batch.approved_by = user
    batch.approved_at = timezone.now()
    batch.save()
    return batch


# ---------------------------------------------------------------- the lists

NOTICE_COLUMNS = (
    Column("township", "乡（镇、街道）", True, ""),
    Column("village", "村（社区）", True, ""),
    Column("code", "户编号", True, "", format="text"),
    Column("name", "户主姓名", True, ""),
    Column("id_number", "身份证号", True, "已隐去中间8位", format="text"),
    Column("kind", "补贴项目", True, ""),
    Column("amount", "补贴金额（元）", True, "", format="number"),
)
ROSTER_COLUMNS = (
    Column("n", "序号", True, "", format="number"),
    Column("code", "户编号", True, "", format="text"),
    Column("name", "户主姓名", True, ""),
    Column("id_number", "身份证号", True, "", format="text"),
    Column("account", "一卡通账号", True, "", format="text"),
    Column("bank", "开户银行", True, ""),
    Column("kind", "补贴项目", True, ""),
    Column("amount", "补贴金额（元）", True, "", format="number"),
)


def _lines(batch: Batch) -> Iterator[BatchLine]:
    return (
        batch.lines.filter(result=BatchLine.Result.PENDING)
        .select_related(
            "entitlement__household__township",
            "entitlement__household__village",
            "entitlement__household__bank_account",
        )
        .order_by(
            "entitlement__household__township__code",
            "entitlement__household__village__code",
            "entitlement__household__code",
            "pk",
        )
        .iterator(chunk_size=2000)
    )


@dataclass(frozen=True)
class NoticeRow:
    township: str
    village: str
    code: str
    name: str
    id_number: str  # masked: the 公示 is posted in the village
    kind: str
    amount: Decimal


def notice_rows(batch: Batch) -> Iterator[NoticeRow]:
    """The batch's lines by township and village, as the 公示 lists them: whoever asks."""
    for line in _lines(batch):
        h = line.entitlement.household
        yield NoticeRow(
            h.township.name, h.village.name, h.code, h.head_name, mask_id_number(h.id_number),
            line.entitlement.label, line.amount,
        )  # fmt: skip


def batch_notice(*, batch: Batch) -> bytes:
    """The village lists for the 公示 as a workbook: masked ID numbers, no account numbers."""
    rows = (
        (r.township, r.village, r.code, r.name, r.id_number, r.kind, r.amount)
        for r in notice_rows(batch)
    )
    return write_sheet(rows, NOTICE_COLUMNS, title=f"{batch.season}年度补贴公示")


def batch_roster(*, batch: Batch, user: User) -> bytes:
    """The roster for the bank: full ID and 一卡通 numbers, for the county's 县级财政 only, and
    the download recorded. Written as it is read (constant memory)."""
    access.require(user, Action.SUBSIDY_PAY, batch.county_id)
    if batch.state not in (Batch.State.SENT, Batch.State.RECONCILED):
        raise ValidationError("批次经县级财政审核后才能下载发放花名册。")
    count = batch.lines.filter(result=BatchLine.Result.PENDING).count()

    def rows() -> Iterator[Sequence[object]]:
        for n, line in enumerate(_lines(batch), start=1):
            h = line.entitlement.household
            account: BankAccount = h.bank_account
            yield (
                n, h.code, h.head_name, h.id_number, account.number, account.bank,
                line.entitlement.label, line.amount,
            )  # fmt: skip

    data = write_sheet(rows(), ROSTER_COLUMNS, title="一卡通发放花名册")
    personal_access_record(
        user=user,
        kind=PersonalDataAccess.Kind.EXPORT,
        households=count,
        detail=f"一卡通发放花名册：{batch}",
    )
    return data


# ---------------------------------------------------------------- the bank's return

RETURN_TEMPLATE = "银行回盘"
RETURN_COLUMNS = (
    Column("id_number", "身份证号", True, "", format="text"),
    Column("account", "一卡通账号", True, "", format="text"),
    Column("amount", "补贴金额（元）", True, "", format="number"),
    Column("result", "发放结果", True, "成功 或 失败"),
    Column("reason", "失败原因", False, "失败时必填"),
)
RESULTS = {"成功": BatchLine.Result.PAID, "失败": BatchLine.Result.FAILED}


@dataclass
class Reconciliation:
    paid: int = 0
    failed: int = 0
    waiting: int = 0  # lines the return did not answer
    errors: list[SheetError] = field(default_factory=list)
    # What the checked return answers: (line, 成功 or 失败, reason), applied by batch_return_apply.
    answers: list[tuple[int, str, str]] = field(default_factory=list)
    paid_fen: int = 0
    failed_fen: int = 0
    reasons: dict[str, int] = field(default_factory=dict)  # failures by reason

    @property
    def paid_amount(self) -> Decimal:
        return yuan(self.paid_fen)

    @property
    def failed_amount(self) -> Decimal:
        return yuan(self.failed_fen)


@transaction.atomic
def batch_return_import(
    *, batch: Batch, data: bytes, name: str, user: User, paid_on: dt.date
) -> Reconciliation:
    """The bank's return, all or nothing: checked (batch_return_check), then applied."""
    checked = batch_return_check(batch=batch, data=data, name=name, user=user)
    if checked.errors:
        return checked
    return batch_return_apply(batch=batch, answers=checked.answers, user=user, paid_on=paid_on)


def batch_return_check(*, batch: Batch, data: bytes, name: str, user: User) -> Reconciliation:
    """Read the bank's return and match each row to a line of the batch by ID number, account
    number and amount; every error by row and column. Writes nothing: what it found is in
    `answers`, for batch_return_apply (at once from the CLI, after a confirmation on the page)."""
    access.require(user, Action.SUBSIDY_PAY, batch.county_id)
    batch = Batch.objects.get(pk=batch.pk)
    if batch.state != Batch.State.SENT:
        raise ValidationError("只有“已报银行”的批次可以导入银行回盘。")
    headers = {c.field: c.header for c in RETURN_COLUMNS}
    waiting: dict[tuple[str, str, int], list[BatchLine]] = {}
    for line in _lines(batch):
        h = line.entitlement.household
        key = (h.id_number, h.bank_account.number, line.amount_fen)
        waiting.setdefault(key, []).append(line)
    outcome = Reconciliation()
    sheet = read_sheet(data, name, RETURN_COLUMNS, template=RETURN_TEMPLATE)
    for number, cells in sheet.rows:
        raw = {f: cells[i] if i < len(cells) else None for f, i in sheet.positions.items()}
        values = {f: text(raw.get(f)) for f in headers}
        problems: list[tuple[str, str]] = []
        for f in ("id_number", "account", "amount", "result"):
            if not values[f]:
                problems.append((f, "必填，不能为空"))
        fen = None
        if values["amount"]:
            try:
                fen = int(parse_decimal(raw.get("amount"), places=2, digits=14) * 100)
            except Problem as exc:
                problems.append(("amount", str(exc)))
        result = RESULTS.get(values["result"]) if values["result"] else None
        if values["result"] and result is None:
            problems.append(("result", f"「{values['result']}」应为 成功 或 失败"))
        if result == BatchLine.Result.FAILED and not values["reason"]:
            problems.append(("reason", "发放结果为失败时必填"))
        if not problems and fen is not None:
            found = waiting.get((values["id_number"].upper(), values["account"], fen))
            if not found:
                problems.append(
                    ("id_number", "本批次中没有身份证号、一卡通账号和金额都相符的待发放记录")
                )
            else:
                line = found.pop()
                reason = "" if result == BatchLine.Result.PAID else values["reason"][:200]
                outcome.answers.append((line.pk, str(result), reason))
                if result == BatchLine.Result.PAID:
                    outcome.paid += 1
                    outcome.paid_fen += fen
                else:
                    outcome.failed += 1
                    outcome.failed_fen += fen
                    outcome.reasons[reason] = outcome.reasons.get(reason, 0) + 1
        # Never echo the numbers: the errors are shown and kept.
        outcome.errors += [SheetError(number, headers[f], "", m) for f, m in problems]
    outcome.waiting = sum(len(lines) for lines in waiting.values())
    return outcome


@transaction.atomic
def batch_return_apply(
    *, batch: Batch, answers: Sequence[tuple[int, str, str]], user: User, paid_on: dt.date
) -> Reconciliation:
    """Write a checked return: 成功 pays the entitlement, 失败 leaves it to be corrected. Every
    answered line must still be a pending line of this batch, so that a second click, or a
    return checked before another was imported, writes nothing."""
    access.require(user, Action.SUBSIDY_PAY, batch.county_id)
    batch = Batch.objects.select_for_update().get(pk=batch.pk)
    if batch.state != Batch.State.SENT:
        raise ValidationError("只有“已报银行”的批次可以导入银行回盘。")
    ids = [pk for pk, _, _ in answers]
    pending: dict[int, int] = {}  # line -> entitlement
    for at in range(0, len(ids), CHUNK):
        pending.update(
            batch.lines.filter(pk__in=ids[at : at + CHUNK], result=BatchLine.Result.PENDING)
            .values_list("pk", "entitlement_id")
        )  # fmt: skip
    if len(pending) != len(set(ids)) or len(ids) != len(set(ids)):
        raise ValidationError("回盘中的记录已导入或已不在本批次的待发放记录中，未写入任何数据。")
    now = timezone.now()
    # One UPDATE per outcome and reason (a few), not bulk_update's CASE over every line, which
    # SQLite evaluates for each row it updates: quadratic in a county's batch.
    outcomes: dict[tuple[str, str], list[int]] = {}
    for pk, answer, reason in answers:
        if answer not in (BatchLine.Result.PAID, BatchLine.Result.FAILED):
            raise ValidationError(f"「{answer}」不是发放结果。")
        outcomes.setdefault((answer, reason), []).append(pk)
    for (answer, reason), lines in outcomes.items():
        for at in range(0, len(lines), CHUNK):
            BatchLine.objects.filter(pk__in=lines[at : at + CHUNK]).update(
                result=answer, reason=reason, answered_at=now
            )
    paid = [pk for pk, answer, _ in answers if answer == BatchLine.Result.PAID]
    entitlements_mark_paid(ids=[pending[pk] for pk in paid], paid_on=paid_on)
    outcome = Reconciliation(paid=len(paid), failed=len(answers) - len(paid))
    outcome.waiting = batch.lines.filter(result=BatchLine.Result.PENDING).count()
    if not outcome.waiting:
        batch.state = Batch.State.RECONCILED
        batch.reconciled_at = now
        batch.save()
    return outcome


def batch_total(batch: Batch) -> Decimal:
    return yuan(sum(batch.lines.values_list("amount_fen", flat=True)))
