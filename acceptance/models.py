"""Acceptance visits (验收), their defects and photos, and the removal of old heating (先立后破);
the integrity flags computed when a visit arrives, and the bureau's risk-weighted spot checks (抽查)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from heating.models import County, CountyScopedQuerySet, PlanYear
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

    class Kind(models.TextChoices):
        ACCEPTANCE = "acceptance", "验收"
        # The second visit of a household the bureau drew (SpotCheck): it keeps the stage.
        SPOT_CHECK = "spot_check", "抽查复核"

    kind = models.CharField(
        "类别",
        max_length=12,
        choices=Kind.choices,
        default=Kind.ACCEPTANCE,
        db_default="acceptance",
    )
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
    # The phone's own id of the record (its outbox's key): the same id sent again with the same
    # content is the same visit, answered as the first time; with other content it is refused.
    client_id = models.UUIDField("客户端编号", null=True, blank=True, unique=True, editable=False)
    content_digest = models.CharField("内容摘要", max_length=64, blank=True, editable=False)
    # Whether the integrity checks have looked at it (acceptance/services/integrity.py): a visit
    # recorded before them, or written in bulk, is checked by `manage.py check_visit_integrity`.
    integrity_checked = models.BooleanField("已核查真实性", default=False, editable=False)

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
            models.CheckConstraint(
                condition=Q(kind__in=["acceptance", "spot_check"])
                & (Q(kind="acceptance") | Q(household__isnull=False)),
                name="inspection_kind_valid",
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
    # What the integrity checks compare (acceptance/integrity.py): the bytes, and a perceptual
    # hash that a resized or re-encoded copy keeps, split in bands so that near copies are found
    # through an index (blank for a featureless picture, whose hash says nothing).
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    phash = models.CharField("感知哈希", max_length=16, blank=True)
    phash_band_0 = models.PositiveSmallIntegerField(null=True, blank=True, db_index=True)
    phash_band_1 = models.PositiveSmallIntegerField(null=True, blank=True, db_index=True)
    phash_band_2 = models.PositiveSmallIntegerField(null=True, blank=True, db_index=True)
    phash_band_3 = models.PositiveSmallIntegerField(null=True, blank=True, db_index=True)
    phash_band_4 = models.PositiveSmallIntegerField(null=True, blank=True, db_index=True)
    # Where the camera says it was taken (its EXIF GPS), when it says.
    latitude = models.DecimalField(
        "拍摄纬度", max_digits=9, decimal_places=6, null=True, blank=True
    )
    longitude = models.DecimalField(
        "拍摄经度", max_digits=9, decimal_places=6, null=True, blank=True
    )

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


class IntegrityFlagQuerySet(CountyScopedQuerySet["IntegrityFlag"]):
    county_lookups = ("inspection__household__county", "inspection__project__county")

    def open(self) -> IntegrityFlagQuerySet:
        """Not yet reviewed (核实) by the bureau."""
        return self.filter(reviewed_at__isnull=True)


class IntegrityFlag(models.Model):
    """Something about a visit that evidence should not show, found when it arrived. The visit
    stays valid; the flag shows beside it until a bureau user records a review with a reason."""

    class Kind(models.TextChoices):
        OUTSIDE_COUNTY = "outside_county", "位置不在该户所在县"
        PHOTO_REUSED = "photo_reused", "照片与其他户重复"
        TOO_FAST = "too_fast", "两次验收间隔过短"
        OUTSIDE_WINDOW = "outside_window", "验收窗口外"

    inspection = models.ForeignKey(
        Inspection, on_delete=models.CASCADE, related_name="flags", verbose_name="验收记录"
    )
    kind = models.CharField("类别", max_length=16, choices=Kind.choices)
    detail = models.CharField("说明", max_length=300)
    # The other visit of a pair (the same photo, an impossible journey); each carries the flag.
    other = models.ForeignKey(
        Inspection,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="相关验收记录",
    )
    created_at = models.DateTimeField("发现时间", auto_now_add=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="核实人",
    )
    reviewed_at = models.DateTimeField("核实时间", null=True, blank=True)
    review_reason = models.TextField("核实说明", max_length=500, blank=True)

    objects = IntegrityFlagQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = verbose_name_plural = "验收异常提示"
        constraints = [
            models.UniqueConstraint(
                fields=["inspection", "kind"],
                condition=Q(other__isnull=True),
                name="integrity_flag_once",
            ),
            models.UniqueConstraint(
                fields=["inspection", "kind", "other"],
                condition=Q(other__isnull=False),
                name="integrity_flag_once_per_pair",
            ),
            models.CheckConstraint(
                condition=(
                    Q(reviewed_at__isnull=True, reviewed_by__isnull=True, review_reason="")
                    | (
                        Q(reviewed_at__isnull=False, reviewed_by__isnull=False)
                        & ~Q(review_reason="")
                    )
                ),
                name="integrity_flag_review_complete",
                violation_error_message="核实须填写核实人、时间和说明",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.inspection}：{self.get_kind_display()}"


class SpotCheckQuerySet(CountyScopedQuerySet["SpotCheck"]):
    pass


class SpotCheck(models.Model):
    """A draw of accepted households for a second visit (抽查), weighted by their risk; with its
    seed, the same population draws the same sample again (acceptance/spot_checks.py)."""

    # None: drawn from every county.
    county = models.ForeignKey(
        County,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="spot_checks",
        verbose_name="县（市、区）",
    )
    # None: drawn from the accepted households of every plan year (任务年度).
    plan_year = models.ForeignKey(
        PlanYear,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="任务年度",
    )
    seed = models.CharField("随机种子", max_length=40)
    size = models.PositiveIntegerField("抽取户数")
    population = models.PositiveIntegerField("参与抽取的户数")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="抽取人"
    )
    created_at = models.DateTimeField("抽取时间", auto_now_add=True)

    objects = SpotCheckQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = verbose_name_plural = "抽查"
        constraints = [
            models.CheckConstraint(condition=Q(size__gt=0), name="spot_check_size_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.scope} 抽查 {self.created_at:%Y-%m-%d}（种子 {self.seed}）"

    @property
    def scope(self) -> str:
        """What it was drawn from, in words: 2023年度 · 忻府区, 全部年度 · 全市."""
        year = f"{self.plan_year_id}年度" if self.plan_year_id else "全部年度"
        return f"{year} · {self.county or '全市'}"


class SpotCheckItemQuerySet(CountyScopedQuerySet["SpotCheckItem"]):
    county_lookups = ("household__county",)

    def open(self) -> SpotCheckItemQuerySet:
        """Drawn and not yet visited."""
        return self.filter(visit__isnull=True)


class SpotCheckItem(models.Model):
    spot_check = models.ForeignKey(
        SpotCheck, on_delete=models.CASCADE, related_name="items", verbose_name="抽查"
    )
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="spot_check_items", verbose_name="改造户"
    )
    rank = models.PositiveIntegerField("抽中顺序")
    weight = models.DecimalField("风险权重", max_digits=8, decimal_places=2)
    reasons = models.CharField("风险因素", max_length=200, blank=True)
    # The second visit, once made (its result is the sample's finding).
    visit = models.ForeignKey(
        Inspection,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="抽查复核记录",
    )

    objects = SpotCheckItemQuerySet.as_manager()

    class Meta:
        ordering = ["spot_check", "rank"]
        verbose_name = verbose_name_plural = "抽查户"
        constraints = [
            models.UniqueConstraint(
                fields=["spot_check", "household"], name="spot_check_household_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.spot_check} #{self.rank} {self.household}"
