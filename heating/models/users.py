"""People and their roles. A role decides which counties a user sees (see scoping.py)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q

from heating import access
from heating.models.choices import Role
from heating.models.divisions import County

# The roles bound to one county: those the access policy lets see their own county only.
COUNTY_ROLES = tuple(role for role in Role if access.reach(role) is access.Reach.OWN)


class PortalUserManager(UserManager["User"]):
    def create_superuser(
        self, username: str, email: str | None = None, password: str | None = None, **extra: Any
    ) -> User:
        extra.setdefault("role", Role.ADMIN)
        return super().create_superuser(username, email, password, **extra)


class User(AbstractUser):
    role = models.CharField("角色", max_length=16, choices=Role.choices)
    county = models.ForeignKey(
        County,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="officials",
        verbose_name="所属县（市、区）",
        help_text="县级用户、县级审核人和县级财政必填：只能查看本县数据",
    )
    counties = models.ManyToManyField(
        County,
        blank=True,
        related_name="inspectors",
        verbose_name="负责验收的县（市、区）",
        help_text="验收人员可负责一个或多个县",
    )
    organisation = models.CharField("单位", max_length=100, blank=True)

    class Delivery(models.TextChoices):
        IMMEDIATE = "immediate", "即时邮件"
        DIGEST = "digest", "每日汇总邮件"

    # How alerts reach the user by e-mail besides the inbox (oversight/dispatch/services/alerts.py).
    alert_delivery = models.CharField(
        "提醒邮件", max_length=16, choices=Delivery.choices, default=Delivery.IMMEDIATE
    )

    objects = PortalUserManager()  # type: ignore[misc]

    class Meta:
        verbose_name = verbose_name_plural = "用户"
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=Role.values),
                name="user_role_valid",
                violation_error_message="请选择角色。",
            ),
            # A county official or approver belongs to exactly one county; nobody else to one.
            models.CheckConstraint(
                condition=Q(role__in=COUNTY_ROLES, county__isnull=False)
                | (~Q(role__in=COUNTY_ROLES) & Q(county__isnull=True)),
                name="user_county_iff_county_role",
                violation_error_message="县级用户和县级审核人必须选择所属县（市、区），县级财政亦同；其他角色不设所属县。",
            ),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The administrator's role is Django's superuser (every admin page, third parties'
        # included); Django lets into the admin site whom the access policy sends there.
        self.is_superuser = self.role == Role.ADMIN
        self.is_staff = access.uses_admin_site(self)
        super().save(*args, **kwargs)

    # Role-level questions for templates and menus; the answers come from the access policy.
    @property
    def sees_all_counties(self) -> bool:
        return access.scope(self, access.Action.VIEW).everything

    @property
    def manages_plan(self) -> bool:
        """Targets, the tender list and other reference lists are the municipal bureau's."""
        return access.may(self, access.Action.MANAGE_PLAN)

    @property
    def inspects(self) -> bool:
        return access.may(self, access.Action.INSPECT)

    @property
    def evaluates(self) -> bool:
        """Keeps the 绩效自评 (the nav shows it to them only)."""
        return access.may(self, access.Action.EVALUATE)

    @cached_property
    def assigned_county_ids(self) -> frozenset[int]:
        """The counties an inspector is assigned to, read once per request."""
        return frozenset(self.counties.values_list("pk", flat=True)) if self.pk else frozenset()
