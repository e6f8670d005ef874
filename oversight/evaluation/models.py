"""The self-evaluation's records: the indicators of a plan year (项目支出绩效自评表: four levels,
weights, direction, target, the measure that gives the actual value), and each pack made from them
(the date it speaks of, its seed and sample, the digest of its content, its three files)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from heating.history import History
from heating.models import PlanYear


class Direction(models.TextChoices):
    AT_LEAST = "at_least", "正向（≥）"
    AT_MOST = "at_most", "反向（≤）"


class Indicator(models.Model):
    plan_year = models.ForeignKey(
        PlanYear, on_delete=models.PROTECT, related_name="indicators", verbose_name="年度"
    )
    code = models.CharField("指标代码", max_length=40)
    order = models.PositiveSmallIntegerField("顺序")
    level1 = models.CharField("一级指标", max_length=20)
    level2 = models.CharField("二级指标", max_length=20)
    level3 = models.CharField("三级指标", max_length=60)
    weight = models.DecimalField("分值", max_digits=5, decimal_places=2)
    direction = models.CharField("指标方向", max_length=8, choices=Direction.choices)
    # Which query gives the actual value (oversight/evaluation/measures.py registers them).
    measure = models.CharField("取数口径", max_length=40)
    unit = models.CharField("计量单位", max_length=12)
    target = models.DecimalField(
        "年度指标值",
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="空白：采用实施方案的目标值（方案未规定的须填写）",
    )
    deviation = models.TextField("偏差原因及改进措施", blank=True, max_length=1000)
    history = History()

    class Meta:
        ordering = ["plan_year", "order"]
        verbose_name = verbose_name_plural = "绩效指标"
        constraints = [
            models.UniqueConstraint(fields=["plan_year", "code"], name="indicator_code_unique"),
            models.CheckConstraint(
                condition=Q(weight__gt=0) & Q(weight__lte=100),
                name="indicator_weight_range",
                violation_error_message="分值应大于0且不超过100。",
            ),
            models.CheckConstraint(
                condition=Q(target__isnull=True) | Q(target__gte=0),
                name="indicator_target_nonnegative",
                violation_error_message="年度指标值不能为负数。",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan_year_id} {self.level3}"


class Pack(models.Model):
    """One making of the pack: what it was asked for, and what came out."""

    class Status(models.TextChoices):
        PENDING = "pending", "排队中"
        RUNNING = "running", "生成中"
        DONE = "done", "已完成"
        FAILED = "failed", "失败"

    plan_year = models.ForeignKey(
        PlanYear, on_delete=models.PROTECT, related_name="+", verbose_name="年度"
    )
    as_of = models.DateField("数据截至")
    seed = models.CharField("抽样种子", max_length=40)
    sample_size = models.PositiveSmallIntegerField("抽样户数")
    # The drawn households' ids in order, recorded so that the on-site check can be traced.
    sample = models.JSONField("抽中户", default=list, blank=True)
    digest = models.CharField("内容摘要", max_length=64, blank=True)
    status = models.CharField("状态", max_length=8, choices=Status.choices, default=Status.PENDING)
    step = models.CharField("当前步骤", max_length=40, blank=True)
    progress = models.PositiveSmallIntegerField("进度（%）", default=0)
    message = models.TextField("说明", blank=True)
    report = models.FileField("自评报告", upload_to="evaluation/%Y/", blank=True)
    table = models.FileField("绩效自评表", upload_to="evaluation/%Y/", blank=True)
    evidence = models.FileField("一户一档抽样", upload_to="evaluation/%Y/", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="生成人",
    )
    created_at = models.DateTimeField("生成时间", auto_now_add=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = verbose_name_plural = "自评材料"
        constraints = [
            models.CheckConstraint(
                condition=Q(sample_size__gte=1) & Q(sample_size__lte=1000),
                name="pack_sample_size_range",
                violation_error_message="抽样户数应在1到1000之间。",
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="pack_progress_range"),
        ]

    def __str__(self) -> str:
        return f"{self.plan_year_id} 绩效自评（截至{self.as_of}）"
