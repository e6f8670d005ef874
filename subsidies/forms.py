"""The subsidies' forms: the bank's return and the 一卡通 accounts' file (uploads checked by type
and size here, their contents by the services), and one household's account."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone

from heating.forms import DateInput, SheetUploadForm
from retrofits.models import Household
from subsidies.services.accounts import account_problems


class ReturnUploadForm(SheetUploadForm):
    """The bank's return (银行回盘) of a batch: checked first, written after a confirmation."""

    dry_run = None  # type: ignore[assignment]  # every upload is a check; the page confirms
    paid_on = forms.DateField(
        label="发放日期",
        help_text="银行实际发放的日期，记为“成功”补贴的发放日期",
        widget=DateInput(),
    )

    def clean_paid_on(self) -> dt.date:
        day: dt.date = self.cleaned_data["paid_on"]
        if day > timezone.localdate():
            raise forms.ValidationError("发放日期不能晚于今天")
        return day


class ReturnConfirmForm(forms.Form):
    """What the check found, signed by the server (heating's SECRET_KEY): the lines and their
    answers, never a number of the file."""

    token = forms.CharField(widget=forms.HiddenInput, max_length=2_000_000)


class BankAccountForm(forms.Form):
    """One household's 一卡通 account; the checks are the import's (services.accounts)."""

    number = forms.CharField(
        label="一卡通账号",
        max_length=30,
        help_text="12 到 30 位数字；保存后，银行退回待更正的补贴进入下一批次",
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )
    bank = forms.CharField(label="开户银行", max_length=60)
    holder = forms.CharField(label="账户名", max_length=50)
    notes = forms.CharField(
        label="备注", max_length=200, required=False, help_text="账户名与户主姓名不同时必填"
    )

    def __init__(self, *args: Any, household: Household, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.household = household

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        values = {f: str(cleaned.get(f) or "") for f in self.fields}
        for name, _, message in account_problems(values, self.household):
            if name not in self.errors:
                self.add_error(name, message)
        return cleaned
