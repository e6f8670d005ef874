"""Stored progress figures (rollups): what the dashboards and the API read instead of counting
households on every page view."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from heating.models import AreaType, County, HeatingPath, PlanYear, Township, Village
from retrofits.choices import Stage


class RollupRunQuerySet(models.QuerySet["RollupRun"]):
    def complete(self) -> RollupRunQuerySet:
        return self.filter(finished_at__isnull=False)

    def latest_complete(self) -> RollupRun | None:
        return self.complete().order_by("-finished_at", "-pk").first()


class RollupRun(models.Model):
    """One complete count of the ledger. A run's rows and its finished_at are written in a single
    transaction, so readers only ever see whole runs; a worker killed halfway leaves nothing."""

    started_at = models.DateTimeField("开始时间")
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)
    households = models.PositiveIntegerField("户数", default=0)
    # By county: 煤改电 households on equipment other than air-source heat pumps (四.2), and how
    # many of them give no reason in their 备注: {county id: [households, without a reason]}.
    electric_other = models.JSONField("煤改电非空气源热泵", default=dict, blank=True)

    objects = RollupRunQuerySet.as_manager()

    class Meta:
        ordering = ["-finished_at"]
        verbose_name = verbose_name_plural = "进度汇总"

    def __str__(self) -> str:
        return f"进度汇总 {self.finished_at or self.started_at:%Y-%m-%d %H:%M}"


class ProgressCount(models.Model):
    """Households of one village by path, area type and stage, as of one run."""

    # The counts' keys are copied from households, whose own constraints check them, in the run's
    # own transaction: a database constraint here would check each again, a trigger per key per
    # row at the run's COMMIT (~37,000 for a city's run, a third of a county's count; the run's
    # key alone cost a county's upload 70 ms). Deletions still cascade (Django's). Nor has any
    # key an index of its own: the unique constraint's, which leads with the run, the plan year
    # and the county, serves every reader (each index cost the same upload 10 ms).
    run = models.ForeignKey(
        RollupRun,
        on_delete=models.CASCADE,
        related_name="counts",
        db_index=False,
        db_constraint=False,
    )
    plan_year = models.ForeignKey(
        PlanYear, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    county = models.ForeignKey(
        County, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    township = models.ForeignKey(
        Township, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    village = models.ForeignKey(
        Village, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    path = models.CharField(max_length=16, choices=HeatingPath.choices)
    area = models.CharField(max_length=8, choices=AreaType.choices)
    stage = models.CharField(max_length=16, choices=Stage.choices)
    households = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                # The county is the village's: in the key for the readers that filter by it.
                fields=["run", "plan_year", "county", "village", "path", "area", "stage"],
                name="progress_count_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.village_id} {self.path}/{self.area}/{self.stage}: {self.households}"


class TrendPoint(models.Model):
    """Households of a county's target cell (path × area type) that completed, and that were
    accepted, on one day, as of one run: the trend and each cell's pace come from the households'
    own dates, whenever the counting began."""

    # Keys and their index as ProgressCount's.
    run = models.ForeignKey(
        RollupRun,
        on_delete=models.CASCADE,
        related_name="trend",
        db_index=False,
        db_constraint=False,
    )
    plan_year = models.ForeignKey(
        PlanYear, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    county = models.ForeignKey(
        County, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    path = models.CharField(max_length=16, choices=HeatingPath.choices)
    area = models.CharField(max_length=8, choices=AreaType.choices)
    day = models.DateField("日期")
    completed = models.PositiveIntegerField("完工户数")
    accepted = models.PositiveIntegerField("验收户数")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "plan_year", "county", "path", "area", "day"],
                name="trend_point_unique",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.day} {self.county_id} {self.path}/{self.area}: {self.completed}/{self.accepted}"
        )


class DailyProgress(models.Model):
    """The day's last figures by plan year, county, path, area and stage: the trend line's
    points."""

    day = models.DateField("日期")
    plan_year = models.ForeignKey(PlanYear, on_delete=models.CASCADE, related_name="+")
    county = models.ForeignKey(County, on_delete=models.CASCADE, related_name="+")
    path = models.CharField(max_length=16, choices=HeatingPath.choices)
    area = models.CharField(max_length=8, choices=AreaType.choices)
    stage = models.CharField(max_length=16, choices=Stage.choices)
    households = models.PositiveIntegerField()

    class Meta:
        ordering = ["day"]
        verbose_name = verbose_name_plural = "每日进度"
        constraints = [
            models.UniqueConstraint(
                fields=["day", "plan_year", "county", "path", "area", "stage"],
                name="daily_progress_unique",
            ),
            models.CheckConstraint(
                condition=Q(households__gte=0), name="daily_progress_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.day} {self.county_id} {self.path}/{self.area}/{self.stage}: {self.households}"
        )


class RollupDue(models.Model):
    """One row: when the figures are next to be counted after household writes, if a count is
    waiting. Many writes in that time ask for one count (services.household_save)."""

    due_at = models.DateTimeField("预定汇总时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "待汇总"

    def __str__(self) -> str:
        return f"待汇总 {self.due_at:%Y-%m-%d %H:%M:%S}" if self.due_at else "无待汇总"
