from __future__ import annotations

from django import forms

from heating.versions import VersionedForm
from oversight.dispatch.models import CountyReport, DispatchRound


class RoundForm(forms.Form):
    kind = forms.ChoiceField(
        label="类型", choices=DispatchRound.Kind.choices, initial=DispatchRound.Kind.AD_HOC
    )
    title = forms.CharField(
        label="名称",
        max_length=100,
        required=False,
        help_text="空白时自动生成：2023年第N期调度（月日）",
    )
    due_at = forms.DateTimeField(
        label="报送截止",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    notes = forms.CharField(
        label="说明", required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )


class ReportForm(VersionedForm, forms.ModelForm[CountyReport]):
    class Meta:
        model = CountyReport
        fields = ["problems", "help_needed", "next_steps"]
        widgets = {name: forms.Textarea(attrs={"rows": 4}) for name in fields}


class StepForm(VersionedForm):
    """A step's button: the version the page showed (VersionedForm), and a return's reason."""

    reason = forms.CharField(label="退回原因", required=False, max_length=500)
