from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from heating.forms import DateInput
from oversight.evaluation.models import Indicator


class IndicatorForm(forms.ModelForm[Indicator]):
    class Meta:
        model = Indicator
        fields = ["target", "deviation"]
        widgets = {"deviation": forms.Textarea(attrs={"rows": 2})}


class PackForm(forms.Form):
    as_of = forms.DateField(
        label="数据截至",
        # A date input takes only an ISO value: the locale's 2024/04/30 would show it blank.
        widget=DateInput(),
        input_formats=["%Y-%m-%d"],
    )
    seed = forms.CharField(
        label="抽样种子", max_length=40, required=False, help_text="空白：年度-截至日期"
    )
    sample_size = forms.IntegerField(label="抽样户数", min_value=1, max_value=1000, initial=100)

    def __init__(self, *args: Any, latest: dt.date | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.latest = latest

    def clean_as_of(self) -> dt.date:
        day: dt.date = self.cleaned_data["as_of"]
        if self.latest is not None and day > self.latest:
            raise forms.ValidationError(f"截至日期不能晚于今天（{self.latest:%Y年%m月%d日}）")
        return day
