"""Supply for the demo, the tests and the benchmarks: every township's grid upgraded and gas network
laid, and contracts for each county's 煤改气 target, so that a ledger of any stage imports (the
plan's supply rules hold). Loaded before the households, as the plan wants it in a county."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Sum

from energy_supply.models import (
    FuelReserve,
    GasConnection,
    GasContract,
    GasNetwork,
    GridUpgrade,
    HeatSource,
    KeyProject,
    Milestone,
)
from energy_supply.services import (
    area_work_save,
    fuel_reserve_save,
    gas_connections_record_bulk,
    gas_contract_save,
    heat_source_save,
    key_project_save,
    milestone_save,
    supply_records_create_bulk,
)
from heating.models import County, HeatingPath, PlanYear, Target, Township, Village
from retrofits.choices import DONE_STAGES
from retrofits.demo import WAITING_FOR_GRID, DemoCity
from retrofits.models import Household

DEMO = "演示数据"


@transaction.atomic
def supply_everywhere(*, season: int, scale: float = 1.0, minimum: int = 0) -> None:
    """Ready works in every township and, for each county, a contract covering its 煤改气 target ×
    `scale` (at least `minimum` households). Safe to run again: what exists is left as it is.
    Each record starts its history, as one entered by hand would, and is checked as one would be
    (through the bulk service)."""
    ready_on = dt.date(season, 4, 1)
    have = set(GridUpgrade.objects.values_list("code", flat=True)) | set(
        GasNetwork.objects.values_list("code", flat=True)
    )
    townships = [t for t in Township.objects.select_related("county")]
    upgrades = [
        GridUpgrade(
            code=f"DW-{t.code}",
            county=t.county,
            township=t,
            capacity_kva=Decimal(630),
            status=GridUpgrade.Status.ENERGIZED,
            energized_on=ready_on,
        )
        for t in townships
        if f"DW-{t.code}" not in have
    ]
    networks = [
        GasNetwork(
            code=f"GW-{t.code}",
            county=t.county,
            township=t,
            length_km=Decimal(12),
            company=f"{t.county.short_name}燃气公司",
            status=GasNetwork.Status.SUPPLIED,
            supplied_on=ready_on,
        )
        for t in townships
        if f"GW-{t.code}" not in have
    ]
    targets = dict(
        Target.objects.filter(plan_year=season, path=HeatingPath.GAS)
        .values_list("county")
        .annotate(n=Sum("households"))
    )
    signed = set(GasContract.objects.filter(season=season).values_list("county", flat=True))
    contracts = [
        GasContract(
            code=f"GQ-{season}-{county.order:02d}",
            county=county,
            supplier=f"{county.short_name}燃气公司",
            signed_on=dt.date(season, 3, 15),
            season=season,
            volume_10k_m3=Decimal(households) * Decimal("0.12"),
            households=households,
        )
        for county in County.objects.exclude(pk__in=signed)
        if (households := max(math.ceil(targets.get(county.pk, 0) * scale), minimum)) > 0
    ]
    supply_records_create_bulk(records=[*upgrades, *networks, *contracts], user=None, reason=DEMO)


# ---------------------------------------------------------------- the demo city's supply

HEAT_SOURCES = (
    ("忻州热电厂", "忻州市热力公司", "chp", "coal", 600, "mw", True, ["忻州城区", "忻府区"]),
    ("同华电厂长输管线供热", "原平市热力公司", "chp", "coal", 700, "mw", True, ["原平市"]),
    ("定襄县集中供热锅炉房", "定襄县热力公司", "boiler", "coal", 80, "t_h", True, ["定襄县"]),
    (
        "五寨县生物质热电联产",
        "五寨县热电公司",
        "biomass_boiler",
        "biomass",
        75,
        "t_h",
        True,
        ["五寨县"],
    ),
    (
        "偏关县生物质热电联产",
        "偏关县热电公司",
        "biomass_boiler",
        "biomass",
        90,
        "t_h",
        True,
        ["偏关县"],
    ),
    (
        "河曲县工业余热供热",
        "河曲县热力公司",
        "waste_heat",
        "waste_heat",
        60,
        "mw",
        False,
        ["河曲县"],
    ),
    ("五台山水源热泵站", "五台山供热站", "heat_pump", "electric", 12, "mw", False, ["五台山"]),
)
# (county, households no retrofit reaches, stored share of the need): one county short.
RESERVES = (
    ("静乐县", 1800, Decimal("0.62")),
    ("岢岚县", 1500, Decimal("1.05")),
    ("神池县", 1200, Decimal("1.10")),
    ("五寨县", 900, Decimal("1.02")),
)


@transaction.atomic
def supply_before_households(city: DemoCity) -> None:
    """Works in every township and contracts a tenth above the 煤改气 targets (only the county
    supply_after_households cuts runs close), heat sources, the key project, fuel reserves."""
    supply_everywhere(season=city.plan_year.year, scale=city.scale * 1.1)
    _waiting_for_grid(city.plan_year)
    _sources(city.plan_year, city.as_of)
    city.say(
        f"能源保障：电网改造 {GridUpgrade.objects.count()} 项，燃气管网 "
        f"{GasNetwork.objects.count()} 项，供用气合同 {GasContract.objects.count()} 份，热源 "
        f"{HeatSource.objects.count()} 个，重点项目 {KeyProject.objects.count()} 个，燃料储备 "
        f"{FuelReserve.objects.count()} 项"
    )


# The 同华 pipeline's milestones, planned and as they went: late, as 实施方案七（三） feared, so that
# 原平市's district heating could only finish in November.
MILESTONES = (
    ("开工建设", (4, 25), (4, 28)),
    ("长输主管线贯通", (8, 31), (9, 22)),
    ("隔压换热站调试", (9, 30), (10, 26)),
    ("具备供热条件", (10, 15), (11, 12)),
)


@transaction.atomic
def _sources(plan_year: PlanYear, as_of: dt.date) -> None:
    counties = {c.short_name: c for c in County.objects.all()}
    have = set(HeatSource.objects.values_list("name", flat=True))
    for name, operator, kind, fuel, capacity, unit, treated, served in HEAT_SOURCES:
        if name not in have:
            source = HeatSource(
                name=name, operator=operator, kind=kind, fuel=fuel, capacity=capacity, unit=unit,
                flue_gas_treatment=treated, status=HeatSource.Status.RUNNING, notes=DEMO,
            )  # fmt: skip
            heat_source_save(source=source, counties=[counties[c] for c in served], user=None)
    _key_project(plan_year, counties["原平市"], as_of)
    stored = set(
        FuelReserve.objects.filter(season=plan_year.year, fuel="clean_coal").values_list(
            "county__short_name", flat=True
        )
    )
    for short_name, households, share in RESERVES:
        if short_name in stored:
            continue
        need = households * Decimal("2.5")
        reserve = FuelReserve(
            county=counties[short_name], season=plan_year.year, fuel="clean_coal",
            households=households, contracted_t=need,
            stored_t=(need * share).quantize(Decimal(1)), supplier="洁净煤配送中心",
        )  # fmt: skip
        fuel_reserve_save(reserve=reserve, user=None)


@transaction.atomic
def supply_after_households(city: DemoCity) -> None:
    """Once the households are in: a county near its gas limit, gas recorded for most completed
    煤改气 households. Through the services: the rules hold."""
    plan_year = city.plan_year
    # Every household selects equipment by the season's end: the contract is cut to them all, so
    # that the city on a later day (generate_households --as-of) stays within it.
    used = (
        Household.objects.filter(path=HeatingPath.GAS)
        .values("county")
        .annotate(n=Count("*"))
        .order_by("-n")
        .first()
    )
    if used:
        contract = (
            GasContract.objects.in_force(plan_year.year).filter(county=used["county"]).first()
        )
        close = used["n"] + max(1, round(used["n"] * 0.03))  # about 3% left, at any scale
        if contract is not None and contract.households != close:
            contract.households = close
            gas_contract_save(contract=contract, user=None)
    done = Household.objects.filter(
        path=HeatingPath.GAS, stage__in=DONE_STAGES, gas_connection__isnull=True
    ).order_by("code")
    gas_connections_record_bulk(
        connections=[
            (pk, completed_on)
            for pk, completed_on in done.values_list("pk", "completed_on")
            if pk % 5 and completed_on  # four in five have gas so far
        ],
        user=None,
    )
    city.say(f"能源保障：登记通气 {GasConnection.objects.count():,} 户")


def _key_project(plan_year: PlanYear, yuanping: County, as_of: dt.date) -> None:
    """The key project the plan names, its milestones done as far as the day told."""
    year = plan_year.year
    name = "原平市同华二期长输管线热电联产"
    project = KeyProject.objects.filter(name=name).first()
    if project is None:
        project = KeyProject(
            name=name, county=yuanping, responsible="原平市人民政府分管副市长（演示）",
            responsible_unit="原平市住房和城乡建设局", status=KeyProject.Status.BUILDING,
            path=HeatingPath.DISTRICT, notes="实施方案七（三）点名推进的重点项目。" + DEMO,
        )  # fmt: skip
        key_project_save(project=project, counties=[yuanping], user=None)
    milestones = {m.name: m for m in project.milestones.all()}
    for name, due, done in MILESTONES:
        milestone = milestones.get(name) or Milestone(
            project=project, name=name, due_on=dt.date(year, *due)
        )
        done_on = dt.date(year, *done) if dt.date(year, *done) <= as_of else None
        # Only what is new or changed: a second run writes no history.
        if milestone.pk is None or milestone.done_on != done_on:
            milestone.done_on = done_on
            milestone_save(milestone=milestone, user=None)
    finished = dt.date(year, *MILESTONES[-1][2])
    status = KeyProject.Status.DONE if finished <= as_of else KeyProject.Status.BUILDING
    if project.status != status:
        project.status, project.completed_on = status, finished if finished <= as_of else None
        key_project_save(project=project, user=None)


def _waiting_for_grid(plan_year: PlanYear) -> None:
    """The demo's village waiting on its grid: every other village of its township has its own
    upgrade in service, the township's as a whole and the village's are still being built."""
    waiting = Village.objects.select_related("township__county").get(code=WAITING_FOR_GRID)
    township = waiting.township
    have = set(GridUpgrade.objects.filter(township=township).values_list("code", flat=True))
    upgrades = [
        GridUpgrade(
            code=f"DW-{village.code}",
            county=township.county,
            township=township,
            village=village,
            capacity_kva=200,
            status=GridUpgrade.Status.ENERGIZED,
            energized_on=dt.date(plan_year.year, 4, 1),
        )
        for village in Village.objects.filter(township=township).exclude(pk=waiting.pk)
    ]
    upgrades.append(
        GridUpgrade(
            code=f"DW-{waiting.code}",
            county=township.county,
            township=township,
            village=waiting,
            capacity_kva=315,
            status=GridUpgrade.Status.BUILDING,
        )
    )
    # The villages' own upgrades first, so that the township's taken back leaves none waiting.
    supply_records_create_bulk(
        records=[u for u in upgrades if u.code not in have], user=None, reason=DEMO
    )
    whole = GridUpgrade.objects.get(code=f"DW-{township.code}")
    if whole.status != GridUpgrade.Status.BUILDING:
        whole.status, whole.energized_on = GridUpgrade.Status.BUILDING, None
        area_work_save(work=whole, user=None)
