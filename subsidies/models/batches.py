"""发放批次: a county's payment batches and their lines."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from heating.models import County, CountyScopedQuerySet
from subsidies.models.choices import yuan
from subsidies.models.entitlements import Entitlement


class BatchQuerySet(CountyScopedQuerySet["Batch"]):
    pass


class Batch(models.Model):
    """A county's payment batch (发放批次): its unpaid entitlements of a season, published in
    the villages (公示) for 7 working days, approved by the county's 县级财政, sent to the bank
    as the 一卡通 roster, and reconciled from the bank's return."""

    class State(models.TextChoices):
        DRAFT = "draft", "草稿"
        PUBLICITY = "publicity", "公示中"
        REVIEW = "review", "县级审核"
        SENT = "sent", "已报银行"
        RECONCILED = "reconciled", "已对账"

    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="+", verbose_name="县（市、区）"
    )
    season = models.PositiveSmallIntegerField("年度（采暖季）")
    state = models.CharField("状态", max_length=16, choices=State.choices, default=State.DRAFT)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    publicity_start = models.DateField("公示开始", null=True, blank=True)
    # 7 working days after the start, China's holidays and make-up days counted (workdays.py).
    publicity_end = models.DateField("公示截止", null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="审核人",
    )
    approved_at = models.DateTimeField("审核时间", null=True, blank=True)
    reconciled_at = models.DateTimeField("对账时间", null=True, blank=True)

    objects = BatchQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = verbose_name_plural = "发放批次"
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=["draft", "publicity", "review", "sent", "reconciled"]),
                name="batch_state_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.county} {self.season}年度第{self.pk}批（{self.get_state_display()}）"


class BatchLine(models.Model):
    """One entitlement in a batch. A line the bank refused (失败) waits for the account to be
    corrected (待更正) and its entitlement joins the next batch; any other line holds its
    entitlement, so that no entitlement is in two live batches (the partial unique key)."""

    class Result(models.TextChoices):
        PENDING = "pending", "待发放"
        PAID = "paid", "成功"
        FAILED = "failed", "失败"

    batch = models.ForeignKey(
        Batch, on_delete=models.CASCADE, related_name="lines", verbose_name="批次"
    )
    entitlement = models.ForeignKey(
        Entitlement, on_delete=models.PROTECT, related_name="lines", verbose_name="补贴"
    )
    amount_fen = models.BigIntegerField("补贴金额（分）")
    result = models.CharField(
        "发放结果", max_length=16, choices=Result.choices, default=Result.PENDING
    )
    reason = models.CharField("失败原因", max_length=200, blank=True)
    # When the bank's return answered the line. A failed line waits (待更正) until its household's
    # account is saved after this moment: the same account sent again would fail again.
    answered_at = models.DateTimeField("回盘时间", null=True, blank=True)

    class Meta:
        ordering = ["batch", "pk"]
        verbose_name = verbose_name_plural = "发放明细"
        constraints = [
            models.UniqueConstraint(
                fields=["entitlement"],
                condition=~Q(result="failed"),
                name="batch_line_one_live_per_entitlement",
                violation_error_message="该补贴已在其他批次中",
            ),
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="batch_line_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}/{self.entitlement_id} {self.get_result_display()}"

    @property
    def amount(self) -> Decimal:
        return yuan(self.amount_fen)
