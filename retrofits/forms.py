"""Forms validate and convert; the rules themselves live in validators.py and the model."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse

from heating.forms import DateInput, add_service_errors
from heating.http import parse_id
from heating.models import County, Township, Village
from heating.selectors import upload_plan_year
from heating.versions import VersionedForm
from retrofits.choices import Stage
from retrofits.models import Household, TenderItem
from retrofits.rules import State, Via, change_problems
from retrofits.validators import normalize_id_number, phone_problem_and_value


class HouseholdForm(VersionedForm, forms.ModelForm[Household]):
    reason = forms.CharField(
        label="变更原因",
        required=False,
        max_length=200,
        help_text="实施进度跨越阶段或回退时必填，记入该户的变更记录",
    )

    class Meta:
        model = Household
        fields = [
            "code",
            "township",
            "village",
            "head_name",
            "id_number",
            "phone",
            "area",
            "path",
            "equipment",
            "stage",
            "completed_on",
            "low_income",
            "notes",
            "plan_year",
        ]
        widgets = {
            "completed_on": DateInput(),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args: Any, county: County, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.county = county
        self.fields["township"].queryset = Township.objects.filter(county=county)  # type: ignore[attr-defined]
        chosen = parse_id(self.data.get("township") or self.instance.township_id)
        self.fields["village"].queryset = (  # type: ignore[attr-defined]
            Village.objects.filter(township_id=chosen) if chosen else Village.objects.none()
        )
        # The tender list's models of the household's path (a 煤改电 household is not offered gas
        # boilers); the list follows the path as it is chosen (htmx).
        path = str(self.data.get("path") or self.instance.path or "")
        self.fields["equipment"].queryset = TenderItem.objects.for_path(path)  # type: ignore[attr-defined]
        self.fields["equipment"].error_messages["invalid_choice"] = (
            "该型号不是所选取暖路径的中标设备，请重新选择"
        )
        self.fields[
            "equipment"
        ].help_text = "煤改电原则上选择空气源热泵；选用其他设备的，请在备注中注明原因"
        self.fields["path"].widget.attrs.update(
            {
                "hx-get": reverse("equipment-options"),
                "hx-target": "#id_equipment",
                "hx-trigger": "change",
            }
        )
        if self.instance.pk is None:
            self.fields["plan_year"].initial = upload_plan_year()
        self.fields["plan_year"].help_text = "计入哪一年度的任务（任务分解表的年度）"
        # 已验收 comes from acceptance records only; keep it on the form only to show it.
        if self.instance.stage != Stage.ACCEPTED:
            self.fields["stage"].choices = [c for c in Stage.choices if c[0] != Stage.ACCEPTED]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        """The change rules too, so that every error shows at once; the service asks them again
        under its lock. (The instance still holds the stored values here.)"""
        data: dict[str, Any] = super().clean() or {}
        if data.get("stage"):
            household = self.instance
            problems = change_problems(
                State.of(household) if household.pk else None,
                State(household.county_id, data["stage"]),
                via=Via.EDIT,
                reason=data.get("reason", ""),
            )
            for problem in problems:
                self.add_error(
                    problem.field if problem.field in self.fields else None, problem.message
                )
        return data

    def clean_id_number(self) -> str:
        return normalize_id_number(self.cleaned_data["id_number"])

    def _get_validation_exclusions(self) -> set[str]:
        """The ID number's uniqueness is the service's to answer, not the form's: another county's
        number counts against the user's daily budget (retrofits/services/conflicts.py). The
        model's own checks of the number (Household.clean) still run."""
        return {*super()._get_validation_exclusions(), "id_number"}  # type: ignore[misc]

    def clean_phone(self) -> str:
        problem, value = phone_problem_and_value(self.cleaned_data.get("phone", ""))
        if problem:
            raise forms.ValidationError(problem)
        return value


class HouseholdCorrectionForm(VersionedForm, forms.ModelForm[Household]):
    """An administrator's correction in the admin: every field, and the reason asked when the
    county changes or the stage skips or goes back. The form only checks values; the admin's
    view makes the write, once, and where the service refuses it shows the form again with the
    refusal (`refusal`) beside the fields it names."""

    reason = forms.CharField(
        label="更正原因",
        required=False,
        max_length=200,
        help_text="更改县（市、区）、跨越或回退实施进度时必填，记入该户的变更记录",
    )
    refusal: ValidationError | None = None  # set by the admin after the service refused

    class Meta:
        model = Household
        # The ledger form's fields, and the county, which only a correction changes.
        fields = ["code", "county", *HouseholdForm.Meta.fields[1:]]

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if self.refusal is not None:
            add_service_errors(self, self.refusal)
        return data
