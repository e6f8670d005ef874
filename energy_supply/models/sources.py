"""Heat sources for district heating, the key projects the plan watches, and the fuel kept for the
areas no retrofit reaches."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import models
from django.db.models import Q

from heating.history import History
from heating.models import County, CountyScopedQuerySet, HeatingPath, Township
from heating.versions import Versioned
from retrofits.models import Household, HouseholdQuerySet

# 1 蒸吨/小时 of steam is about 0.7 MW of heat: the plan's 35 t/h is 24.5 MW.
SMALL_COAL_T_H = Decimal(35)
SMALL_COAL_MW = Decimal("24.5")


class HeatSourceQuerySet(CountyScopedQuerySet["HeatSource"]):
    county_lookups = ("counties",)
    through_many = True


class HeatSource(models.Model):
    """A source of district heat and the counties it serves. The plan (四.1) refuses coal
    *boilers* of 35 t/h and less (not CHP plants, nor waste heat) and plants on the closure list,
    and wants biomass *boilers* (生物质成型燃料锅炉) with efficient flue-gas treatment: the
    database refuses them too, as the plan words them."""

    class Kind(models.TextChoices):
        CHP = "chp", "热电联产"
        BOILER = "boiler", "独立供热锅炉房"
        WASTE_HEAT = "waste_heat", "工业余热"
        HEAT_PUMP = "heat_pump", "热泵（地源、水源、空气源）"
        BIOMASS_BOILER = "biomass_boiler", "生物质成型燃料锅炉"

    class Fuel(models.TextChoices):
        COAL = "coal", "燃煤"
        GAS = "gas", "天然气"
        BIOMASS = "biomass", "生物质"
        ELECTRIC = "electric", "电"
        WASTE_HEAT = "waste_heat", "余热"
        GEOTHERMAL = "geothermal", "地热"

    class Unit(models.TextChoices):
        T_H = "t_h", "蒸吨/小时"
        MW = "mw", "兆瓦"

    class Status(models.TextChoices):
        PLANNED = "planned", "规划"
        BUILDING = "building", "在建"
        RUNNING = "running", "运行"
        STOPPED = "stopped", "停运"

    name = models.CharField("热源名称", max_length=100, unique=True)
    operator = models.CharField("运营单位", max_length=100, blank=True)
    kind = models.CharField("类型", max_length=20, choices=Kind.choices)
    fuel = models.CharField("燃料", max_length=16, choices=Fuel.choices)
    capacity = models.DecimalField("容量", max_digits=10, decimal_places=2)
    unit = models.CharField("容量单位", max_length=8, choices=Unit.choices)
    flue_gas_treatment = models.BooleanField("配备高效烟气净化设施", default=False)
    on_closure_list = models.BooleanField(
        "列入淘汰关停或产能退出范围", default=False, help_text="列入的企业不得作为热源"
    )
    status = models.CharField("状态", max_length=16, choices=Status.choices)
    counties = models.ManyToManyField(County, related_name="heat_sources", verbose_name="供热范围")
    notes = models.TextField("备注", blank=True, max_length=1000)

    history = History(m2m_fields=[counties])
    objects = HeatSourceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = verbose_name_plural = "热源"
        constraints = [
            models.CheckConstraint(
                condition=Q(capacity__gt=0),
                name="heat_source_capacity_positive",
                violation_error_message="容量应为正数",
            ),
            models.CheckConstraint(
                condition=~Q(fuel="coal", kind="boiler")
                | Q(unit="t_h", capacity__gt=SMALL_COAL_T_H)
                | Q(unit="mw", capacity__gt=SMALL_COAL_MW),
                name="heat_source_no_small_coal_boiler",
                violation_error_message="35蒸吨/小时（24.5兆瓦）及以下的燃煤锅炉不得作为热源"
                "（实施方案四.1）",
            ),
            models.CheckConstraint(
                condition=Q(on_closure_list=False),
                name="heat_source_not_on_closure_list",
                violation_error_message="列入淘汰关停和产能退出范围的企业不得作为热源（实施方案四.1）",
            ),
            models.CheckConstraint(
                condition=~Q(kind="biomass_boiler") | Q(flue_gas_treatment=True),
                name="heat_source_biomass_flue_gas",
                violation_error_message="生物质成型燃料锅炉须配备高效烟气净化设施（实施方案四.1）",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def capacity_label(self) -> str:
        return f"{format(self.capacity.normalize(), 'f')} {self.get_unit_display()}"


class KeyProjectQuerySet(CountyScopedQuerySet["KeyProject"]):
    county_lookups = ("county", "counties")
    through_many = True


class KeyProject(models.Model):
    """A project the plan watches by name (七(三)), first 原平市同华二期长输管线热电联产: its
    milestones, who answers for it, and the households whose heating waits on it."""

    class Status(models.TextChoices):
        PLANNED = "planned", "未开工"
        BUILDING = "building", "建设中"
        DONE = "done", "已建成"

    name = models.CharField("项目名称", max_length=100, unique=True)
    county = models.ForeignKey(
        County,
        on_delete=models.PROTECT,
        related_name="key_projects",
        verbose_name="所在县（市、区）",
    )
    responsible = models.CharField("责任人", max_length=50)
    responsible_unit = models.CharField("责任单位", max_length=100, blank=True)
    status = models.CharField("状态", max_length=16, choices=Status.choices)
    completed_on = models.DateField("建成日期", null=True, blank=True)
    # The households that wait on it: those of these counties (and townships, if any) on this path.
    path = models.CharField("服务的取暖路径", max_length=16, choices=HeatingPath.choices)
    counties = models.ManyToManyField(County, related_name="+", verbose_name="服务的县（市、区）")
    townships = models.ManyToManyField(
        Township,
        blank=True,
        related_name="+",
        verbose_name="服务的乡（镇、街道）",
        help_text="空白表示所选县（市、区）的全部乡镇",
    )
    notes = models.TextField("备注", blank=True, max_length=1000)

    history = History()
    objects = KeyProjectQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = verbose_name_plural = "重点项目"
        constraints = [
            models.CheckConstraint(
                condition=Q(status="done", completed_on__isnull=False)
                | (~Q(status="done") & Q(completed_on__isnull=True)),
                name="key_project_done_has_date",
                violation_error_message="已建成的项目须填写建成日期，未建成的不填",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def households(self) -> HouseholdQuerySet:
        """The households whose heating waits on the project."""
        found = Household.objects.filter(county__in=self.counties.all(), path=self.path)
        if self.townships.exists():
            found = found.filter(township__in=self.townships.all())
        return found

    def late_milestones(self, today: dt.date) -> list[Milestone]:
        return [m for m in self.milestones.all() if m.done_on is None and m.due_on < today]


class Milestone(models.Model):
    project = models.ForeignKey(
        KeyProject, on_delete=models.CASCADE, related_name="milestones", verbose_name="重点项目"
    )
    name = models.CharField("节点", max_length=100)
    due_on = models.DateField("计划完成")
    done_on = models.DateField("实际完成", null=True, blank=True)

    history = History()

    class Meta:
        ordering = ["project", "due_on", "pk"]
        verbose_name = verbose_name_plural = "项目节点"

    def __str__(self) -> str:
        return f"{self.project} · {self.name}"


class Fuel(models.TextChoices):
    CLEAN_COAL = "clean_coal", "洁净煤"
    BIOMASS_PELLETS = "biomass_pellets", "生物质成型燃料"


class ReserveNorm(models.Model):
    """How much fuel one household not reached by a retrofit burns in a heating season; set by the
    municipal bureau, shown wherever a need is computed from it."""

    fuel = models.CharField("燃料", max_length=20, choices=Fuel.choices, unique=True)
    tonnes_per_household = models.DecimalField(
        "每户每采暖季用量（吨）", max_digits=6, decimal_places=2
    )

    history = History()

    class Meta:
        verbose_name = verbose_name_plural = "燃料储备标准"
        constraints = [
            models.CheckConstraint(
                condition=Q(tonnes_per_household__gt=0),
                name="reserve_norm_positive",
                violation_error_message="用量应为正数",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_fuel_display()} 每户 {self.tonnes_per_household:g} 吨"


class FuelReserve(Versioned):
    """Fuel a county has contracted and stored for a heating season, for its households no retrofit
    reaches (洁净煤+环保炉具, 生物质成型燃料+专用炉具)."""

    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="fuel_reserves", verbose_name="县（市、区）"
    )
    season = models.PositiveSmallIntegerField(
        "采暖季", help_text="采暖季开始的年份：2023 即 2023-2024 采暖季"
    )
    fuel = models.CharField("燃料", max_length=20, choices=Fuel.choices)
    households = models.PositiveIntegerField(
        "保障户数", help_text="清洁取暖未覆盖、靠此燃料取暖的户数"
    )
    contracted_t = models.DecimalField("合同量（吨）", max_digits=12, decimal_places=1)
    stored_t = models.DecimalField("已储备（吨）", max_digits=12, decimal_places=1)
    supplier = models.CharField("供应企业", max_length=100, blank=True)

    history = History()
    objects = CountyScopedQuerySet.as_manager()

    class Meta:
        ordering = ["county__order", "-season", "fuel"]
        verbose_name = verbose_name_plural = "燃料储备"
        constraints = [
            models.UniqueConstraint(
                fields=["county", "season", "fuel"],
                name="fuel_reserve_unique",
                violation_error_message="该县本采暖季已登记此燃料的储备",
            ),
            models.CheckConstraint(
                condition=Q(contracted_t__gte=0, stored_t__gte=0),
                name="fuel_reserve_nonnegative",
                violation_error_message="合同量和已储备量不能为负",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.county} {self.get_fuel_display()}（{self.season}-{self.season + 1}）"
