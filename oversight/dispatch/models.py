"""Dispatch rounds (调度, the plan's 七(二)): the bureau opens a round with a due time; each county's
report in it holds its figures as they were when it was submitted and three texts, and goes through
a chain of sign-off: the county's official submits it, the county's approver signs it off, the bureau
accepts it or returns it with a reason, which reopens it. An accepted report never changes."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from heating.history import History
from heating.models import County, PlanYear
from heating.models.scoping import CountyScopedQuerySet
from heating.versions import Versioned


class DispatchRound(models.Model):
    class Kind(models.TextChoices):
        WEEKLY = "weekly", "每周调度"
        AD_HOC = "ad_hoc", "临时调度"

    plan_year = models.ForeignKey(
        PlanYear, on_delete=models.PROTECT, related_name="dispatch_rounds", verbose_name="年度"
    )
    kind = models.CharField("类型", max_length=16, choices=Kind.choices)
    title = models.CharField("名称", max_length=100)
    opened_at = models.DateTimeField("发起时间", default=timezone.now)
    due_at = models.DateTimeField("报送截止")
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="发起人",
        help_text="空白：按计划自动发起",
    )
    notes = models.TextField("说明", blank=True, max_length=1000)

    class Meta:
        ordering = ["-opened_at", "-pk"]
        verbose_name = verbose_name_plural = "调度轮次"
        constraints = [
            models.CheckConstraint(
                condition=Q(due_at__gt=F("opened_at")),
                name="dispatch_round_due_after_opened",
                violation_error_message="报送截止时间应晚于发起时间。",
            )
        ]

    def __str__(self) -> str:
        return self.title

    def overdue(self, now: dt.datetime | None = None) -> bool:
        return (now or timezone.now()) > self.due_at


class ReportStatus(models.TextChoices):
    DRAFT = "draft", "未报送"
    SUBMITTED = "submitted", "已报送，待县级审核"
    SIGNED = "signed", "已审核，待市级确认"
    ACCEPTED = "accepted", "市级已确认"
    RETURNED = "returned", "已退回，待重新报送"


# The states in which the county may still write its texts, and those already submitted.
OPEN_STATUSES = (ReportStatus.DRAFT, ReportStatus.RETURNED)


class CountyReport(Versioned):
    round = models.ForeignKey(
        DispatchRound, on_delete=models.CASCADE, related_name="reports", verbose_name="调度轮次"
    )
    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="+", verbose_name="县（市、区）"
    )
    status = models.CharField(
        "状态", max_length=16, choices=ReportStatus.choices, default=ReportStatus.DRAFT
    )
    # What the county vouched for, frozen at submission (oversight/dispatch/figures.py).
    figures = models.JSONField("报送数据", default=dict, blank=True)
    figures_as_of = models.DateTimeField("数据截至", null=True, blank=True)
    problems = models.TextField("存在问题", blank=True, max_length=2000)
    help_needed = models.TextField("需市级协调解决的事项", blank=True, max_length=2000)
    next_steps = models.TextField("下步工作安排", blank=True, max_length=2000)

    submitted_at = models.DateTimeField("报送时间", null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name="填报人",
    )  # fmt: skip
    signed_at = models.DateTimeField("审核时间", null=True, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name="县级审核人",
    )  # fmt: skip
    accepted_at = models.DateTimeField("确认时间", null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name="市级确认人",
    )  # fmt: skip
    return_reason = models.TextField("退回原因", blank=True, max_length=500)

    history = History()
    objects = CountyScopedQuerySet.as_manager()

    class Meta:
        ordering = ["round", "county__order"]
        verbose_name = verbose_name_plural = "县级调度报告"
        constraints = [
            models.UniqueConstraint(fields=["round", "county"], name="one_report_per_county"),
            # The chain in the database: no state without the steps that lead to it.
            models.CheckConstraint(
                condition=Q(status__in=OPEN_STATUSES)
                | Q(submitted_at__isnull=False, submitted_by__isnull=False),
                name="report_submitted_has_submitter",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=[ReportStatus.SIGNED, ReportStatus.ACCEPTED])
                | Q(signed_at__isnull=False, signed_by__isnull=False),
                name="report_signed_has_signer",
            ),
            models.CheckConstraint(
                condition=~Q(status=ReportStatus.ACCEPTED)
                | Q(accepted_at__isnull=False, accepted_by__isnull=False),
                name="report_accepted_has_accepter",
            ),
            models.CheckConstraint(
                condition=~Q(status=ReportStatus.RETURNED) | ~Q(return_reason=""),
                name="report_returned_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.round} · {self.county}"

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES

    def late(self, now: dt.datetime | None = None) -> bool:
        """Not submitted by the due time (a report returned and not yet submitted again
        counts as not submitted)."""
        if self.submitted_at is None or self.status == ReportStatus.RETURNED:
            return (now or timezone.now()) > self.round.due_at
        return self.submitted_at > self.round.due_at


class ReportStep(models.Model):
    """The report's trail: each submission, sign-off, acceptance and return, by whom and when."""

    class Action(models.TextChoices):
        SUBMIT = "submit", "报送"
        SIGN = "sign", "县级审核通过"
        ACCEPT = "accept", "市级确认"
        RETURN = "return", "退回"

    report = models.ForeignKey(
        CountyReport, on_delete=models.CASCADE, related_name="steps", verbose_name="报告"
    )
    action = models.CharField("操作", max_length=16, choices=Action.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="操作人"
    )
    at = models.DateTimeField("时间", default=timezone.now)
    reason = models.TextField("原因", blank=True, max_length=500)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = verbose_name_plural = "报告流转记录"

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.user} {self.at:%Y-%m-%d %H:%M}"


class Alert(models.Model):
    """One alert in one user's inbox (and, as they chose, their e-mail)."""

    class Kind(models.TextChoices):
        ROUND_OPENED = "round_opened", "调度发起"
        SUBMITTED = "submitted", "报告待审核"
        SIGNED = "signed", "报告待市级确认"
        DUE_SOON = "due_soon", "报送即将截止"
        LATE = "late", "报送逾期"
        RETURNED = "returned", "报告被退回"
        SUPPLY = "supply", "能源保障预警"
        ACCEPTANCE_OVERDUE = "acceptance_overdue", "验收逾期"
        RECTIFICATION_OVERDUE = "rectification_overdue", "整改逾期"
        TICKET = "ticket", "工单提醒"
        ID_CONFLICT = "id_conflict", "身份证号冲突超限"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alerts",
        verbose_name="接收人",
    )  # fmt: skip
    kind = models.CharField("类型", max_length=32, choices=Kind.choices)
    county = models.ForeignKey(
        County, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        verbose_name="县（市、区）",
    )  # fmt: skip
    text = models.CharField("内容", max_length=500)
    link = models.CharField("链接", max_length=300, blank=True)
    # What the alert is about, so that a check run again does not alert twice.
    key = models.CharField("标识", max_length=200)
    created_at = models.DateTimeField("时间", default=timezone.now)
    read_at = models.DateTimeField("已读时间", null=True, blank=True)
    emailed_at = models.DateTimeField("邮件发送时间", null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = verbose_name_plural = "提醒"
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="one_alert_per_key")]
        indexes = [models.Index(fields=["user", "read_at"], name="alert_unread")]

    def __str__(self) -> str:
        return self.text
