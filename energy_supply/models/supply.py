"""What must be in place before a household's works: the gas a county has secured (供用气合同), the
grid upgraded (电网改造工程) and the gas network laid (燃气管网工程) in its village or township, and
the day gas reached a 煤改气 household (通气)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from heating.history import History
from heating.models import County, CountyScopedQuerySet, Township, Village
from heating.versions import Versioned
from retrofits.models import Household


def season_label(year: int) -> str:
    """The heating season that starts in the plan's year: 2023 → 2023-2024."""
    return f"{year}-{year + 1}"


class GasContractQuerySet(CountyScopedQuerySet["GasContract"]):
    def in_force(self, season: int) -> GasContractQuerySet:
        return self.filter(season=season, cancelled_on__isnull=True)


class GasContract(Versioned):
    """A county's contract with its gas company: the households the gas covers (以气定改)."""

    code = models.CharField("合同编号", max_length=40, unique=True)
    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="gas_contracts", verbose_name="县（市、区）"
    )
    supplier = models.CharField("供气企业", max_length=100)
    signed_on = models.DateField("签订日期")
    season = models.PositiveSmallIntegerField(
        "采暖季", help_text="采暖季开始的年份：2023 即 2023-2024 采暖季"
    )
    volume_10k_m3 = models.DecimalField("合同气量（万立方米）", max_digits=12, decimal_places=2)
    households = models.PositiveIntegerField("可保障户数")
    cancelled_on = models.DateField("解除日期", null=True, blank=True)

    history = History()
    objects = GasContractQuerySet.as_manager()

    class Meta:
        ordering = ["county__order", "-season", "code"]
        verbose_name = verbose_name_plural = "供用气合同"
        constraints = [
            models.CheckConstraint(
                condition=Q(volume_10k_m3__gt=0),
                name="gas_contract_volume_positive",
                violation_error_message="合同气量应为正数",
            ),
            models.CheckConstraint(
                condition=Q(households__gt=0),
                name="gas_contract_households_positive",
                violation_error_message="可保障户数应为正整数",
            ),
            models.CheckConstraint(
                condition=Q(season__gte=2000, season__lte=2100),
                name="gas_contract_season_valid",
                violation_error_message="采暖季应如 2023-2024",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code}（{self.county}，{season_label(self.season)}）"

    @property
    def season_label(self) -> str:
        return season_label(self.season)


class AreaWorkQuerySet(CountyScopedQuerySet[Any]):
    def ready(self) -> AreaWorkQuerySet:
        """Works that serve their area: an upgrade 已投运, a network 已通气."""
        return self.filter(status=self.model.READY)

    def covering(self) -> Q:
        """A filter keeping the households (or anything with a village and a township) these works
        cover: their village, or their whole township where a work names no village."""
        return Q(village__in=self.filter(village__isnull=False).values("village")) | Q(
            township__in=self.filter(village__isnull=True).values("township")
        )


class AreaWork(Versioned):
    """Works done for a village, or for a whole township when no village is named."""

    READY: ClassVar[str]
    status: str  # each kind of works has its own statuses

    code = models.CharField("工程编号", max_length=40, unique=True)
    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="+", verbose_name="县（市、区）"
    )
    township = models.ForeignKey(
        Township, on_delete=models.PROTECT, related_name="+", verbose_name="乡（镇、街道）"
    )
    village = models.ForeignKey(
        Village,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="村（社区）",
        help_text="空白表示整个乡（镇、街道）",
    )

    objects = AreaWorkQuerySet.as_manager()

    class Meta:
        abstract = True

    def clean(self) -> None:
        errors = {}
        if self.township_id and self.county_id and self.township.county_id != self.county_id:
            errors["township"] = f"「{self.township}」不是{self.county}的乡（镇、街道）"
        village = self.village if self.village_id else None
        if village is not None and self.township_id and village.township_id != self.township_id:
            errors["village"] = f"「{self.village}」不是{self.township}的村（社区）"
        if errors:
            raise ValidationError(errors)

    @property
    def area(self) -> str:
        return f"{self.township}{self.village or '（全乡镇）'}"


class GridUpgrade(AreaWork):
    """A grid upgrade ahead of 煤改电 (电网改造前置), kept by the power company."""

    class Status(models.TextChoices):
        PLANNED = "planned", "未开工"
        BUILDING = "building", "施工中"
        ENERGIZED = "energized", "已投运"

    READY = Status.ENERGIZED

    capacity_kva = models.DecimalField("新增配变容量（kVA）", max_digits=10, decimal_places=1)
    status = models.CharField("状态", max_length=16, choices=Status.choices)
    energized_on = models.DateField("投运日期", null=True, blank=True)

    history = History()

    class Meta:
        ordering = ["county__order", "township__code", "code"]
        verbose_name = verbose_name_plural = "电网改造工程"
        constraints = [
            models.CheckConstraint(
                condition=Q(capacity_kva__gt=0),
                name="grid_upgrade_capacity_positive",
                violation_error_message="新增配变容量应为正数",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["planned", "building", "energized"]),
                name="grid_upgrade_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(status="energized", energized_on__isnull=False)
                | (~Q(status="energized") & Q(energized_on__isnull=True)),
                name="grid_upgrade_energized_has_date",
                violation_error_message="已投运的工程须填写投运日期，未投运的不填",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.area}（{self.get_status_display()}）"


class GasNetwork(AreaWork):
    """Gas mains laid to the villages 煤改气 reaches (以供定改), kept with the county's gas company."""

    class Status(models.TextChoices):
        PLANNED = "planned", "未开工"
        BUILDING = "building", "施工中"
        SUPPLIED = "supplied", "已通气"

    READY = Status.SUPPLIED

    length_km = models.DecimalField("管网长度（公里）", max_digits=10, decimal_places=2)
    company = models.CharField("燃气企业", max_length=100)
    status = models.CharField("状态", max_length=16, choices=Status.choices)
    supplied_on = models.DateField("通气日期", null=True, blank=True)

    history = History()

    class Meta:
        ordering = ["county__order", "township__code", "code"]
        verbose_name = verbose_name_plural = "燃气管网工程"
        constraints = [
            models.CheckConstraint(
                condition=Q(length_km__gt=0),
                name="gas_network_length_positive",
                violation_error_message="管网长度应为正数",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["planned", "building", "supplied"]),
                name="gas_network_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(status="supplied", supplied_on__isnull=False)
                | (~Q(status="supplied") & Q(supplied_on__isnull=True)),
                name="gas_network_supplied_has_date",
                violation_error_message="已通气的工程须填写通气日期，未通气的不填",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.area}（{self.get_status_display()}）"


class GasConnectionQuerySet(CountyScopedQuerySet["GasConnection"]):
    county_lookups = ("household__county",)


class GasConnection(models.Model):
    """The day gas reached a 煤改气 household, so that it can heat (通气)."""

    household = models.OneToOneField(
        Household, on_delete=models.PROTECT, related_name="gas_connection", verbose_name="改造户"
    )
    connected_on = models.DateField("通气日期")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="登记人",
    )
    recorded_at = models.DateTimeField("登记时间", auto_now_add=True)

    objects = GasConnectionQuerySet.as_manager()

    class Meta:
        verbose_name = verbose_name_plural = "入户通气"

    def __str__(self) -> str:
        return f"{self.household} 通气于 {self.connected_on:%Y-%m-%d}"
