"""Acceptance visits (验收), their defects and photos, and the removal of old heating (先立后破)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from heating.models import County, CountyScopedQuerySet
from retrofits.models import Household


class ProjectQuerySet(CountyScopedQuerySet["Project"]):
    pass


class Project(models.Model):
    """A work accepted as a whole rather than household by household."""

    class Kind(models.TextChoices):
        DISTRICT_NETWORK = "district_network", "集中供热管网"
        GRID_UPGRADE = "grid_upgrade", "电网改造"
        BUILDING_TOWN = "building_town", "城区/县城既有建筑节能改造"
        BUILDING_RURAL = "building_rural", "农村围护结构改造"

    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="projects", verbose_name="县（市、区）"
    )

    class Unit(models.TextChoices):
        # 忻州经济开发区 has building duties (六.2) but no household targets: its building
        # retrofits are kept under the county it lies in (忻府区) and counted as its own unit.
        COUNTY = "", "本县（市、区）"
        DEVELOPMENT_ZONE = "development_zone", "忻州经济开发区"

    kind = models.CharField("类别", max_length=20, choices=Kind.choices)
    unit = models.CharField(
        "建筑节能改造单位", max_length=20, choices=Unit.choices, default="", blank=True
    )
    name = models.CharField("项目名称", max_length=100)
    area_m2 = models.DecimalField(
        "改造面积（平方米）", max_digits=12, decimal_places=2, null=True, blank=True
    )
    accepted_on = models.DateField("验收合格日期", null=True, blank=True)
    efficiency_gain_pct = models.DecimalField(
        "能效提升（%）", max_digits=5, decimal_places=1, null=True, blank=True
    )

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["county__order", "kind", "name"]
        verbose_name = verbose_name_plural = "验收项目"
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind__in=["building_town", "building_rural"]) | Q(area_m2__gt=0),
                name="project_building_has_area",
                violation_error_message="建筑节能改造项目须填写改造面积",
            ),
            models.CheckConstraint(
                condition=Q(unit="") | Q(kind__in=["building_town", "building_rural"]),
                name="project_development_zone_buildings_only",
                violation_error_message="忻州经济开发区只承担建筑节能改造任务",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.county} {self.name}（{self.get_kind_display()}）"


class Subject(models.Model):
    """What a visit or a defect is about: a household or a project (inspections: exactly one)."""

    household = models.ForeignKey(
        Household,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="%(class)ss",
        verbose_name="改造户",
    )
    project = models.ForeignKey(
        Project,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="%(class)ss",
        verbose_name="项目",
    )

    class Meta:
        abstract = True


class InspectionQuerySet(CountyScopedQuerySet["Inspection"]):
    # A visit belongs to the county of its household or of its project.
    county_lookups = ("household__county", "project__county")


class Inspection(Subject):
    """One acceptance visit to a household by an inspector."""

    class Result(models.TextChoices):
        PASSED = "passed", "合格"
        FAILED = "failed", "不合格"

    visited_at = models.DateTimeField("验收时间")
    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="验收人"
    )
    co_inspectors = models.CharField("同行验收人员", max_length=200, blank=True)
    supervision_unit = models.CharField("监理单位", max_length=100, blank=True)
    checklist = models.JSONField("检查项", default=dict, blank=True)  # projects have none
    result = models.CharField("验收结果", max_length=8, choices=Result.choices)
    notes = models.TextField("说明", blank=True, max_length=500)
    latitude = models.DecimalField("纬度", max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField("经度", max_digits=9, decimal_places=6, null=True, blank=True)
    created_at = models.DateTimeField("录入时间", auto_now_add=True)

    objects = InspectionQuerySet.as_manager()

    class Meta(Subject.Meta):
        ordering = ["-visited_at"]
        verbose_name = verbose_name_plural = "验收记录"
        constraints = [
            models.CheckConstraint(
                condition=Q(result__in=["passed", "failed"]), name="inspection_result_valid"
            ),
            models.CheckConstraint(
                condition=Q(household__isnull=True) ^ Q(project__isnull=True),
                name="inspection_of_household_or_project",
            ),
            models.CheckConstraint(
                condition=(Q(latitude__isnull=True) & Q(longitude__isnull=True))
                | (
                    Q(latitude__gte=-90, latitude__lte=90)
                    & Q(longitude__gte=-180, longitude__lte=180)
                ),
                name="inspection_location_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.household or self.project} {self.visited_at:%Y-%m-%d} {self.get_result_display()}"


class DefectQuerySet(CountyScopedQuerySet["Defect"]):
    county_lookups = ("household__county", "project__county")

    def open(self) -> DefectQuerySet:
        return self.filter(closed_by__isnull=True)


class Defect(Subject):
    """A problem found at a failing visit, to be put right by a date; a passing revisit closes it."""

    inspection = models.ForeignKey(
        Inspection, on_delete=models.CASCADE, related_name="defects", verbose_name="验收记录"
    )
    description = models.TextField("问题", max_length=200)
    rectify_by = models.DateField("整改期限")
    closed_by = models.ForeignKey(
        Inspection,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="closed_defects",
        verbose_name="复验记录",
    )

    objects = DefectQuerySet.as_manager()

    class Meta(Subject.Meta):
        ordering = ["rectify_by", "pk"]
        verbose_name = verbose_name_plural = "整改问题"

    def __str__(self) -> str:
        return f"{self.description[:20]}（{self.rectify_by:%Y-%m-%d}前整改）"


class InspectionPhoto(models.Model):
    inspection = models.ForeignKey(
        Inspection, on_delete=models.CASCADE, related_name="photos", verbose_name="验收记录"
    )
    image = models.FileField("照片", upload_to="inspections/%Y/%m/")
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField("大小（字节）")

    class Meta:
        verbose_name = verbose_name_plural = "验收照片"

    def __str__(self) -> str:
        return self.image.name or ""


class HeatingRemoval(models.Model):
    """The household's original heating (stove, kang, coal boiler) recorded as removed."""

    household = models.OneToOneField(
        Household, on_delete=models.PROTECT, related_name="heating_removal", verbose_name="改造户"
    )
    removed_on = models.DateField("拆除日期")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="登记人"
    )
    recorded_at = models.DateTimeField("登记时间", auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "原取暖设施拆除"

    def __str__(self) -> str:
        return f"{self.household} 拆除于 {self.removed_on:%Y-%m-%d}"
