"""What each county's page, the warnings, the map and /api/energy show of supply: gas headroom,
grid and gas coverage of the 煤改电/煤改气 villages, households waiting on works, 通气率 and 通电率,
fuel reserves against need, heat sources and key projects. Village figures come from the stored
rollups (never from counting the households on a page view); the supply tables are small."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from django.core.cache import cache
from django.db.models import Count, Q, QuerySet, Sum
from django.urls import reverse

from energy_supply import rules
from energy_supply.models import (
    FuelReserve,
    GasConnection,
    GasContract,
    GasNetwork,
    GridUpgrade,
    HeatSource,
    KeyProject,
    ReserveNorm,
    season_label,
)
from heating.marks import table_marks
from heating.models import County, HeatingPath, PlanYear
from retrofits.choices import DONE_STAGES, Stage
from retrofits.models import ProgressCount, RollupRun

# A county's gas headroom under this share of its contracts is a warning.
LOW_HEADROOM_PCT = 5.0
# How long the supply figures are kept at most (a new count or any write to supply replaces them
# sooner).
ENERGY_SECONDS = 600


def _num(value: Decimal) -> str:
    """2500.00 → 2,500, 2.50 → 2.5."""
    return f"{value.normalize():,f}"


def _pct(part: int | Decimal, whole: int | Decimal) -> float | None:
    return round(float(100 * part / whole), 1) if whole else None


@dataclass
class Coverage:
    """The villages with households on a path, and whether ready works serve each."""

    villages: int = 0
    ready: int = 0
    waiting: int = 0  # households at 已选型 whose works cannot start: no ready works serve them
    completed: int = 0  # households at 已完工 or 已验收
    completed_served: int = 0  # of those, in served villages (通电) or with gas recorded (通气)
    waiting_places: list[tuple[str, str, int]] = field(default_factory=list)

    @property
    def villages_pct(self) -> float | None:
        return _pct(self.ready, self.villages)

    @property
    def served_pct(self) -> float | None:
        return _pct(self.completed_served, self.completed)


@dataclass
class ReserveFigure:
    reserve: FuelReserve
    norm: Decimal  # tonnes per household and season

    @property
    def need_t(self) -> Decimal:
        return self.reserve.households * self.norm

    @property
    def stored_pct(self) -> float | None:
        return _pct(self.reserve.stored_t, self.need_t)

    @property
    def short(self) -> bool:
        return self.reserve.stored_t < self.need_t


@dataclass
class CountyEnergy:
    county: County
    season: int
    gas: rules.GasHeadroom
    grid: Coverage
    network: Coverage
    reserves: list[ReserveFigure] = field(default_factory=list)
    heat_sources: list[HeatSource] = field(default_factory=list)

    @property
    def gas_low(self) -> bool:
        """Headroom under 5% of the contracts, or none where 煤改气 households count on gas."""
        if self.gas.covered == 0:
            return self.gas.used > 0
        return (self.gas.left_pct or 0) < LOW_HEADROOM_PCT

    @property
    def reserves_pct(self) -> float | None:
        need = sum((r.need_t for r in self.reserves), Decimal(0))
        return _pct(sum((r.reserve.stored_t for r in self.reserves), Decimal(0)), need)

    def as_dict(self) -> dict[str, Any]:
        return {
            "county": self.county.short_name,
            "season": season_label(self.season),
            "gas": {
                "covered": self.gas.covered,
                "used": self.gas.used,
                "confirmed": self.gas.confirmed,
                "confirmed_beyond": self.gas.confirmed_beyond,
                "left": self.gas.left,
                "left_pct": self.gas.left_pct,
                "connected": self.network.completed_served,
                "completed": self.network.completed,
                "connected_pct": self.network.served_pct,
            },
            "grid": _coverage_dict(self.grid, "energized"),
            "gas_network": _coverage_dict(self.network, "connected"),
            "reserves": [
                {
                    "fuel": r.reserve.get_fuel_display(),
                    "households": r.reserve.households,
                    "tonnes_per_household": float(r.norm),
                    "need_t": float(r.need_t),
                    "contracted_t": float(r.reserve.contracted_t),
                    "stored_t": float(r.reserve.stored_t),
                    "stored_pct": r.stored_pct,
                }
                for r in self.reserves
            ],
            "heat_sources": [h.name for h in self.heat_sources],
        }


def _coverage_dict(coverage: Coverage, served: str) -> dict[str, Any]:
    return {
        "villages": coverage.villages,
        "villages_ready": coverage.ready,
        "villages_pct": coverage.villages_pct,
        "waiting_households": coverage.waiting,
        "completed": coverage.completed,
        served: coverage.completed_served,
        f"{served}_pct": coverage.served_pct,
    }


def _coverage(
    run: RollupRun | None, rule: rules.AreaRule, counties: list[int], plan_year: PlanYear
) -> dict[int, Coverage]:
    """Per county, from the latest rollup's village counts of the year's households and the ready
    works: one aggregate query, and one for the few villages where households wait."""
    found: dict[int, Coverage] = defaultdict(Coverage)
    if run is None:
        return found
    served = rule.works.objects.ready().filter(county__in=counties).covering()
    counts = ProgressCount.objects.filter(
        run=run, plan_year=plan_year, county__in=counties, path=rule.path
    )
    done = Q(stage__in=DONE_STAGES)
    waiting = Q(stage=Stage.SELECTED) & ~served
    totals = (
        counts.values("county")
        .annotate(
            villages=Count("village", distinct=True),
            ready=Count("village", distinct=True, filter=served),
            completed=Sum("households", filter=done, default=0),
            served=Sum("households", filter=done & served, default=0),
            waiting=Sum("households", filter=waiting, default=0),
        )
        .order_by()
    )
    for t in totals:
        coverage = found[t["county"]]
        coverage.villages, coverage.ready = t["villages"], t["ready"]
        coverage.completed, coverage.waiting = t["completed"], t["waiting"]
        if rule is rules.GRID:  # 通电: completed in served villages; 通气 is recorded per household
            coverage.completed_served = t["served"]
    places = (
        counts.filter(waiting)
        .values("county", "township__name", "village__name")
        .annotate(n=Sum("households"))
        .order_by("township__code", "village__code")
    )
    for p in places:
        found[p["county"]].waiting_places.append((p["township__name"], p["village__name"], p["n"]))
    return found


def _gas_used(
    run: RollupRun | None, ids: list[int], season: int
) -> dict[int, tuple[int, int]] | None:
    """Each county's 煤改气 households (已选型及以后, 已确户) of the plan years up to the season's,
    as the latest count found them (the households themselves cost a page 10 ms a view at a
    million); none counted yet: None, as they are."""
    if run is None:
        return None
    counted = (
        ProgressCount.objects.filter(
            run=run, county__in=ids, path=HeatingPath.GAS, plan_year__lte=season
        )
        .values_list("county")
        .annotate(
            used=Sum("households", filter=Q(stage__in=rules.SELECTED_ON), default=0),
            confirmed=Sum("households", filter=Q(stage=Stage.CONFIRMED), default=0),
        )
        .order_by()
    )
    return {county_id: (used, confirmed) for county_id, used, confirmed in counted}


def _connected(ids: list[int]) -> dict[int, int]:
    """The completed 煤改气 households with gas (通气) by county, from the 通气 records and the
    households as they stand (a join, 15 ms at a million: county_energy keeps what it finds)."""
    return dict(
        GasConnection.objects.filter(
            household__county__in=ids,
            household__path=HeatingPath.GAS,
            household__stage__in=DONE_STAGES,
        )
        .values_list("household__county")
        .annotate(n=Count("*"))
    )


# Every table the supply figures read: each writes a history row for every write of its own, bulk
# imports included; the 通气 records (GasConnection) keep none, so their count and last id.
SUPPLY_MARKS = (
    *(
        (model.history.model, "MAX(history_id)")
        for model in (GasContract, GridUpgrade, GasNetwork, HeatSource, ReserveNorm, FuelReserve)
    ),
    (GasConnection, "COUNT(*)"),
    (GasConnection, "MAX(id)"),
)


def county_energy(*, counties: QuerySet[County], plan_year: PlanYear) -> list[CountyEnergy]:
    """Every supply figure of these counties for the plan year's heating season: kept for the
    latest count and the supply tables as they stand (a dozen queries otherwise, a fifth of a
    dashboard's time at a million households)."""
    chosen = list(counties)
    run = RollupRun.objects.latest_complete()
    if run is None:  # the households may change before the first count: nothing to key on
        return _county_energy(chosen, plan_year, run)
    changed = table_marks(*SUPPLY_MARKS)
    counties_key = ",".join(str(c.pk) for c in chosen)
    key = f"energy:{run.pk}:{plan_year.pk}:{changed}:{counties_key}"
    return cast(
        list[CountyEnergy],
        cache.get_or_set(key, lambda: _county_energy(chosen, plan_year, run), ENERGY_SECONDS),
    )


def _county_energy(
    chosen: list[County], plan_year: PlanYear, run: RollupRun | None
) -> list[CountyEnergy]:
    ids = [c.pk for c in chosen]
    season = plan_year.year
    gas = rules.gas_headroom(ids, season, used=_gas_used(run, ids, season))
    grid = _coverage(run, rules.GRID, ids, plan_year)
    network = _coverage(run, rules.NETWORK, ids, plan_year)
    for county_id, n in _connected(ids).items():
        network[county_id].completed_served = n
    norms = dict(ReserveNorm.objects.values_list("fuel", "tonnes_per_household"))
    reserves: dict[int, list[ReserveFigure]] = defaultdict(list)
    for reserve in FuelReserve.objects.filter(county__in=ids, season=season):
        reserves[reserve.county_id].append(
            ReserveFigure(reserve, norms.get(reserve.fuel, Decimal(0)))
        )
    sources: dict[int, list[HeatSource]] = defaultdict(list)
    for source in HeatSource.objects.filter(counties__in=ids).prefetch_related("counties"):
        for county in source.counties.all():
            if county.pk in ids and source not in sources[county.pk]:
                sources[county.pk].append(source)
    return [
        CountyEnergy(
            county=c,
            season=season,
            gas=gas[c.pk],
            grid=grid[c.pk],
            network=network[c.pk],
            reserves=reserves[c.pk],
            heat_sources=sources[c.pk],
        )
        for c in chosen
    ]


@dataclass(frozen=True)
class SupplyWarning:
    kind: str  # gas | grid | network | project | reserve
    county: County | None
    message: str
    url: str  # where to fix it


def late_projects(
    *, counties: QuerySet[County], plan_year: PlanYear, today: dt.date
) -> list[tuple[KeyProject, list[str]]]:
    """Key projects behind their own milestones or, unfinished, past their county's works deadline."""
    found = []
    for project in (
        KeyProject.objects.filter(county__in=counties)
        .select_related("county")
        .prefetch_related("milestones")
    ):
        if project.status == KeyProject.Status.DONE:
            continue
        reasons = [
            f"“{m.name}”计划{m.due_on:%Y年%-m月%-d日}完成，尚未完成"
            for m in project.late_milestones(today)
        ]
        due = plan_year.works_due_for(project.county)
        if today > due:
            reasons.append(f"施工截止 {due:%Y年%-m月%-d日} 已过，项目尚未建成")
        if reasons:
            found.append((project, reasons))
    return found


def warnings(
    *,
    counties: QuerySet[County],
    plan_year: PlanYear,
    today: dt.date,
    energy: list[CountyEnergy] | None = None,
) -> list[SupplyWarning]:
    """What needs fixing before the season, each linking to where it is fixed: gas headroom under
    5%, households waiting on a grid or a gas network, late key projects, reserves under need."""
    found: list[SupplyWarning] = []
    if energy is None:
        energy = county_energy(counties=counties, plan_year=plan_year)
    for figures in energy:
        county, gas = figures.county, figures.gas
        where = f"?county={county.pk}"
        if figures.gas_low:
            left = f"余量 {gas.left:,} 户（{gas.left_pct}%）" if gas.covered else "尚无供用气合同"
            found.append(
                SupplyWarning(
                    "gas",
                    county,
                    f"{county.short_name}煤改气用气余量不足：合同可保障 {gas.covered:,} 户，"
                    f"已选型及以后 {gas.used:,} 户，{left}",
                    reverse("supply-list", args=["contracts"]) + where,
                )
            )
        if gas.confirmed_beyond:
            # 以气定改 refuses them at 已选型; said now, while the county can still sign for gas.
            found.append(
                SupplyWarning(
                    "gas",
                    county,
                    f"{county.short_name}煤改气已确户 {gas.confirmed:,} 户，合同余量 "
                    f"{max(gas.left, 0):,} 户，超出 {gas.confirmed_beyond:,} 户：超出的户不能进入选型"
                    "（以气定改），请增补供用气合同或调整改造计划",
                    reverse("supply-list", args=["contracts"]) + where,
                )
            )
        for kind, coverage, works in (
            ("grid", figures.grid, "电网改造"),
            ("network", figures.network, "燃气管网"),
        ):
            if coverage.waiting:
                places = "、".join(f"{t}{v}" for t, v, _ in coverage.waiting_places[:3])
                more = " 等" if len(coverage.waiting_places) > 3 else ""
                found.append(
                    SupplyWarning(
                        kind,
                        county,
                        f"{county.short_name}有 {coverage.waiting:,} 户已选型、等待{works}（{places}{more}）",
                        reverse("supply-list", args=["upgrades" if kind == "grid" else "networks"])
                        + where
                        + "&unfinished=1",
                    )
                )
        for figure in figures.reserves:
            if figure.short:
                reserve = figure.reserve
                found.append(
                    SupplyWarning(
                        "reserve",
                        county,
                        f"{county.short_name}{reserve.get_fuel_display()}储备不足：需 {_num(figure.need_t)} 吨"
                        f"（{reserve.households:,} 户 × 每户 {_num(figure.norm)} 吨），"
                        f"已储备 {_num(reserve.stored_t)} 吨",
                        reverse("supply-reserves") + where,
                    )
                )
    for project, reasons in late_projects(counties=counties, plan_year=plan_year, today=today):
        found.append(
            SupplyWarning(
                "project",
                project.county,
                f"重点项目{project.name}滞后：" + "；".join(reasons),
                reverse("key-project", args=[project.pk]),
            )
        )
    return found
