"""The demo city's subsidies (make run): demo policies (演示), a meter account for every completed
煤改电 and 煤改气 household, a season of monthly use from the utilities (with customers outside
the programme, skipped as a real export's are), and the computed entitlements. Everything goes
through the imports and the computation the bureau uses; a second run writes nothing."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zlib
from collections.abc import Iterator
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Sum

from heating.management.commands.create_demo_users import DEMO_PASSWORD
from heating.models import County, HeatingPath, Role, User
from heating.services import user_create
from retrofits.choices import DONE_STAGES
from retrofits.demo import DemoCity
from retrofits.models import Household
from subsidies.models import (
    Allocation,
    Batch,
    BatchLine,
    Clawback,
    Entitlement,
    FundSource,
    Kind,
    MeterKind,
    MeterReading,
    Spending,
    Status,
    yuan,
)
from subsidies.services import meter_accounts_import, metered_use_import, subsidy_compute
from subsidies.services.accounts import bank_accounts_import
from subsidies.services.batches import (
    batch_approve,
    batch_create,
    batch_publicize,
    batch_return_import,
    batch_submit,
)
from subsidies.services.funds import fund_record_save
from subsidies.services.policies import demo_policies_load

# A season's use by month, as northern households heat: most in the depth of winter.
MONTH_SHARES = ((11, Decimal("0.16")), (12, Decimal("0.22")), (1, Decimal("0.25")),
                (2, Decimal("0.21")), (3, Decimal("0.16")))  # fmt: skip
# A household's season (kWh of off-peak power, m³ of gas): from the low end to the high.
SEASON_USE = {MeterKind.ELECTRIC: (3000, 9000), MeterKind.GAS: (600, 1600)}
OUTSIDERS = 500  # the utilities' customers outside the programme, in the same export


def account_number(kind: str, code: str) -> str:
    return ("DL" if kind == MeterKind.ELECTRIC else "RQ") + f"{zlib.crc32(code.encode()):010d}"


def months(year: int, as_of: dt.date) -> Iterator[tuple[dt.date, dt.date, Decimal]]:
    for month, share in MONTH_SHARES:
        start = dt.date(year + (month < 11), month, 1)
        following = dt.date(start.year + (month == 12), month % 12 + 1, 1)
        end = following - dt.timedelta(days=1)
        if end <= as_of:
            yield start, end, share


def _csv(header: list[str], rows: Iterator[list[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def subsidies_after_households(city: DemoCity) -> None:
    year = city.plan_year.year
    created = demo_policies_load(year=year)
    metered = list(
        Household.objects.filter(
            path__in=[HeatingPath.ELECTRIC, HeatingPath.GAS], stage__in=DONE_STAGES
        )
        .order_by("code")
        .values_list("code", "path")
    )
    created_accounts = 0
    if metered:  # none yet early in the season (--as-of)
        accounts = _csv(
            ["户编号", "计量类型", "户号"],
            ([code, MeterKind(path).label, account_number(path, code)] for code, path in metered),
        )
        outcome = meter_accounts_import(data=accounts, name="计量户号.csv", user=None)
        assert not outcome.errors, outcome.errors[:3]
        created_accounts = outcome.created
    # The months the ledger has no readings of yet: a later --as-of goes on from an earlier one,
    # and a month once read (and corrected, below) is not read again.
    periods = [
        period
        for period in months(year, city.as_of)
        if not MeterReading.objects.filter(start_date=period[0], end_date=period[1]).exists()
    ]
    if metered and periods:
        use = metered_use_import(
            data=_csv(
                ["户号", "计量类型", "起始日期", "截止日期", "用量"],
                _use_rows(metered, periods),
            ),
            name="用能计量.csv",
            user=None,
        )
        assert not use.errors, use.errors[:3]
        city.say(f"补贴：用能计量 {use.written:,} 行，跳过未登记户号 {use.skipped:,} 行")
    computed = subsidy_compute(year=year)
    city.say(
        f"补贴：演示补贴标准 {created} 条，计量户号 {created_accounts:,} 个，"
        f"核算 {sum(computed.computed.values()):,} 笔（新增 {computed.created:,}）"
    )
    # Batches are paid after the season, from the running subsidies' metered use: April's.
    season = city.plan_year.heating_season()
    paid_by = season.end + dt.timedelta(days=BATCH_DAYS)
    if city.as_of >= paid_by and not Batch.objects.filter(season=year).exists():
        _batches(city, year)
    if not Allocation.objects.filter(plan_year_id=year).exists():
        _funds(city, year)


def _use_rows(
    metered: list[tuple[str, str]], periods: list[tuple[dt.date, dt.date, Decimal]]
) -> Iterator[list[object]]:
    for code, path in metered:
        low, high = SEASON_USE[MeterKind(path)]
        season_use = low + zlib.crc32(code.encode()) % (high - low)
        number, label = account_number(path, code), MeterKind(path).label
        for start, end, share in periods:
            yield [number, label, start, end, (season_use * share).quantize(Decimal("0.01"))]
    for n in range(OUTSIDERS):
        for start, end, share in periods:
            yield [f"DL-OUT-{n:05d}", "电", start, end, (4000 * share).quantize(Decimal("0.01"))]


# One county's batches for each state a batch can be in; 忻府区's first comes back from the bank
# with failures, which are corrected and resent in its second.
BATCH_STATES = (
    ("忻府区", "xinfu", Batch.State.RECONCILED),
    ("定襄县", "dingxiang", Batch.State.SENT),
    ("五台县", "wutai", Batch.State.REVIEW),
    ("代县", "daixian", Batch.State.PUBLICITY),
    ("繁峙县", "fanshi", Batch.State.DRAFT),
)
STEPS = (Batch.State.DRAFT, Batch.State.PUBLICITY, Batch.State.REVIEW, Batch.State.SENT)
BATCH_DAYS = 30  # the batches' days after the season: publicity, approval, the bank
DEMO_BANK = "忻州农商银行"


def _account_number(code: str, attempt: int = 0) -> str:
    return f"6228{zlib.crc32(f'{code}/{attempt}'.encode()):015d}"


def _finance(county: County, username: str) -> User:
    """The county's 县级财政 user, made for the demo (create_demo_users makes the others)."""
    found = User.objects.filter(username=f"{username}-caizheng").first()
    if found is not None:
        return found
    return user_create(
        username=f"{username}-caizheng",
        password=DEMO_PASSWORD,
        role=Role.FINANCE,
        county=county,
        organisation=f"{county.short_name}财政局",
    )


def _batches(city: DemoCity, year: int) -> None:
    counties = {c.short_name: c for c in County.objects.all()}
    start = city.plan_year.heating_season().end + dt.timedelta(days=1)
    households = list(
        Household.objects.filter(
            entitlements__season=year, county__short_name__in=[c for c, _, _ in BATCH_STATES]
        )
        .distinct()
        .order_by("code")
        .values_list("code", "head_name")
    )
    accounts = _csv(
        ["户编号", "一卡通账号", "开户银行", "账户名"],
        ([code, _account_number(code), DEMO_BANK, name] for code, name in households),
    )
    made = bank_accounts_import(data=accounts, name="一卡通账户.csv", user=None)
    assert not made.errors, made.errors[:3]
    for name, username, state in BATCH_STATES:
        county = counties[name]
        finance = _finance(county, username)
        try:
            batch = batch_create(county=county, season=year)
        except ValidationError:
            continue  # a small demo city may have nothing to pay there
        batch = _advance(batch, state, start, finance)
        if name == "忻府区":
            _resend(batch, start, finance, year)
    city.say(
        f"补贴：一卡通账户 {made.created:,} 个，发放批次 {Batch.objects.filter(season=year).count()} 批，"
        f"追回 {Clawback.objects.count()} 笔"
    )


def _advance(batch: Batch, state: str, start: dt.date, finance: User) -> Batch:
    """Move a batch to `state` through each step, as the county would."""
    if state == Batch.State.DRAFT:
        return batch
    batch = batch_publicize(batch=batch, start=start)
    if state == Batch.State.PUBLICITY:
        return batch
    end = batch.publicity_end
    assert end is not None
    batch = batch_submit(batch=batch, today=end + dt.timedelta(days=1))
    if state == Batch.State.REVIEW:
        return batch
    batch = batch_approve(batch=batch, user=finance)
    if state == Batch.State.SENT:
        return batch
    _bank_returns(batch, finance, end + dt.timedelta(days=3), fail=True)
    return batch


def _bank_returns(batch: Batch, finance: User, day: dt.date, *, fail: bool) -> None:
    """The bank's return: every line paid, but one in 30 refused (closed accounts) if `fail`."""
    lines = batch.lines.select_related("entitlement__household__bank_account")
    rows = []
    for line in lines.order_by("pk"):
        h = line.entitlement.household
        refused = fail and zlib.crc32(h.code.encode()) % 30 == 0
        rows.append(
            [h.id_number, h.bank_account.number, line.amount, "失败" if refused else "成功",
             "账户已销户" if refused else ""]
        )  # fmt: skip
    data = _csv(["身份证号", "一卡通账号", "补贴金额（元）", "发放结果", "失败原因"], iter(rows))
    outcome = batch_return_import(
        batch=batch, data=data, name="银行回盘.csv", user=finance, paid_on=day
    )
    assert not outcome.errors, outcome.errors[:3]


def _resend(first: Batch, start: dt.date, finance: User, year: int) -> None:
    """忻府区's failures: the accounts corrected, a second batch paid in full; then a utility
    corrects a paid household's January reading, and the next computation claws back."""
    failed = list(
        first.lines.filter(result=BatchLine.Result.FAILED)
        .values_list("entitlement__household__code", "entitlement__household__head_name")
        .order_by("entitlement__household__code")  # one row a household (not the lines' order)
        .distinct()
    )
    if failed:
        fixed = _csv(
            ["户编号", "一卡通账号", "开户银行", "账户名"],
            ([code, _account_number(code, 1), DEMO_BANK, name] for code, name in failed),
        )
        # The corrected accounts release the refused payments (待更正) into the next batch.
        accounts = bank_accounts_import(data=fixed, name="一卡通账户更正.csv", user=None)
        assert not accounts.errors, accounts.errors[:3]
        second = batch_create(county=first.county, season=year)
        assert first.publicity_end is not None
        again = first.publicity_end + dt.timedelta(days=4)
        second = _advance(second, Batch.State.SENT, again, finance)
        assert second.publicity_end is not None
        _bank_returns(second, finance, second.publicity_end + dt.timedelta(days=3), fail=False)
    paid = (
        Entitlement.objects.filter(
            county=first.county, season=year, kind=Kind.RUNNING, status=Status.PAID
        )
        .order_by("amount_fen", "household__code")  # the smallest: under its cap
        .first()
    )
    if paid is None:
        return
    account = paid.household.meter_accounts.get()
    january = account.readings.get(start_date=dt.date(year + 1, 1, 1))
    corrected = _csv(
        ["户号", "计量类型", "起始日期", "截止日期", "用量"],
        iter([[account.number, account.get_kind_display(), january.start_date, january.end_date,
               (january.use / 4).quantize(Decimal("0.01"))]]),
    )  # fmt: skip
    metered_use_import(data=corrected, name="用能计量更正.csv", user=None)
    subsidy_compute(year=year)


# Demo allocations: shares of the season's computed subsidies by source, with made-up document
# numbers (演示), and one line of other spending per county.
SOURCES = (
    (FundSource.CENTRAL, Decimal("0.35"), "财建〔{year}〕演示1号"),
    (FundSource.PROVINCE, Decimal("0.15"), "晋财建〔{year}〕演示2号"),
    (FundSource.CITY, Decimal("0.35"), "忻财建〔{year}〕演示3号"),
    (FundSource.COUNTY, Decimal("0.25"), "{county}财建〔{year}〕演示4号"),
)


def _funds(city: DemoCity, year: int) -> None:
    totals = dict(
        Entitlement.objects.for_season(year)
        .values("county_id")
        .annotate(fen=Sum("amount_fen"))
        .order_by()
        .values_list("county_id", "fen")
    )
    allocated_on = dt.date(year, 6, 1)
    count = 0
    for county in County.objects.order_by("order"):
        fen = totals.get(county.pk, 0)
        if not fen:
            continue
        for source, share, document in SOURCES:
            fund_record_save(
                record=Allocation(
                    county=county, plan_year_id=year, source=source,
                    amount=(yuan(fen) * share).quantize(Decimal("0.01")),
                    document_no=document.format(year=year, county=county.short_name[:2]),
                    allocated_on=allocated_on,
                ),
                user=None,
            )  # fmt: skip
            count += 1
        fund_record_save(
            record=Spending(
                county=county, plan_year_id=year, source=FundSource.CENTRAL,
                amount=(yuan(fen) * Decimal("0.1")).quantize(Decimal("0.01")),
                purpose="入户配套线路改造（演示）", spent_on=dt.date(year, 9, 15),
            ),
            user=None,
        )  # fmt: skip
    city.say(f"补贴：资金下达 {count} 笔（演示）")
