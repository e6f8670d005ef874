"""补贴核算: what each household is due, and the clawbacks of what was paid and no longer holds."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import F, Q

from heating.models import County, CountyScopedQuerySet
from retrofits.models import Household
from subsidies.models.choices import Kind, Status, yuan
from subsidies.models.policies import Policy


class EntitlementQuerySet(CountyScopedQuerySet["Entitlement"]):
    def for_season(self, year: int) -> EntitlementQuerySet:
        return self.filter(season=year)


class Entitlement(models.Model):
    """What one household is due of one kind for one season (the equipment subsidy's season is
    its plan year), as `subsidy_compute` found it. Unpaid rows are recomputed on every run; a
    paid row never changes: what no longer holds of it becomes a Clawback, and what is found due
    beyond it a top-up (补差, `top_up` 1, 2, …), an entitlement of its own, paid through a batch
    like any other."""

    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="entitlements", verbose_name="改造户"
    )
    # The household's county when computed: who pays the county's part, and the scope.
    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="+", verbose_name="县（市、区）"
    )
    kind = models.CharField("补贴项目", max_length=16, choices=Kind.choices)
    season = models.PositiveSmallIntegerField("年度（采暖季）")
    # 0: the season's computation; n > 0: the n-th top-up of what was paid (补差). A database
    # default too: a row written by SQL that does not name it is the computation's own.
    top_up = models.PositiveSmallIntegerField("补差次序", default=0, db_default=0)
    policy = models.ForeignKey(
        Policy, on_delete=models.PROTECT, related_name="entitlements", verbose_name="补贴标准"
    )
    use = models.DecimalField("计入用量", max_digits=14, decimal_places=2, null=True, blank=True)
    amount_fen = models.BigIntegerField("补贴金额（分）")
    city_fen = models.BigIntegerField("其中市级（分）")
    county_fen = models.BigIntegerField("其中县级（分）")
    status = models.CharField("状态", max_length=16, choices=Status.choices, default=Status.UNPAID)
    paid_on = models.DateField("发放日期", null=True, blank=True)
    computed_at = models.DateTimeField("核算时间")

    objects = EntitlementQuerySet.as_manager()

    class Meta:
        ordering = ["household", "season", "kind", "top_up"]
        verbose_name = verbose_name_plural = "补贴核算"
        constraints = [
            # A household is paid each kind once per season, however many batches there are, and
            # each top-up of it once.
            models.UniqueConstraint(
                fields=["household", "kind", "season", "top_up"],
                name="entitlement_once_per_season",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=Kind.values), name="entitlement_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(amount_fen__gt=0, city_fen__gte=0, county_fen__gte=0)
                & Q(amount_fen=F("city_fen") + F("county_fen")),
                name="entitlement_split_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(status=Status.PAID, paid_on__isnull=False)
                | Q(status=Status.UNPAID, paid_on__isnull=True),
                name="entitlement_paid_has_date",
            ),
        ]
        indexes = [models.Index(fields=["season", "county", "kind"], name="entitlement_season")]

    def __str__(self) -> str:
        return f"{self.household_id} {self.season} {self.label} {self.amount}元"

    @property
    def label(self) -> str:
        """设备购置补贴, or 设备购置补贴（补差1） for a top-up: on rosters, exports, the dossier."""
        return kind_label(self.kind, self.top_up)

    @property
    def amount(self) -> Decimal:
        return yuan(self.amount_fen)

    @property
    def city_amount(self) -> Decimal:
        return yuan(self.city_fen)

    @property
    def county_amount(self) -> Decimal:
        return yuan(self.county_fen)


def kind_label(kind: str, top_up: int) -> str:
    label = Kind(kind).label
    return f"{label}（补差{top_up}）" if top_up else str(label)


class ClawbackQuerySet(CountyScopedQuerySet["Clawback"]):
    pass


class Clawback(models.Model):
    """追回: of what was paid of a household's kind for a season (its entitlement and any
    top-ups), what a later computation no longer finds due (a path or equipment changed, an
    acceptance revoked, use corrected), claimed of the latest payment. Each run adds only what
    earlier clawbacks have not already claimed."""

    entitlement = models.ForeignKey(
        Entitlement, on_delete=models.PROTECT, related_name="clawbacks", verbose_name="已发补贴"
    )
    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="+", verbose_name="县（市、区）"
    )
    paid_fen = models.BigIntegerField("已发金额（分）")
    due_fen = models.BigIntegerField("重新核算应发（分）")
    amount_fen = models.BigIntegerField("追回金额（分）")
    city_fen = models.BigIntegerField("其中市级（分）")
    county_fen = models.BigIntegerField("其中县级（分）")
    created_at = models.DateTimeField("核算时间")

    objects = ClawbackQuerySet.as_manager()

    class Meta:
        ordering = ["entitlement", "created_at"]
        verbose_name = verbose_name_plural = "补贴追回"
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_fen__gt=0, city_fen__gte=0, county_fen__gte=0)
                & Q(amount_fen=F("city_fen") + F("county_fen")),
                name="clawback_split_adds_up",
            ),
        ]

    def __str__(self) -> str:
        return f"追回 {self.amount}元"

    @property
    def amount(self) -> Decimal:
        return yuan(self.amount_fen)

    @property
    def paid_amount(self) -> Decimal:
        return yuan(self.paid_fen)

    @property
    def due_amount(self) -> Decimal:
        return yuan(self.due_fen)
