"""Where each indicator's actual value comes from (取数口径), as of a date. Each measure reads the
same selectors as the page that shows the figure (the funds page, the ticket KPIs, the supply
pages, the building progress) or counts the households by their own dates, as the dashboards'
trend does; so the pack says what the portal says. The plan's own target comes with the value
where the plan gives one (任务户数, the m² of 二(二), 100% where it asks for all, 0 breaches).

Supply figures (通电率, 通气率, contracted gas, reserves) are kept as they stand, not by date:
the pack says so beside them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from typing import Any

from django.db.models import Count, F, Min, Q, Sum

from acceptance.models import Inspection
from acceptance.selectors import building_progress
from aftercare.models import Category, LookBackItem, RemovalCheck, Satisfaction, Ticket
from aftercare.selectors import Kpis, kpis, relapse_rates
from energy_supply.models import KeyProject
from energy_supply.selectors import CountyEnergy, county_energy
from heating.models import AreaType, BuildingKind, County, HeatingPath, PlanYear, Target
from oversight.dispatch.models import CountyReport
from oversight.evaluation.completeness import CountyCompleteness, completeness_by_county
from retrofits.choices import DONE_STAGES
from retrofits.models import Household
from subsidies.funds import FundLine, county_fund_lines
from subsidies.models import Entitlement, Status

HUNDRED = Decimal(100)


def pct(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    """A share in %, to one place, half up (None: nothing to share)."""
    if not whole:
        return None
    return (Decimal(part) * HUNDRED / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)


@dataclass(frozen=True)
class Actual:
    value: Decimal | None  # None: nothing to measure yet (no tickets, no visits…)
    plan_target: Decimal | None = None  # the plan's own 年度指标值, where it gives one
    basis: str = ""  # the counts behind the value, in words


@dataclass
class Context:
    """One evaluation's question: a plan year as of a day, over every county. Each figure
    family is read once and shared by the measures that use it."""

    plan_year: PlanYear
    as_of: dt.date
    counties: list[County] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.counties:
            self.counties = list(County.objects.order_by("order"))

    @property
    def county_ids(self) -> list[int]:
        return [c.pk for c in self.counties]

    def households(self) -> Any:
        return Household.objects.filter(plan_year=self.plan_year, county__in=self.county_ids)

    @cached_property
    def done(self) -> dict[tuple[str, str], int]:
        """Households completed by as_of, by (path, area)."""
        rows = (
            self.households()
            .filter(stage__in=DONE_STAGES, completed_on__lte=self.as_of)
            .values_list("path", "area")
            .annotate(n=Count("*"))
            .order_by()
        )
        return {(p, a): n for p, a, n in rows}

    @cached_property
    def targets(self) -> dict[tuple[str, str], int]:
        rows = (
            Target.objects.filter(plan_year=self.plan_year, county__in=self.county_ids)
            .values_list("path", "area")
            .annotate(n=Sum("households"))
            .order_by()
        )
        return {(p, a): n for p, a, n in rows}

    @cached_property
    def energy(self) -> list[CountyEnergy]:
        chosen = County.objects.filter(pk__in=self.county_ids).order_by("order")
        return county_energy(counties=chosen, plan_year=self.plan_year)

    @cached_property
    def funds(self) -> list[FundLine]:
        chosen = County.objects.filter(pk__in=self.county_ids)
        return county_fund_lines(chosen, self.plan_year.year, as_of=self.as_of)

    @cached_property
    def completeness(self) -> list[CountyCompleteness]:
        return completeness_by_county(self.households(), as_of=self.as_of)

    @cached_property
    def tickets(self) -> Kpis:
        chosen = County.objects.filter(pk__in=self.county_ids).order_by("pk")
        return kpis(counties=chosen, year=self.plan_year.year, as_of=self.as_of)


@dataclass(frozen=True)
class Measure:
    label: str  # 取数口径, as the indicators page shows it
    unit: str
    read: Callable[[Context], Actual]


MEASURES: dict[str, Measure] = {}


def measure(key: str, label: str, unit: str) -> Callable[[Callable[[Context], Actual]], Any]:
    def register(read: Callable[[Context], Actual]) -> Callable[[Context], Actual]:
        MEASURES[key] = Measure(label, unit, read)
        return read

    return register


# ---------------------------------------------------------------- quantity: households, m²


def _cell_measure(path: str, area: str) -> None:
    path_label, area_label = HeatingPath(path).label, AreaType(area).label

    def read(ctx: Context) -> Actual:
        done, target = ctx.done.get((path, area), 0), ctx.targets.get((path, area), 0)
        return Actual(Decimal(done), Decimal(target), f"完工 {done:,} 户，任务 {target:,} 户")

    MEASURES[f"done:{path}:{area}"] = Measure(
        f"{path_label}（{area_label}）完工户数：完工日期不晚于截至日", "户", read
    )


for _path in HeatingPath.values:
    for _area in AreaType.values:
        _cell_measure(_path, _area)


def _area_rate(area: str) -> Callable[[Context], Actual]:
    def read(ctx: Context) -> Actual:
        done = sum(n for (_, a), n in ctx.done.items() if a == area)
        target = sum(n for (_, a), n in ctx.targets.items() if a == area)
        return Actual(pct(done, target), HUNDRED, f"完工 {done:,} 户 / 任务 {target:,} 户")

    return read


MEASURES["rate:urban"] = Measure(
    "城区/县城清洁取暖改造完成率：完工户数 ÷ 任务户数", "%", _area_rate(AreaType.values[0])
)
MEASURES["rate:rural"] = Measure(
    "农村清洁取暖改造完成率：完工户数 ÷ 任务户数", "%", _area_rate(AreaType.values[1])
)


def _building(kind: str) -> Callable[[Context], Actual]:
    def read(ctx: Context) -> Actual:
        progress = building_progress(
            plan_year=ctx.plan_year, counties=ctx.counties, as_of=ctx.as_of
        )
        m2, target = progress.accepted(kind), progress.targets.get(kind)
        wan = Decimal(10000)
        return Actual(
            (m2 / wan).quantize(Decimal("0.01"), ROUND_HALF_UP),
            (target / wan).quantize(Decimal("0.01"), ROUND_HALF_UP) if target else None,
            f"验收合格 {m2:,.0f} 平方米",
        )

    return read


for _kind in BuildingKind.values:
    MEASURES[f"building:{_kind}"] = Measure(
        f"{BuildingKind(_kind).label}验收合格面积", "万平方米", _building(_kind)
    )


# ---------------------------------------------------------------- timeliness and quality


@measure(
    "works_on_time", "按期完工率：各县施工截止日（五台山风景区10月1日）前完工户数 ÷ 任务户数", "%"
)
def works_on_time(ctx: Context) -> Actual:
    on_time = 0
    for county in ctx.counties:
        due = min(ctx.plan_year.works_due_for(county), ctx.as_of)
        on_time += (
            ctx.households()
            .filter(county=county, stage__in=DONE_STAGES, completed_on__lte=due)
            .count()
        )
    target = sum(ctx.targets.values())
    return Actual(pct(on_time, target), HUNDRED, f"按期完工 {on_time:,} 户 / 任务 {target:,} 户")


@measure("accepted_on_time", "按期验收率：验收截止日（10月31日）前验收合格户数 ÷ 完工户数", "%")
def accepted_on_time(ctx: Context) -> Actual:
    on_time = 0
    for county in ctx.counties:
        due = min(ctx.plan_year.acceptance_due_for(county), ctx.as_of)
        on_time += ctx.households().filter(county=county, accepted_on__lte=due).count()
    done = sum(ctx.done.values())
    return Actual(pct(on_time, done), HUNDRED, f"按期验收 {on_time:,} 户 / 完工 {done:,} 户")


@measure("first_pass", "首次验收合格率：首次验收即合格的户数 ÷ 已验收的户数", "%")
def first_pass(ctx: Context) -> Actual:
    visits = Inspection.objects.filter(
        household__in=ctx.households(),
        kind=Inspection.Kind.ACCEPTANCE,
        visited_at__date__lte=ctx.as_of,
    )
    # Per household, its first visit and its first failed one: failed first when they coincide.
    firsts = (
        visits.values("household")
        .annotate(
            first=Min("visited_at"),
            failed=Min("visited_at", filter=Q(result=Inspection.Result.FAILED)),
        )
        .order_by()
    )
    visited = firsts.count()
    passed = visited - firsts.filter(failed=F("first")).count()
    return Actual(pct(passed, visited), None, f"首次合格 {passed:,} 户 / 已验收 {visited:,} 户")


@measure("removal_breaches", "先立后破违规户数：核实为未立先破、强拆的户数", "户")
def removal_breaches(ctx: Context) -> Actual:
    breaches = (
        Ticket.objects.filter(
            county__in=ctx.county_ids,
            category=Category.EARLY_REMOVAL,
            removal_check__in=(RemovalCheck.EARLY, RemovalCheck.UNRECORDED),
            received_at__date__lte=ctx.as_of,
        )
        .values("household")
        .distinct()
        .count()
    )
    return Actual(Decimal(breaches), Decimal(0), f"核实违规 {breaches} 户")


@measure("completeness", "一户一档完整率：已完工户档案完整度的平均值", "%")
def completeness(ctx: Context) -> Actual:
    rows = ctx.completeness
    households = sum(r.households for r in rows)
    total = sum(
        (Decimal(str(r.average)) * r.households for r in rows if r.average is not None), Decimal(0)
    )
    complete = sum(r.complete for r in rows)
    value = (total / households).quantize(Decimal("0.1"), ROUND_HALF_UP) if households else None
    return Actual(value, HUNDRED, f"档案完整 {complete:,} 户 / 已完工 {households:,} 户")


@measure(
    "key_projects_on_time", "重点项目按期建成率：施工截止日前建成的重点项目 ÷ 全部重点项目", "%"
)
def key_projects_on_time(ctx: Context) -> Actual:
    projects = list(KeyProject.objects.filter(county__in=ctx.county_ids).select_related("county"))
    on_time = sum(
        1
        for p in projects
        if p.completed_on is not None
        and p.completed_on <= min(ctx.plan_year.works_due_for(p.county), ctx.as_of)
    )
    return Actual(
        pct(on_time, len(projects)), HUNDRED, f"按期建成 {on_time} 个 / {len(projects)} 个"
    )


@measure("dispatch_on_time", "调度按时报送率：截止前报送的县级报告 ÷ 应报送的县级报告", "%")
def dispatch_on_time(ctx: Context) -> Actual:
    reports = CountyReport.objects.filter(
        round__plan_year=ctx.plan_year,
        county__in=ctx.county_ids,
        round__due_at__date__lte=ctx.as_of,
    )
    due = reports.count()
    on_time = reports.filter(submitted_at__lte=F("round__due_at")).count()
    return Actual(pct(on_time, due), HUNDRED, f"按时报送 {on_time:,} 份 / 应报 {due:,} 份")


# ---------------------------------------------------------------- cost: the subsidies


def _paid(ctx: Context, *, low_income: bool | None = None) -> Actual:
    owed = Entitlement.objects.for_season(ctx.plan_year.year).filter(
        county__in=ctx.county_ids, amount_fen__gt=0
    )
    if low_income is not None:
        owed = owed.filter(household__low_income=low_income)
    paid = owed.filter(status=Status.PAID, paid_on__lte=ctx.as_of).count()
    total = owed.count()
    return Actual(pct(paid, total), HUNDRED, f"已发放 {paid:,} 笔 / 应发 {total:,} 笔")


@measure("subsidy_paid", "补贴发放率：截至日已发放的补贴 ÷ 核定应发的补贴（笔数）", "%")
def subsidy_paid(ctx: Context) -> Actual:
    return _paid(ctx)


@measure("low_income_paid", "低收入户补贴发放率：低收入户已发放 ÷ 低收入户应发（笔数）", "%")
def low_income_paid(ctx: Context) -> Actual:
    return _paid(ctx, low_income=True)


@measure("budget_execution", "预算执行率：已支出 ÷ 已下达资金（各来源合计，同资金页）", "%")
def budget_execution(ctx: Context) -> Actual:
    allocated = sum((f.allocated for f in ctx.funds), Decimal(0))
    spent = sum((f.spent for f in ctx.funds), Decimal(0))
    return Actual(
        pct(spent, allocated), HUNDRED, f"支出 {spent:,.2f} 元 / 下达 {allocated:,.2f} 元"
    )


# ---------------------------------------------------------------- benefits: supply and service


def _served(ctx: Context, which: str) -> Actual:
    coverages = [getattr(e, which) for e in ctx.energy]
    served = sum(c.completed_served for c in coverages)
    completed = sum(c.completed for c in coverages)
    word = "通电" if which == "grid" else "通气"
    return Actual(pct(served, completed), HUNDRED, f"{word} {served:,} 户 / 完工 {completed:,} 户")


@measure("grid_energized", "通电率：煤改电完工户中所在村电网改造已完成的户数占比（当前）", "%")
def grid_energized(ctx: Context) -> Actual:
    return _served(ctx, "grid")


@measure("gas_connected", "通气率：煤改气完工户中已通气的户数占比（当前）", "%")
def gas_connected(ctx: Context) -> Actual:
    return _served(ctx, "network")


@measure(
    "gas_contracted", "气源保障率：已签合同气量可保障户数 ÷ 煤改气用气户数（当前，以气定改）", "%"
)
def gas_contracted(ctx: Context) -> Actual:
    covered = sum(e.gas.covered for e in ctx.energy)
    used = sum(e.gas.used for e in ctx.energy)
    return Actual(pct(covered, used), HUNDRED, f"可保障 {covered:,} 户 / 用气 {used:,} 户")


@measure("reserves", "燃料储备保障率：已储备 ÷ 应储备（当前）", "%")
def reserves(ctx: Context) -> Actual:
    figures = [r for e in ctx.energy for r in e.reserves]
    need = sum((r.need_t for r in figures), Decimal(0))
    stored = sum((r.reserve.stored_t for r in figures), Decimal(0))
    return Actual(pct(stored, need), HUNDRED, f"已储备 {stored:,.1f} 吨 / 应储备 {need:,.1f} 吨")


@measure("tickets_on_time", "工单按时办结率：按时办结 ÷ 已办结（同工单月度指标）", "%")
def tickets_on_time(ctx: Context) -> Actual:
    totals = ctx.tickets.totals.values()
    closed = sum(t.closed for t in totals)
    on_time = sum(t.closed_on_time for t in totals)
    return Actual(pct(on_time, closed), None, f"按时办结 {on_time:,} 件 / 已办结 {closed:,} 件")


@measure("relapse_rate", "散煤复烧率：回头看核查户中复烧的户数占比", "%")
def relapse_rate(ctx: Context) -> Actual:
    items = LookBackItem.objects.filter(
        household__in=ctx.households(), visited_at__date__lte=ctx.as_of
    )
    rows = relapse_rates(items=items, season=ctx.plan_year.year)
    visited = sum(r.visited for r in rows)
    relapsed = sum(r.relapsed for r in rows)
    return Actual(pct(relapsed, visited), None, f"复烧 {relapsed:,} 户 / 核查 {visited:,} 户")


# ---------------------------------------------------------------- satisfaction

SATISFIED = (Satisfaction.SATISFIED, Satisfaction.BASIC)


@measure("callback_satisfaction", "工单回访满意率：满意和基本满意 ÷ 已回访（同工单月度指标）", "%")
def callback_satisfaction(ctx: Context) -> Actual:
    totals = ctx.tickets.totals.values()
    called = sum(t.called_back for t in totals)
    satisfied = sum(t.satisfied for t in totals)
    return Actual(pct(satisfied, called), None, f"满意 {satisfied:,} 件 / 回访 {called:,} 件")


@measure("lookback_satisfaction", "回头看满意率：满意和基本满意 ÷ 回头看核查中表态的户数", "%")
def lookback_satisfaction(ctx: Context) -> Actual:
    answered = (
        LookBackItem.objects.filter(
            household__in=ctx.households(),
            lookback__season=ctx.plan_year.year,
            visited_at__date__lte=ctx.as_of,
        )
        .exclude(satisfaction="")
        .aggregate(all=Count("pk"), yes=Count("pk", filter=Q(satisfaction__in=SATISFIED)))
    )
    return Actual(
        pct(answered["yes"], answered["all"]),
        None,
        f"满意 {answered['yes']:,} 户 / 表态 {answered['all']:,} 户",
    )
