"""Households (一户一档), the tender list they take equipment from, and ledger import jobs."""

from __future__ import annotations

import contextvars
import re
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Reverse, Right
from django.db.models.lookups import Exact
from django.utils import timezone

from heating.history import History

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

from heating import access
from heating.access import Action
from heating.models import (
    AreaType,
    County,
    CountyScopedQuerySet,
    HeatingPath,
    PlanYear,
    Township,
    User,
    Village,
)
from heating.versions import Versioned
from retrofits import validators
from retrofits.choices import DONE_STAGES, HEAT_PUMP_CATEGORY, TENDERED_PATHS, Stage


class TenderItemQuerySet(models.QuerySet["TenderItem"]):
    def for_path(self, path: str) -> TenderItemQuerySet:
        """The models a household of that path may take: its own path's (none for the paths
        without a tender, all while no path is chosen)."""
        if not path:
            return self.all()
        return self.filter(path=path)


class TenderItem(models.Model):
    """One model on the tender list (中标设备清单)."""

    category = models.CharField("设备类别", max_length=40)
    path = models.CharField(
        "适用路径",
        max_length=16,
        choices=[(p.value, p.label) for p in TENDERED_PATHS],
    )
    model = models.CharField("型号", max_length=64, unique=True)
    vendor = models.CharField("中标企业", max_length=100)
    rated_power_kw = models.DecimalField("额定功率（kW）", max_digits=8, decimal_places=2)
    unit_price = models.DecimalField("中标单价（元）", max_digits=12, decimal_places=2)

    history = History()
    objects = TenderItemQuerySet.as_manager()

    class Meta:
        ordering = ["path", "category", "model"]
        verbose_name = verbose_name_plural = "中标设备"
        constraints = [
            models.CheckConstraint(
                condition=Q(path__in=[p.value for p in TENDERED_PATHS]),
                name="tender_item_path_tendered",
                violation_error_message="适用路径只能是煤改电或煤改气",
            ),
            models.CheckConstraint(
                condition=Q(rated_power_kw__gt=0),
                name="tender_item_power_positive",
                violation_error_message="额定功率应为正数",
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gt=0),
                name="tender_item_price_positive",
                violation_error_message="中标单价应为正数",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model}（{self.category}）"


# Exactly two writers save households: the one-household service (services.household_save) and the
# ledger store, which writes by SQL. Only they set this flag, so that anything else that tries to
# save a household fails at once instead of passing the rules by.
_writing = contextvars.ContextVar("household_writer", default=False)


@contextmanager
def household_writer() -> Iterator[None]:
    """For the writers only (and tests that set up a state no rule would let them reach)."""
    token = _writing.set(True)
    try:
        yield
    finally:
        _writing.reset(token)


def _only_writers() -> None:
    if not _writing.get():
        raise RuntimeError("改造户只能经 household_save（单户）或台账导入写入")


ID_LIKE = re.compile(r"\d{17}[\dXx]")  # a whole ID number
# A search by the last digits of a code or an ID number takes at least this many characters; the
# code's tail index holds this many of its last characters.
TAIL_MIN = 3
# The code of the unique ID number's error (Household.validate_constraints).
ID_NUMBER_TAKEN = "id_number_taken"


def holds_id_number(number: str) -> Q:
    """Holds this ID number (normalized), asked through the unique index on the number's reverse:
    a plain `id_number=` lookup has no index of its own."""
    return Q(Exact(Reverse("id_number"), number[::-1]))


class HouseholdQuerySet(CountyScopedQuerySet["Household"]):
    def in_county(self, county: County) -> HouseholdQuerySet:
        return self.filter(county=county)

    def holding_id_number(self, number: str) -> HouseholdQuerySet:
        return self.filter(holds_id_number(number))

    def awaiting_acceptance(self) -> HouseholdQuerySet:
        return self.filter(stage=Stage.COMPLETED)

    def electric_not_heat_pump(self) -> HouseholdQuerySet:
        """煤改电 households whose equipment is not an air-source heat pump: allowed "原则上"
        (四.2), counted and listed with their reason (the household's 备注)."""
        return self.filter(path=HeatingPath.ELECTRIC, equipment__isnull=False).exclude(
            equipment__category=HEAT_PUMP_CATEGORY
        )

    def search(
        self, value: str, *, user: User | AnonymousUser, places: bool = False
    ) -> HouseholdQuerySet:
        """As people type: a name or its beginning (a surname); a code, or its tail; an ID number,
        or its last digits; with `places`, a village or township by part of its name. Each through
        an index (the name's, the code's last characters, the ID number's reverse), so that it
        stays fast at a million households.

        ID numbers are searched only where the user may see them in full: elsewhere a search could
        try the candidates that fit a masked number's visible digits until one matched."""
        value = value.strip()
        if not value:
            return self
        personal = access.scope(user, Action.PERSONAL)
        if ID_LIKE.fullmatch(value):
            return self.filter(
                holds_id_number(value.upper()) & personal.q("county") | Q(code=value)
            )
        found = Q(head_name__startswith=value) | Q(code=value)
        if places:
            found |= Q(village__name__contains=value) | Q(township__name__contains=value)
        queryset = self
        if value.isascii() and value.isalnum() and len(value) >= TAIL_MIN:
            queryset = self.alias(code_tail=Right("code", TAIL_MIN), id_tail=Reverse("id_number"))
            found |= Q(code_tail=value[-TAIL_MIN:], code__endswith=value)
            if personal:
                found |= Q(id_tail__startswith=value.upper()[::-1]) & personal.q("county")
        return queryset.filter(found)

    # The bulk writes that would pass Household.save() by.
    def update(self, **kwargs: Any) -> int:
        _only_writers()
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        _only_writers()
        return super().delete()

    def bulk_create(self, *args: Any, **kwargs: Any) -> list[Household]:
        _only_writers()
        return super().bulk_create(*args, **kwargs)

    def bulk_update(self, *args: Any, **kwargs: Any) -> int:
        _only_writers()
        return super().bulk_update(*args, **kwargs)


class Household(Versioned):
    """One household of the ledger (台账) and its whole file (一户一档)."""

    # Unique through Meta.constraints, not unique=True: that would add a second, LIKE-only index
    # on PostgreSQL, and every index costs the city-wide import a second.
    code = models.CharField("户编号", max_length=32)
    # Served by the composite indexes below, which lead with these columns.
    county = models.ForeignKey(
        County,
        on_delete=models.PROTECT,
        related_name="households",
        verbose_name="县（市、区）",
        db_index=False,
    )
    township = models.ForeignKey(
        Township,
        on_delete=models.PROTECT,
        related_name="households",
        verbose_name="乡（镇、街道）",
        db_index=False,
    )
    village = models.ForeignKey(
        Village,
        on_delete=models.PROTECT,
        related_name="households",
        verbose_name="村（社区）",
        db_index=False,
    )
    # The plan year whose task the household counts towards (任务年度): targets, progress, rules,
    # dispatch and the API count a year's own households only.
    plan_year = models.ForeignKey(
        PlanYear,
        on_delete=models.PROTECT,
        related_name="households",
        verbose_name="任务年度",
        db_index=False,  # served by the rollup index, which leads with it
    )
    head_name = models.CharField("户主姓名", max_length=50)
    id_number = models.CharField("身份证号", max_length=18)
    phone = models.CharField("联系电话", max_length=20, blank=True)
    area = models.CharField("城乡类型", max_length=8, choices=AreaType.choices)
    path = models.CharField("取暖路径", max_length=16, choices=HeatingPath.choices)
    equipment = models.ForeignKey(
        TenderItem,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="households",
        verbose_name="设备型号",
        db_index=False,  # only a tender-list deletion looks households up by model
    )
    stage = models.CharField("实施进度", max_length=16, choices=Stage.choices)
    completed_on = models.DateField("完工日期", null=True, blank=True)
    # Set by acceptance alone, with 已验收: the day of the passing visit.
    accepted_on = models.DateField("验收日期", null=True, blank=True, editable=False)
    low_income = models.BooleanField("低收入户", default=False)
    notes = models.TextField("备注", blank=True, max_length=500)

    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="创建人",
        db_index=False,
    )
    updated_at = models.DateTimeField("更新时间", auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="更新人",
        db_index=False,
    )

    # History rows are found by household (`id`); indexes on their other columns would only slow
    # the import's bulk history insert.
    history = History(
        excluded_fields=["created_at", "updated_at"],
        no_db_index=[
            "code",
            "id_number",
            "county",
            "township",
            "village",
            "equipment",
            "created_by",
            "updated_by",
            "plan_year",
        ],
    )
    objects = HouseholdQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = verbose_name_plural = "改造户"
        indexes = [
            # Few and chosen: each index costs the city-wide import time. The list pages filter by
            # county and sort by code; the rollups group by county, path, area and stage; village
            # pages and inspectors' worklists go by village and stage.
            models.Index(fields=["county", "code"], name="household_county_code"),
            models.Index(
                fields=["plan_year", "county", "path", "area", "stage"], name="household_rollup"
            ),
            models.Index(fields=["village", "stage"], name="household_village_stage"),
            # Searching by name, whole or its beginning (bytewise: LIKE '傅%' uses it): a scan
            # of a county's 700,000 rows otherwise.
            models.Index(fields=["head_name"], name="household_head_name"),
            # Searching by a code's tail: its last three characters, the rest of the tail checked
            # on the households that share them (about a thousand at a million). Not the code's
            # reverse, which serves any tail by its beginning: a county's codes come in sequence,
            # their reverses fall all over that index and their last characters in sequence
            # again. A county's upload of 30,000 paid that index 0.19 s, this one about what no
            # index costs (migration 0025). An ID number's last digits are its reverse's
            # beginning (its unique constraint's index).
            models.Index(Right("code", TAIL_MIN), name="household_code_tail"),
            # And (completed_on DESC NULLS LAST) for the list's "most recent first", created on
            # PostgreSQL only by migration 0002: SQLite cannot index NULLS LAST.
            # On PostgreSQL the indexes of keys that arrive in random order (the ID number's
            # reverse, the name, the completion date) are built 70% full, by migration 0024: a
            # county's upload after a first load then adds its households without splitting
            # every page.
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["code"],
                name="household_code_unique",
                violation_error_message="户编号已被使用，请换一个编号（如有疑问请联系市能源局）",
            ),
            # On the number's reverse, not the number: one index is both the rule and the
            # last-digits search (each index costs a county's upload a tenth of a second).
            # Exact lookups go through holds_id_number().
            models.UniqueConstraint(
                Reverse("id_number"),
                name="household_id_number_unique",
                violation_error_code=ID_NUMBER_TAKEN,
                violation_error_message="该身份证号已登记（一个身份证号只能登记一户），如有疑问请联系市能源局核实",
            ),
            models.CheckConstraint(
                condition=Q(stage__in=Stage.values), name="household_stage_valid"
            ),
            models.CheckConstraint(
                condition=Q(path__in=HeatingPath.values), name="household_path_valid"
            ),
            models.CheckConstraint(
                condition=Q(area__in=AreaType.values), name="household_area_valid"
            ),
            models.CheckConstraint(
                condition=~Q(stage__in=DONE_STAGES) | Q(completed_on__isnull=False),
                name="household_done_has_date",
                violation_error_message="已完工或已验收的户须填写完工日期",
            ),
            models.CheckConstraint(
                condition=Q(stage__in=DONE_STAGES) | Q(completed_on__isnull=True),
                name="household_date_only_when_done",
                violation_error_message="未完工的户不应填写完工日期",
            ),
            models.CheckConstraint(
                condition=Q(stage=Stage.ACCEPTED, accepted_on__isnull=False)
                | (~Q(stage=Stage.ACCEPTED) & Q(accepted_on__isnull=True)),
                name="household_accepted_has_date",
                violation_error_message="已验收的户须有验收日期，未验收的户不应有",
            ),
            models.CheckConstraint(
                condition=Q(path__in=[p.value for p in TENDERED_PATHS]) | Q(equipment__isnull=True),
                name="household_equipment_only_tendered",
                violation_error_message="只有煤改电、煤改气的户填写中标设备型号",
            ),
            models.CheckConstraint(
                condition=~Q(path__in=[p.value for p in TENDERED_PATHS])
                | Q(stage=Stage.CONFIRMED)
                | Q(equipment__isnull=False),
                name="household_tendered_has_equipment",
                violation_error_message="煤改电、煤改气的户自“已选型”起须填写设备型号",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.head_name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        _only_writers()
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        _only_writers()
        return super().delete(*args, **kwargs)

    def clean(self) -> None:
        """The rules of validators.py, for forms and the admin (the import applies them itself)."""
        errors: dict[str, str] = {}
        self.id_number = validators.normalize_id_number(self.id_number or "")
        # An empty number is the form's "请填写身份证号" alone.
        if self.id_number and (problem := validators.id_number_problem(self.id_number)):
            errors["id_number"] = problem
        problem, self.phone = validators.phone_problem_and_value(self.phone or "")
        if problem:
            errors["phone"] = problem
        if self.township_id and self.county_id and self.township.county_id != self.county_id:
            errors["township"] = f"「{self.township}」不是{self.county}的乡（镇、街道）"
        if self.village_id and self.township_id and self.village.township_id != self.township_id:
            errors["village"] = f"「{self.village}」不是{self.township}的村（社区）"
        if self.path and self.stage:
            equipment = self.equipment if self.equipment_id else None
            if problem := validators.equipment_problem(
                path=self.path,
                stage=self.stage,
                model=equipment.model if equipment else None,
                model_path=equipment.path if equipment else None,
            ):
                errors["equipment"] = problem
            if problem := validators.completion_problem(
                self.stage, self.completed_on, timezone.localdate()
            ):
                errors["completed_on"] = problem
        if errors:
            raise ValidationError(errors)

    def validate_constraints(self, exclude: Collection[str] | None = None) -> None:
        """Django's, but a taken ID number is the ID number field's error, as a taken code is the
        code's: Django cannot tell that a constraint on the number's reverse is that field's."""
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict({})
            for error in errors.pop(NON_FIELD_ERRORS, []):
                field = "id_number" if error.code == ID_NUMBER_TAKEN else NON_FIELD_ERRORS
                errors.setdefault(field, []).append(error)
            raise ValidationError(errors) from exc


class LedgerImport(models.Model):
    """One upload of a ledger file and what became of it; the page polls this row for progress."""

    class Status(models.TextChoices):
        PENDING = "pending", "排队中"
        RUNNING = "running", "处理中"
        SUCCEEDED = "succeeded", "导入成功"
        FAILED = "failed", "有错误，未导入"

    file = models.FileField("文件", upload_to="ledger-imports/%Y/%m/")
    original_name = models.CharField("原文件名", max_length=255)
    county = models.ForeignKey(
        County,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="限定县（市、区）",
        help_text="县级用户只能导入本县的户",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        verbose_name="导入人",
    )
    created_at = models.DateTimeField("上传时间", auto_now_add=True)
    dry_run = models.BooleanField("仅检查", default=False)
    status = models.CharField("状态", max_length=16, choices=Status.choices, default=Status.PENDING)
    phase = models.CharField("当前步骤", max_length=40, blank=True)
    total_rows = models.PositiveIntegerField("总行数", default=0)
    processed_rows = models.PositiveIntegerField("已处理行数", default=0)
    created_count = models.PositiveIntegerField("新增", default=0)
    updated_count = models.PositiveIntegerField("更新", default=0)
    unchanged_count = models.PositiveIntegerField("未变", default=0)
    error_count = models.PositiveIntegerField("错误数", default=0)
    # The first errors, for the result page; the whole list is in error_file.
    errors = models.JSONField("错误", default=list, blank=True)
    message = models.TextField("说明", blank=True)
    error_file = models.FileField("错误标注文件", upload_to="ledger-imports/%Y/%m/", blank=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)
    # Beaten by the worker while it runs the job; a job whose beats stopped lost its worker.
    heartbeat_at = models.DateTimeField("最近心跳", null=True, blank=True)
    attempts = models.PositiveSmallIntegerField("执行次数", default=0)
    # The passed dry run (仅检查) whose kept file this import writes (确认导入): unique, so that
    # the database refuses a second import of one check, two clicks at once included.
    confirms = models.OneToOneField(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="confirmed_by",
        verbose_name="确认的检查",
    )

    objects = CountyScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = verbose_name_plural = "台账导入"

    def __str__(self) -> str:
        return f"{self.original_name}（{self.get_status_display()}）"

    @property
    def percent(self) -> int:
        if self.status in (self.Status.SUCCEEDED, self.Status.FAILED):
            return 100
        return int(100 * self.processed_rows / self.total_rows) if self.total_rows else 0

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)
