"""一卡通账户: a household's payment account, its number encrypted at rest."""

from __future__ import annotations

from django.db import models
from encrypted_fields.fields import EncryptedCharField  # type: ignore[import-untyped]

from heating.history import History
from heating.models import CountyScopedQuerySet
from retrofits.models import Household


class BankAccountQuerySet(CountyScopedQuerySet["BankAccount"]):
    county_lookups = ("household__county",)


class BankAccount(models.Model):
    """A household's 一卡通 account, which the county's subsidies are paid into. The number is
    encrypted at rest (django-fernet-encrypted-fields: a key derived from SECRET_KEY and
    SALT_KEY, both from the environment); its last four digits are kept apart, so that everyone
    but the county's 县级财政 is shown ****1234 without the number being decrypted at all."""

    household = models.OneToOneField(
        Household, on_delete=models.PROTECT, related_name="bank_account", verbose_name="改造户"
    )
    number = EncryptedCharField("一卡通账号", max_length=30)
    last4 = models.CharField("账号末四位", max_length=4)
    bank = models.CharField("开户银行", max_length=60)
    holder = models.CharField("账户名", max_length=50)
    notes = models.CharField("备注", max_length=200, blank=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    history = History(excluded_fields=["updated_at"])
    objects = BankAccountQuerySet.as_manager()

    class Meta:
        ordering = ["household"]
        verbose_name = verbose_name_plural = "一卡通账户"

    def __str__(self) -> str:
        return f"{self.bank} {self.masked}"

    @property
    def masked(self) -> str:
        return f"****{self.last4}"
