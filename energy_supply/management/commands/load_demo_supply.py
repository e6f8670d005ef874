from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Count

from energy_supply.demo import DEMO, supply_everywhere
from energy_supply.models import (
    FuelReserve,
    GasConnection,
    GasContract,
    GridUpgrade,
    HeatSource,
    KeyProject,
    Milestone,
)
from energy_supply.rules import SELECTED_ON
from energy_supply.services import area_work_save, gas_contract_save
from heating.models import County, HeatingPath, PlanYear, Village
from retrofits.choices import DONE_STAGES, Stage
from retrofits.models import Household

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


class Command(BaseCommand):
    help = (
        "演示用能源保障数据：先于改造户载入电网改造、燃气管网、供用气合同、热源、重点项目和燃料储备；"
        "载入改造户后用 --settle 留出一个等待电网改造的村、一个用气余量不足的县，并登记通气。可重复运行。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--year", type=int, default=2023)
        parser.add_argument("--scale", type=float, default=0.01, help="与 generate_households 相同")
        parser.add_argument("--settle", action="store_true", help="改造户载入之后运行")

    def handle(self, *args: Any, **options: Any) -> None:
        plan_year = PlanYear.objects.filter(year=options["year"]).first()
        if plan_year is None:
            raise CommandError(
                f"没有 {options['year']} 年度的计划：先运行 load_reference 和 import_targets"
            )
        if options["settle"]:
            self.settle(plan_year)
            return
        # A tenth more gas than the targets need: only the county --settle cuts runs close.
        supply_everywhere(season=plan_year.year, scale=options["scale"] * 1.1)
        self.sources(plan_year)
        self.stdout.write(
            f"能源保障演示数据：电网改造 {GridUpgrade.objects.count()} 项，供用气合同 "
            f"{GasContract.objects.count()} 份，热源 {HeatSource.objects.count()} 个，"
            f"重点项目 {KeyProject.objects.count()} 个，燃料储备 {FuelReserve.objects.count()} 项。"
        )

    @transaction.atomic
    def sources(self, plan_year: PlanYear) -> None:
        counties = {c.short_name: c for c in County.objects.all()}
        for name, operator, kind, fuel, capacity, unit, treated, served in HEAT_SOURCES:
            source, created = HeatSource.objects.get_or_create(
                name=name,
                defaults={
                    "operator": operator, "kind": kind, "fuel": fuel, "capacity": capacity,
                    "unit": unit, "flue_gas_treatment": treated, "status": "running", "notes": DEMO,
                },
            )  # fmt: skip
            if created:
                source.full_clean()
                source.counties.set([counties[c] for c in served])
        year = plan_year.year
        project, created = KeyProject.objects.get_or_create(
            name="原平市同华二期长输管线热电联产",
            defaults={
                "county": counties["原平市"], "responsible": "原平市人民政府分管副市长（演示）",
                "responsible_unit": "原平市住房和城乡建设局", "status": KeyProject.Status.BUILDING,
                "path": HeatingPath.DISTRICT, "notes": "实施方案七（三）点名推进的重点项目。" + DEMO,
            },
        )  # fmt: skip
        if created:
            project.counties.set([counties["原平市"]])
            for name, due, done in (
                ("开工建设", dt.date(year, 4, 25), dt.date(year, 4, 28)),
                ("长输主管线贯通", dt.date(year, 8, 31), None),
                ("隔压换热站调试", dt.date(year, 9, 30), None),
                ("具备供热条件", dt.date(year, 10, 15), None),
            ):
                Milestone.objects.create(project=project, name=name, due_on=due, done_on=done)
        for short_name, households, share in RESERVES:
            need = households * Decimal("2.5")
            FuelReserve.objects.get_or_create(
                county=counties[short_name], season=year, fuel="clean_coal",
                defaults={
                    "households": households, "contracted_t": need,
                    "stored_t": (need * share).quantize(Decimal(1)), "supplier": "洁净煤配送中心",
                },
            )  # fmt: skip

    @transaction.atomic
    def settle(self, plan_year: PlanYear) -> None:
        """Once the households are in: a village waiting on its grid, a county near its gas limit,
        gas recorded for most completed 煤改气 households. Through the services: the rules hold."""
        waiting = self.waiting_village()
        if waiting is not None:
            township = waiting.township
            for village in Village.objects.filter(township=township).exclude(pk=waiting.pk):
                GridUpgrade.objects.get_or_create(
                    code=f"DW-{village.code}",
                    defaults={
                        "county": township.county, "township": township, "village": village,
                        "capacity_kva": 200, "status": GridUpgrade.Status.ENERGIZED,
                        "energized_on": dt.date(plan_year.year, 4, 1),
                    },
                )  # fmt: skip
            whole = GridUpgrade.objects.get(code=f"DW-{township.code}")
            whole.status, whole.energized_on = GridUpgrade.Status.BUILDING, None
            area_work_save(work=whole, user=None)
            GridUpgrade.objects.get_or_create(
                code=f"DW-{waiting.code}",
                defaults={
                    "county": township.county, "township": township, "village": waiting,
                    "capacity_kva": 315, "status": GridUpgrade.Status.BUILDING,
                },
            )  # fmt: skip
        used = (
            Household.objects.filter(path=HeatingPath.GAS, stage__in=SELECTED_ON)
            .values("county")
            .annotate(n=Count("*"))
            .order_by("-n")
            .first()
        )
        if used:
            contract = (
                GasContract.objects.in_force(plan_year.year).filter(county=used["county"]).first()
            )
            close = math.ceil(used["n"] / 0.97)  # about 3% left
            if contract is not None and contract.households != close:
                contract.households = close
                gas_contract_save(contract=contract, user=None)
        done = Household.objects.filter(
            path=HeatingPath.GAS, stage__in=DONE_STAGES, gas_connection__isnull=True
        ).order_by("code")
        for household in done:
            if household.pk % 5 and household.completed_on:  # four in five have gas so far
                GasConnection.objects.create(
                    household=household, connected_on=household.completed_on
                )
        self.stdout.write(
            f"演示：{waiting.township}{waiting} 等待电网改造；" if waiting else "演示：",
            ending="",
        )
        self.stdout.write(f"登记通气 {GasConnection.objects.count()} 户。")

    def waiting_village(self) -> Village | None:
        """A village with 煤改电 households at 已选型 and none at 施工中 or beyond, whose township is
        served as a whole: it can wait for its own upgrade."""
        if GridUpgrade.objects.filter(
            village__isnull=False, status=GridUpgrade.Status.BUILDING
        ).exists():
            return None  # settled before
        electric = Household.objects.filter(path=HeatingPath.ELECTRIC)
        started = electric.exclude(stage__in=[Stage.CONFIRMED, Stage.SELECTED]).values("village")
        candidates = (
            electric.filter(stage=Stage.SELECTED)
            .exclude(village__in=started)
            .values("village")
            .annotate(n=Count("*"))
            .order_by("-n", "village")
        )
        first = candidates.first()
        return (
            Village.objects.select_related("township__county").get(pk=first["village"])
            if first
            else None
        )
