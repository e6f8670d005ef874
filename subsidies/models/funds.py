"""资金: allocations by source and other spending, per county and plan year."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from heating.history import History
from heating.models import County, CountyScopedQuerySet, PlanYear
from subsidies.models.choices import FundSource


class AllocationQuerySet(CountyScopedQuerySet["Allocation"]):
    def for_year(self, year: int) -> AllocationQuerySet:
        return self.filter(plan_year_id=year)


class Allocation(models.Model):
    """Money allocated to a county's clean-heating programme for a plan year, by source, with the
    document that allocated it (资金下达)."""

    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="+", verbose_name="县（市、区）"
    )
    plan_year = models.ForeignKey(
        PlanYear, on_delete=models.PROTECT, related_name="+", verbose_name="年度"
    )
    source = models.CharField("资金来源", max_length=16, choices=FundSource.choices)
    amount = models.DecimalField("金额（元）", max_digits=14, decimal_places=2)
    document_no = models.CharField("文号", max_length=60)
    allocated_on = models.DateField("下达日期")

    history = History()
    objects = AllocationQuerySet.as_manager()

    class Meta:
        ordering = ["plan_year", "county__order", "source", "allocated_on"]
        verbose_name = verbose_name_plural = "资金下达"
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="allocation_positive"),
            models.CheckConstraint(
                condition=Q(source__in=FundSource.values), name="allocation_source_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.county} {self.get_source_display()} {self.amount}元（{self.document_no}）"


class SpendingQuerySet(CountyScopedQuerySet["Spending"]):
    def for_year(self, year: int) -> SpendingQuerySet:
        return self.filter(plan_year_id=year)


class Spending(models.Model):
    """Other spending of the programme's money, typed in (equipment tenders paid directly,
    grid works): the subsidies paid through the batches are counted from the batches."""

    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="+", verbose_name="县（市、区）"
    )
    plan_year = models.ForeignKey(
        PlanYear, on_delete=models.PROTECT, related_name="+", verbose_name="年度"
    )
    source = models.CharField("资金来源", max_length=16, choices=FundSource.choices)
    amount = models.DecimalField("金额（元）", max_digits=14, decimal_places=2)
    purpose = models.CharField("用途", max_length=100)
    spent_on = models.DateField("支出日期")

    history = History()
    objects = SpendingQuerySet.as_manager()

    class Meta:
        ordering = ["plan_year", "county__order", "source", "spent_on"]
        verbose_name = verbose_name_plural = "其他支出"
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="spending_positive"),
            models.CheckConstraint(
                condition=Q(source__in=FundSource.values), name="spending_source_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.county} {self.get_source_display()} {self.amount}元（{self.purpose}）"
