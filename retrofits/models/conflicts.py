"""ID numbers registered in another county (身份证号冲突): each time a county user's upload, dry run
or form meets one, it is kept here. The log is what bounds the answer "this number is registered"
(a user's conflicts of the day against a daily budget: retrofits/services/conflicts.py), and what
the bureau resolves, both households side by side (retrofits/conflict_views.py)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from heating.models import County, CountyScopedQuerySet
from retrofits.models.households import Household, LedgerImport


class IdConflictQuerySet(CountyScopedQuerySet["IdConflict"]):
    # A conflict belongs to the county whose user met it (the claimant's); the bureau sees all.
    county_lookups = ("county",)

    def open(self) -> IdConflictQuerySet:
        return self.filter(resolved_at__isnull=True)


class IdConflict(models.Model):
    """One ID number a county user gave that a household of another county holds."""

    class Entry(models.TextChoices):
        IMPORT = "import", "台账导入"
        DRY_RUN = "dry_run", "台账导入（仅检查）"
        FORM = "form", "改造户表单"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="提交人",
        db_index=False,  # served by the budget's index, which leads with it
    )
    created_at = models.DateTimeField("时间", default=timezone.now)
    # As the household keeps it (Household.id_number): 18 characters, a capital X.
    id_number = models.CharField("身份证号", max_length=18)
    # What the user submitted: their county (the claimant), the code and head of household they
    # gave, and the household of that code where the ledger has one.
    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="+", verbose_name="提交县（市、区）"
    )
    code = models.CharField("提交的户编号", max_length=32, blank=True)
    head_name = models.CharField("提交的户主姓名", max_length=50, blank=True)
    claimant = models.ForeignKey(
        Household,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="提交方的户",
    )
    # The household of another county that holds the number.
    household = models.ForeignKey(
        Household,
        on_delete=models.SET_NULL,
        null=True,
        related_name="id_conflicts",
        verbose_name="已登记的户",
    )
    entry = models.CharField("途径", max_length=16, choices=Entry.choices)
    job = models.ForeignKey(
        LedgerImport,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="导入任务",
    )
    row = models.PositiveIntegerField("行号", null=True, blank=True)
    # Met past the day's budget: the whole submission was refused, naming no row.
    over_budget = models.BooleanField("超出每日限额", default=False)
    resolved_at = models.DateTimeField("处理时间", null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="处理人",
    )
    resolution = models.CharField("处理说明", max_length=200, blank=True)

    objects = IdConflictQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = verbose_name_plural = "身份证号冲突"
        indexes = [
            # A user's conflicts of the day: counted at every submission that meets one.
            models.Index(fields=["user", "created_at"], name="idconflict_user_day"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(resolved_at__isnull=True)
                | (~models.Q(resolution="") & models.Q(resolved_by__isnull=False)),
                name="idconflict_resolved_with_reason",
                violation_error_message="标记已处理须填写处理说明",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.county.short_name} {self.code or ''} 身份证号冲突".strip()
