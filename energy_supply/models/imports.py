"""An upload of a supply file (供用气合同, 电网改造工程, 燃气管网工程) and what became of it: the
job a worker runs in the background while the page polls its row for progress and the outcome."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from heating.models import County, CountyScopedQuerySet


class ImportJob(models.Model):
    """What a background import job records, whatever it imports: its state for the worker that
    claims it (status, heartbeat, attempts) and for the page that polls it (phase, rows done,
    the counts or the errors). The household ledger's LedgerImport has the same fields;
    energy_supply/services/background.py claims, keeps alive and sweeps any job of this shape."""

    class Status(models.TextChoices):
        PENDING = "pending", "排队中"
        RUNNING = "running", "处理中"
        SUCCEEDED = "succeeded", "导入成功"
        FAILED = "failed", "有错误，未导入"

    original_name = models.CharField("原文件名", max_length=255)
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
    # The first errors, for the result page; the whole list is in the annotated file.
    errors = models.JSONField("错误", default=list, blank=True)
    message = models.TextField("说明", blank=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)
    # Beaten by the worker while it runs the job; a job whose beats stopped lost its worker.
    heartbeat_at = models.DateTimeField("最近心跳", null=True, blank=True)
    attempts = models.PositiveSmallIntegerField("执行次数", default=0)

    file: models.FileField
    error_file: models.FileField

    class Meta:
        abstract = True

    @property
    def percent(self) -> int:
        if self.finished:
            return 100
        return int(100 * self.processed_rows / self.total_rows) if self.total_rows else 0

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)


class SupplyImport(ImportJob):
    """One upload of a supply template by a user who keeps supply."""

    class Kind(models.TextChoices):
        CONTRACTS = "contracts", "供用气合同"
        UPGRADES = "upgrades", "电网改造工程"
        NETWORKS = "networks", "燃气管网工程"

    kind = models.CharField("台账", max_length=16, choices=Kind.choices)
    file = models.FileField("文件", upload_to="supply-imports/%Y/%m/")
    error_file = models.FileField("错误标注文件", upload_to="supply-imports/%Y/%m/", blank=True)
    county = models.ForeignKey(
        County,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="限定县（市、区）",
        help_text="县级用户只能导入本县的记录",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        verbose_name="导入人",
    )
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
        verbose_name = verbose_name_plural = "能源保障台账导入"

    def __str__(self) -> str:
        return f"{self.original_name}（{self.get_status_display()}）"
