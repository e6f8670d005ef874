"""补贴标准: a plan year's amounts per path and kind, the city's default or a county's own."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Self

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from heating.access import Action, scope
from heating.history import History
from heating.models import County, CountyScopedQuerySet, HeatingPath, PlanYear
from subsidies.models.choices import Kind, Method, Status

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from heating.models import User


class PolicyQuerySet(CountyScopedQuerySet["Policy"]):
    def permitted(self, user: User | AnonymousUser, action: Action) -> Self:
        """A county's own rows as for any county-owned record; the city's defaults (no county)
        are read by everyone who reads any county, and kept by those who keep every county."""
        allowed = scope(user, action)
        if not allowed:
            return self.none()
        if allowed.everything:
            return self.all()
        rows = Q(county_id__in=sorted(allowed.ids))
        if action is Action.VIEW:
            rows |= Q(county__isnull=True)
        return self.filter(rows)

    def for_year(self, year: int) -> PolicyQuerySet:
        return self.filter(plan_year_id=year)


class Policy(models.Model):
    """One row of 补贴标准: a plan year's amounts for a path and a kind, the city's default (no
    county) or a county's own, which replaces the default for that county."""

    plan_year = models.ForeignKey(
        PlanYear, on_delete=models.PROTECT, related_name="subsidy_policies", verbose_name="年度"
    )
    county = models.ForeignKey(
        County,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="subsidy_policies",
        verbose_name="县（市、区）",
        help_text="空白：全市默认标准",
    )
    path = models.CharField("取暖路径", max_length=16, choices=HeatingPath.choices)
    kind = models.CharField("补贴类别", max_length=16, choices=Kind.choices)
    method = models.CharField("计算方式", max_length=16, choices=Method.choices)
    rate = models.DecimalField("比例或单价", max_digits=10, decimal_places=4, null=True, blank=True)
    amount = models.DecimalField(
        "定额（元）", max_digits=12, decimal_places=2, null=True, blank=True
    )
    free_use = models.DecimalField("起补用量", max_digits=12, decimal_places=2, default=Decimal(0))
    cap = models.DecimalField("每户上限（元）", max_digits=12, decimal_places=2)
    low_income_bonus = models.DecimalField(
        "低收入户加补（元）", max_digits=12, decimal_places=2, default=Decimal(0)
    )
    city_share = models.DecimalField("市级承担比例", max_digits=5, decimal_places=4)
    # The demo city's made-up amounts (Xinzhou's own are not public): shown as 演示 until the
    # bureau's import replaces them. Not a template column: an imported row is never a demo.
    demo = models.BooleanField("演示", default=False)

    history = History()
    objects = PolicyQuerySet.as_manager()

    class Meta:
        ordering = ["-plan_year", "county__order", "path", "kind"]
        verbose_name = verbose_name_plural = "补贴标准"
        constraints = [
            models.UniqueConstraint(
                fields=["plan_year", "county", "path", "kind"],
                condition=Q(county__isnull=False),
                name="subsidy_policy_unique_county",
                violation_error_message="该县该年度该路径的此类补贴标准已存在",
            ),
            # NULL never equals NULL in a unique index: the city's default needs its own.
            models.UniqueConstraint(
                fields=["plan_year", "path", "kind"],
                condition=Q(county__isnull=True),
                name="subsidy_policy_unique_city",
                violation_error_message="该年度该路径的全市默认补贴标准已存在",
            ),
            models.CheckConstraint(
                condition=Q(path__in=HeatingPath.values), name="subsidy_policy_path_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind=Kind.EQUIPMENT, method__in=[Method.RATIO, Method.FIXED])
                | Q(kind=Kind.RUNNING, method=Method.METERED),
                name="subsidy_policy_method_fits_kind",
                violation_error_message="设备购置补贴按中标价比例或定额计算，运行补贴按用量计算",
            ),
            models.CheckConstraint(
                condition=Q(method=Method.RATIO, rate__gt=0, rate__lte=1)
                | Q(method=Method.METERED, rate__gt=0)
                | Q(method=Method.FIXED, rate__isnull=True),
                name="subsidy_policy_rate_fits_method",
                violation_error_message="按中标价比例须填 0 到 1 之间的比例，按用量须填正的单价，定额不填",
            ),
            models.CheckConstraint(
                condition=Q(method=Method.FIXED, amount__gt=0)
                | (~Q(method=Method.FIXED) & Q(amount__isnull=True)),
                name="subsidy_policy_amount_iff_fixed",
                violation_error_message="定额须填正的金额，其他计算方式不填",
            ),
            models.CheckConstraint(
                condition=Q(cap__gt=0, free_use__gte=0, low_income_bonus__gte=0),
                name="subsidy_policy_amounts_valid",
            ),
            models.CheckConstraint(
                condition=Q(city_share__gte=0, city_share__lte=1),
                name="subsidy_policy_share_is_ratio",
                violation_error_message="市级承担比例应在 0 到 1 之间",
            ),
        ]

    def __str__(self) -> str:
        where = self.county.short_name if self.county else "全市默认"
        return f"{self.plan_year_id}年度 {where} {self.get_path_display()}{self.get_kind_display()}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The last guard, under every writer (the services check first, with the row's message).
        if self.locked:
            raise ValidationError("该补贴标准已用于已发放的补贴，不能修改")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        if self.locked:
            raise ValidationError("该补贴标准已用于已发放的补贴，不能删除")
        return super().delete(*args, **kwargs)

    @property
    def locked(self) -> bool:
        """Whether a paid subsidy was computed under it: then it never changes, so that what
        was paid can always be explained by the policy on record."""
        return self.pk is not None and self.entitlements.filter(status=Status.PAID).exists()
