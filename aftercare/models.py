"""Tickets (工单): a complaint or a fault, from the 12345 hotline or any other channel, about a
household (or a village when no household is named), handled by its county under time limits
counted in working days (aftercare/limits.py). Every step is kept (TicketStep: who, when, why)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from heating.models import County, CountyScopedQuerySet, Village
from retrofits.models import Household


class Channel(models.TextChoices):
    HOTLINE = "12345", "12345热线"
    PHONE = "phone", "电话"
    VISIT = "visit", "来访"
    ONLINE = "online", "网络"
    MEDIA = "media", "媒体"
    PATROL = "patrol", "巡查"


class Category(models.TextChoices):
    COLD = "cold", "供暖不热"
    FAULT = "fault", "设备故障"
    VOLTAGE = "voltage", "电压不足/跳闸"
    GAS_SAFETY = "gas_safety", "燃气安全"
    SUBSIDY = "subsidy", "补贴未到位"
    EARLY_REMOVAL = "early_removal", "未立先破/强拆"
    PRICE = "price", "收费与价格"
    OTHER = "other", "其他"


class State(models.TextChoices):
    PENDING = "pending", "待签收"
    HANDLING = "handling", "办理中"
    CLOSED = "closed", "已办结"
    VISITED = "visited", "已回访"
    RETURNED = "returned", "已退回"


class Satisfaction(models.TextChoices):
    SATISFIED = "satisfied", "满意"
    BASIC = "basic", "基本满意"
    UNSATISFIED = "unsatisfied", "不满意"


class RemovalCheck(models.TextChoices):
    """What the household's removal record says of a 未立先破/强拆 ticket."""

    ALLOWED = "allowed", "已按先立后破登记拆除"
    EARLY = "early", "拆除早于先立后破允许日期"
    UNRECORDED = "unrecorded", "无拆除登记"
    NOT_REMOVED = "", "—"


OPEN_STATES = (State.PENDING, State.HANDLING, State.RETURNED)


class TicketQuerySet(CountyScopedQuerySet["Ticket"]):
    def open(self) -> TicketQuerySet:
        return self.filter(state__in=[State.PENDING, State.HANDLING])


class Ticket(models.Model):
    channel = models.CharField("来源渠道", max_length=8, choices=Channel.choices)
    # The hotline's own work-order number: the key a 12345 export is upserted by.
    hotline_number = models.CharField("12345工单编号", max_length=40, blank=True)
    category = models.CharField("诉求类别", max_length=16, choices=Category.choices)
    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="tickets", verbose_name="县（市、区）"
    )
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, null=True, blank=True, related_name="tickets",
        verbose_name="改造户",
    )  # fmt: skip
    village = models.ForeignKey(
        Village, on_delete=models.PROTECT, null=True, blank=True, related_name="tickets",
        verbose_name="村（社区）",
    )  # fmt: skip
    caller_name = models.CharField("来电人", max_length=50, blank=True)
    caller_phone = models.CharField("联系电话", max_length=20, blank=True)
    content = models.TextField("诉求内容", max_length=2000)
    received_at = models.DateTimeField("受理时间")

    state = models.CharField("状态", max_length=16, choices=State.choices, default=State.PENDING)
    # The clock of signing for it (签收) and of returning it (退回) runs from here: the ticket's
    # arrival at its county, again after the bureau reassigns it.
    assigned_at = models.DateTimeField("派单时间")
    accept_due = models.DateTimeField("签收时限")
    accepted_at = models.DateTimeField("签收时间", null=True, blank=True)
    # The clock of closing it (办结) runs from here: the assignment, again after a reopening.
    clock_from = models.DateTimeField("办理计时起点")
    close_due = models.DateTimeField("办结时限")
    closed_at = models.DateTimeField("办结时间", null=True, blank=True)
    resolution = models.TextField("办理结果", max_length=2000, blank=True)
    extended_at = models.DateTimeField("延期时间", null=True, blank=True)
    extension_reason = models.CharField("延期理由", max_length=500, blank=True)
    returns = models.PositiveSmallIntegerField("退回次数", default=0)
    return_reason = models.CharField("退回理由", max_length=500, blank=True)
    satisfaction = models.CharField(
        "回访结果", max_length=16, choices=Satisfaction.choices, blank=True
    )
    reopened = models.PositiveSmallIntegerField("重办次数", default=0)
    escalated_at = models.DateTimeField("督办时间", null=True, blank=True)
    escalation_reason = models.CharField("督办原因", max_length=300, blank=True)
    removal_check = models.CharField(
        "先立后破核对", max_length=16, choices=RemovalCheck.choices, blank=True
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
        verbose_name="登记人",
    )  # fmt: skip
    created_at = models.DateTimeField("登记时间", default=timezone.now)

    objects = TicketQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = verbose_name_plural = "工单"
        indexes = [
            models.Index(fields=["county", "state"], name="ticket_county_state"),
            models.Index(fields=["household", "received_at"], name="ticket_household"),
            models.Index(fields=["received_at"], name="ticket_received"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["hotline_number"],
                condition=~Q(hotline_number=""),
                name="ticket_one_per_hotline_number",
                violation_error_message="该12345工单编号已登记",
            ),
            models.CheckConstraint(
                condition=~Q(channel="12345") | ~Q(hotline_number=""),
                name="ticket_hotline_has_number",
                violation_error_message="12345热线工单须填写工单编号",
            ),
            models.CheckConstraint(
                condition=Q(household__isnull=False) | Q(village__isnull=False),
                name="ticket_names_household_or_village",
                violation_error_message="工单须关联改造户或村（社区）",
            ),
            # One extension, with its reason: the field is set once and never cleared.
            models.CheckConstraint(
                condition=Q(extended_at__isnull=True, extension_reason="")
                | (Q(extended_at__isnull=False) & ~Q(extension_reason="")),
                name="ticket_extension_with_reason",
                violation_error_message="延期须说明理由",
            ),
            models.CheckConstraint(
                condition=Q(escalated_at__isnull=True, escalation_reason="")
                | (Q(escalated_at__isnull=False) & ~Q(escalation_reason="")),
                name="ticket_escalation_with_reason",
                violation_error_message="督办须说明原因",
            ),
            models.CheckConstraint(
                condition=~Q(state__in=["handling", "closed", "visited"])
                | Q(accepted_at__isnull=False),
                name="ticket_handled_after_signing",
                violation_error_message="工单须先签收",
            ),
            models.CheckConstraint(
                condition=~Q(state__in=["closed", "visited"])
                | (Q(closed_at__isnull=False) & ~Q(resolution="")),
                name="ticket_closed_with_resolution",
                violation_error_message="办结须填写办理结果",
            ),
            models.CheckConstraint(
                condition=~Q(state="visited") | Q(satisfaction__in=["satisfied", "basic"]),
                name="ticket_visited_with_satisfaction",
                violation_error_message="回访须记录满意或基本满意（不满意则重办）",
            ),
            models.CheckConstraint(
                condition=~Q(state="returned") | ~Q(return_reason=""),
                name="ticket_returned_with_reason",
                violation_error_message="退回须说明理由",
            ),
            models.CheckConstraint(
                condition=Q(accept_due__gt=models.F("assigned_at"))
                & Q(close_due__gt=models.F("clock_from")),
                name="ticket_deadlines_after_start",
                violation_error_message="时限须晚于计时起点",
            ),
        ]

    def __str__(self) -> str:
        return f"工单{self.number}"

    @property
    def number(self) -> str:
        """The number the portal shows: the hotline's where there is one."""
        return self.hotline_number or f"GD{self.pk:06d}"


class TicketStepQuerySet(CountyScopedQuerySet["TicketStep"]):
    county_lookups = ("ticket__county",)


class TicketStep(models.Model):
    """One step of a ticket, kept as it was taken."""

    class Action(models.TextChoices):
        CREATE = "create", "登记"
        IMPORT = "import", "12345导入"
        ACCEPT = "accept", "签收"
        CLOSE = "close", "办结"
        EXTEND = "extend", "延期"
        RETURN = "return", "退回"
        REASSIGN = "reassign", "重新派单"
        CALLBACK = "callback", "回访"
        REOPEN = "reopen", "不满意重办"
        ESCALATE = "escalate", "督办"

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="steps", verbose_name="工单"
    )
    action = models.CharField("操作", max_length=16, choices=Action.choices)
    # Empty for what the server does by itself (a breach found by the sweep).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name="操作人",
    )  # fmt: skip
    at = models.DateTimeField("时间", default=timezone.now)
    note = models.CharField("说明", max_length=2000, blank=True)
    county = models.ForeignKey(
        County, on_delete=models.PROTECT, related_name="+", verbose_name="县（市、区）"
    )

    objects = TicketStepQuerySet.as_manager()

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = verbose_name_plural = "工单办理记录"

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.at:%Y-%m-%d %H:%M}"


# ---------------------------------------------------------------- 回头看


class LookBackQuerySet(CountyScopedQuerySet["LookBack"]):
    # A county's own sample, or a city-wide one with households of the county in it.
    county_lookups = ("county", "items__household__county")
    through_many = True


class LookBack(models.Model):
    """回头看: after a season, a reproducible sample of villages (1–2 per township) and households
    within them (weighted by risk) for a second look; with its seed, the same population draws the
    same sample again."""

    county = models.ForeignKey(
        County, on_delete=models.PROTECT, null=True, blank=True, related_name="lookbacks",
        verbose_name="县（市、区）",
    )  # fmt: skip
    season = models.PositiveSmallIntegerField("采暖季")  # the season's first year
    seed = models.CharField("随机种子", max_length=40)
    villages_per_township = models.PositiveSmallIntegerField("每乡镇抽村数", default=1)
    households_per_village = models.PositiveSmallIntegerField("每村抽户数", default=5)
    population = models.PositiveIntegerField("参与抽取的户数")
    size = models.PositiveIntegerField("抽取户数")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="抽取人"
    )
    created_at = models.DateTimeField("抽取时间", default=timezone.now)

    objects = LookBackQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = verbose_name_plural = "回头看"
        constraints = [
            models.CheckConstraint(
                condition=Q(villages_per_township__gte=1, villages_per_township__lte=2),
                name="lookback_one_or_two_villages",
                violation_error_message="每个乡镇抽取1至2个村",
            ),
            models.CheckConstraint(
                condition=Q(households_per_village__gte=1, households_per_village__lte=50),
                name="lookback_households_per_village",
                violation_error_message="每村抽取1至50户",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.county or '全市'} {self.season}-{self.season + 1}采暖季回头看（种子 {self.seed}）"


class LookBackItemQuerySet(CountyScopedQuerySet["LookBackItem"]):
    county_lookups = ("household__county",)

    def relapsed(self) -> LookBackItemQuerySet:
        return self.filter(coal_relapse=True)


class LookBackItem(models.Model):
    """One household of a sample, and what the inspector found there."""

    lookback = models.ForeignKey(
        LookBack, on_delete=models.CASCADE, related_name="items", verbose_name="回头看"
    )
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="lookback_items", verbose_name="改造户"
    )
    rank = models.PositiveIntegerField("抽中顺序")
    weight = models.DecimalField("风险权重", max_digits=8, decimal_places=2)
    reasons = models.CharField("风险因素", max_length=200, blank=True)
    visited_at = models.DateTimeField("核查时间", null=True, blank=True)
    visited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name="核查人",
    )  # fmt: skip
    equipment_in_use = models.BooleanField("清洁取暖设备在用", null=True, blank=True)
    coal_relapse = models.BooleanField("散煤复烧", null=True, blank=True)
    photo = models.ImageField("照片", upload_to="lookbacks/%Y/%m/", blank=True)
    indoor_temp = models.DecimalField(
        "室内温度（℃）", max_digits=4, decimal_places=1, null=True, blank=True
    )
    satisfaction = models.CharField(
        "满意度", max_length=16, choices=Satisfaction.choices, blank=True
    )
    problems = models.CharField("发现问题", max_length=1000, blank=True)
    fix_by = models.DateField("整改期限", null=True, blank=True)
    fixed_at = models.DateTimeField("整改完成时间", null=True, blank=True)
    fix_note = models.CharField("整改说明", max_length=500, blank=True)

    objects = LookBackItemQuerySet.as_manager()

    class Meta:
        ordering = ["lookback", "rank"]
        verbose_name = verbose_name_plural = "回头看户"
        constraints = [
            models.UniqueConstraint(
                fields=["lookback", "household"], name="lookback_household_once"
            ),
            models.CheckConstraint(
                condition=Q(visited_at__isnull=True)
                | Q(equipment_in_use__isnull=False, coal_relapse__isnull=False),
                name="lookback_visit_complete",
                violation_error_message="须记录设备是否在用、是否散煤复烧",
            ),
            # A relapse is confirmed with a photo.
            models.CheckConstraint(
                condition=~Q(coal_relapse=True) | ~Q(photo=""),
                name="lookback_relapse_with_photo",
                violation_error_message="散煤复烧须附照片",
            ),
            models.CheckConstraint(
                condition=Q(problems="", fix_by__isnull=True)
                | (~Q(problems="") & Q(fix_by__isnull=False)),
                name="lookback_problem_with_deadline",
                violation_error_message="发现问题须填写整改期限",
            ),
            models.CheckConstraint(
                condition=Q(fixed_at__isnull=True) | ~Q(problems=""),
                name="lookback_fixed_only_a_problem",
                violation_error_message="没有发现问题，无需整改",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lookback} #{self.rank} {self.household}"
