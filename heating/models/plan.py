"""A plan year: its milestones and its targets."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.db import models
from django.db.models import F, Q, Sum

from heating.history import History
from heating.models.choices import AreaType, BuildingKind, HeatingPath
from heating.models.divisions import County
from heating.models.scoping import CountyScopedQuerySet


@dataclass(frozen=True)
class CountyWindow:
    works_due: dt.date
    acceptance_start: dt.date
    acceptance_due: dt.date

    def accepting(self, day: dt.date) -> bool:
        return self.acceptance_start <= day <= self.acceptance_due


@dataclass(frozen=True)
class HeatingSeason:
    """A plan year's heating season (采暖季): the running subsidy counts metered use whose period
    ends inside it. `default` says the bureau has not set it and 11/1–3/31 stands in."""

    start: dt.date
    end: dt.date
    default: bool

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end

    @property
    def label(self) -> str:
        shown = f"{self.start:%Y-%m-%d}至{self.end:%Y-%m-%d}"
        return f"{shown}（默认）" if self.default else shown


class PlanYear(models.Model):
    """One year's implementation plan (实施方案) and its milestones."""

    year = models.PositiveSmallIntegerField("年度", primary_key=True)
    title = models.CharField("方案名称", max_length=100)
    document_no = models.CharField("文号", max_length=50, blank=True)
    plan_due = models.DateField("县级实施方案报备截止")
    works_start = models.DateField("组织实施开始")
    works_due = models.DateField("施工完成截止", help_text="个别县另有规定的见“县级节点”")
    acceptance_start = models.DateField("验收开始")
    acceptance_due = models.DateField("验收截止")
    evaluation_start = models.DateField("绩效评价开始")
    evaluation_due = models.DateField("绩效评价截止")
    # Set by the bureau; blank means the default 11/1–3/31 (heating_season() says which).
    season_start = models.DateField(
        "采暖季开始", null=True, blank=True, help_text="空白：默认11月1日"
    )
    season_end = models.DateField(
        "采暖季结束", null=True, blank=True, help_text="空白：默认次年3月31日"
    )

    class Meta:
        ordering = ["-year"]
        verbose_name = verbose_name_plural = "计划年度"
        constraints = [
            models.CheckConstraint(
                condition=Q(plan_due__lt=F("works_start"))
                & Q(works_start__lte=F("works_due"))
                & Q(acceptance_start__lte=F("acceptance_due"))
                & Q(works_due__lte=F("acceptance_due"))
                & Q(acceptance_due__lt=F("evaluation_start"))
                & Q(evaluation_start__lte=F("evaluation_due")),
                name="plan_year_milestones_in_order",
            ),
            models.CheckConstraint(
                condition=Q(season_start__isnull=True)
                | Q(season_end__isnull=True)
                | Q(season_start__lt=F("season_end")),
                name="plan_year_season_in_order",
                violation_error_message="采暖季结束日期应晚于开始日期",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.year}年度"

    @staticmethod
    def default_calendar(year: int) -> dict[str, Any]:
        """The 2023 plan's calendar moved to `year`, for a year created before its plan is entered."""
        return {
            "title": f"忻州市{year}年冬季清洁取暖工作实施方案",
            "plan_due": dt.date(year, 4, 20),
            "works_start": dt.date(year, 4, 21),
            "works_due": dt.date(year, 10, 15),
            "acceptance_start": dt.date(year, 10, 15),
            "acceptance_due": dt.date(year, 10, 31),
            "evaluation_start": dt.date(year, 11, 1),
            "evaluation_due": dt.date(year + 1, 4, 30),
        }

    @cached_property
    def _works_due_overrides(self) -> dict[int, dt.date]:
        # One query for the year, however many counties a page asks about.
        return dict(self.county_deadlines.values_list("county_id", "works_due"))

    def works_due_for(self, county: County) -> dt.date:
        return self._works_due_overrides.get(county.pk, self.works_due)

    def acceptance_due_for(self, county: County) -> dt.date:
        """Acceptance runs 10/15–10/31 for every unit (五(三)): only 五台山's *works* end early
        (五(二), 10/1), not its acceptance."""
        return self.acceptance_due

    def window_for(self, county: County) -> CountyWindow:
        """A county's dates, said in one place: the dashboards, the acceptance ledger, alerts,
        projections and dispatch figures all ask here."""
        return CountyWindow(
            works_due=self.works_due_for(county),
            acceptance_start=self.acceptance_start,
            acceptance_due=self.acceptance_due_for(county),
        )

    def in_acceptance_window(self, day: dt.date) -> bool:
        return self.acceptance_start <= day <= self.acceptance_due

    def heating_season(self) -> HeatingSeason:
        """The year's heating season: the bureau's dates, else 11/1 to the next 3/31 (each end
        on its own: a bureau that set only the start keeps the default end)."""
        start = self.season_start or dt.date(self.year, 11, 1)
        end = self.season_end or dt.date(self.year + 1, 3, 31)
        return HeatingSeason(
            start, end, default=self.season_start is None and self.season_end is None
        )


class CountyDeadline(models.Model):
    """A county whose works must end earlier than the city's (五台山: 10/1)."""

    plan_year = models.ForeignKey(
        PlanYear, on_delete=models.CASCADE, related_name="county_deadlines", verbose_name="年度"
    )
    county = models.ForeignKey(County, on_delete=models.CASCADE, verbose_name="县（市、区）")
    works_due = models.DateField("施工完成截止")

    class Meta:
        verbose_name = verbose_name_plural = "县级节点"
        constraints = [
            models.UniqueConstraint(fields=["plan_year", "county"], name="county_deadline_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.plan_year} {self.county} 施工截止 {self.works_due:%m月%d日}"


class TargetQuerySet(CountyScopedQuerySet["Target"]):
    def for_year(self, year: int) -> TargetQuerySet:
        return self.filter(plan_year_id=year)

    def total(self) -> int:
        return self.aggregate(n=Sum("households"))["n"] or 0


class Target(models.Model):
    """Households to retrofit in one county, by one heating path, in one area type (总任务数)."""

    plan_year = models.ForeignKey(
        PlanYear, on_delete=models.CASCADE, related_name="targets", verbose_name="年度"
    )
    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="targets", verbose_name="县（市、区）"
    )
    path = models.CharField("取暖路径", max_length=16, choices=HeatingPath.choices)
    area = models.CharField("城乡类型", max_length=8, choices=AreaType.choices)
    households = models.PositiveIntegerField("任务户数")

    history = History()
    objects = TargetQuerySet.as_manager()

    class Meta:
        ordering = ["plan_year", "county__order", "path", "area"]
        verbose_name = verbose_name_plural = "改造任务"
        constraints = [
            models.UniqueConstraint(
                fields=["plan_year", "county", "path", "area"], name="target_unique_cell"
            ),
            models.CheckConstraint(
                condition=Q(path__in=HeatingPath.values), name="target_path_valid"
            ),
            models.CheckConstraint(condition=Q(area__in=AreaType.values), name="target_area_valid"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.plan_year_id} {self.county} {self.get_path_display()}"
            f"（{self.get_area_display()}）{self.households}户"
        )


class BuildingTarget(models.Model):
    """The city's building energy-retrofit target in m² (建筑节能改造)."""

    plan_year = models.ForeignKey(
        PlanYear, on_delete=models.CASCADE, related_name="building_targets", verbose_name="年度"
    )
    kind = models.CharField("类别", max_length=16, choices=BuildingKind.choices)
    area_m2 = models.DecimalField("面积（平方米）", max_digits=12, decimal_places=2)
    # The plan asks town buildings to gain at least 30% energy efficiency; rural envelopes have no figure.
    min_efficiency_gain_pct = models.PositiveSmallIntegerField(
        "能效提升下限（%）", null=True, blank=True
    )

    history = History()

    class Meta:
        ordering = ["plan_year", "-kind"]  # town buildings first, as the plan lists them
        verbose_name = verbose_name_plural = "建筑节能改造任务"
        constraints = [
            models.UniqueConstraint(fields=["plan_year", "kind"], name="building_target_unique"),
            models.CheckConstraint(condition=Q(area_m2__gt=0), name="building_target_positive"),
            models.CheckConstraint(
                condition=Q(kind__in=BuildingKind.values), name="building_target_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(min_efficiency_gain_pct__isnull=True)
                | Q(min_efficiency_gain_pct__lte=100),
                name="building_target_gain_is_percent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan_year_id} {self.get_kind_display()} {self.area_wan_m2:g}万平方米"

    @property
    def area_wan_m2(self) -> Decimal:
        """The area in 万平方米, the unit the plan uses."""
        return self.area_m2 / 10000
