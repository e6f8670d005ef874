"""Who saw personal data in full (PIPL): each page, export or file that showed ID card or phone
numbers unmasked, with how many households' and where."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class PersonalDataAccess(models.Model):
    class Kind(models.TextChoices):
        DOSSIER = "dossier", "查看户档案"
        LIST = "list", "查看台账列表"
        EXPORT = "export", "导出台账"
        ERROR_FILE = "error_file", "下载错误标注文件"
        ADMIN = "admin", "管理后台查看"
        CONTACT = "contact", "验收联系电话"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="用户"
    )
    at = models.DateTimeField("时间", auto_now_add=True, db_index=True)
    kind = models.CharField("方式", max_length=16, choices=Kind.choices)
    households = models.PositiveIntegerField("涉及户数")
    detail = models.CharField("位置", max_length=500, help_text="页面地址、户编号或导出的筛选条件")

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = verbose_name_plural = "个人信息查看记录"

    def __str__(self) -> str:
        return f"{self.user} {self.get_kind_display()} {self.households} 户"
