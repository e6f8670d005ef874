"""计量户号 and 用能计量: the households' utility accounts and their metered use."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from heating.models import CountyScopedQuerySet
from retrofits.models import Household
from subsidies.models.choices import MeterKind


class MeterAccountQuerySet(CountyScopedQuerySet["MeterAccount"]):
    county_lookups = ("household__county",)


class MeterAccount(models.Model):
    """A household's account with the power or gas company (计量户号)."""

    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="meter_accounts", verbose_name="改造户"
    )
    kind = models.CharField("计量类型", max_length=16, choices=MeterKind.choices)
    number = models.CharField("户号", max_length=40)

    objects = MeterAccountQuerySet.as_manager()

    class Meta:
        ordering = ["household", "kind"]
        verbose_name = verbose_name_plural = "计量户号"
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "number"],
                name="meter_account_number_unique",
                violation_error_message="该户号已登记给其他户",
            ),
            models.UniqueConstraint(
                fields=["household", "kind"], name="meter_account_one_per_kind"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=MeterKind.values), name="meter_account_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"


class MeterReading(models.Model):
    """One period's use of one account, from the utility's export (用能计量)."""

    account = models.ForeignKey(
        MeterAccount, on_delete=models.CASCADE, related_name="readings", verbose_name="户号"
    )
    start_date = models.DateField("起始日期")
    end_date = models.DateField("截止日期")
    use = models.DecimalField("用量", max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["account", "end_date"]
        verbose_name = verbose_name_plural = "用能计量"
        constraints = [
            models.UniqueConstraint(
                fields=["account", "start_date", "end_date"], name="meter_reading_one_per_period"
            ),
            models.CheckConstraint(
                condition=Q(end_date__gte=F("start_date")), name="meter_reading_period_in_order"
            ),
            models.CheckConstraint(condition=Q(use__gte=0), name="meter_reading_use_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.start_date}至{self.end_date} {self.use}"
