from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone

from acceptance.models import IntegrityFlag
from acceptance.rules import CHECKLISTS
from acceptance.services import DefectInput, Visit
from acceptance.services.spot_checks import MAX_SPOT_CHECK
from heating.forms import DateInput
from heating.models import County, PlanYear, User
from heating.versions import VersionedForm

DEFECT_ROWS = 3


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = data if isinstance(data, list | tuple) else [data] if data else []
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


class VisitForm(VersionedForm):
    """An acceptance visit; the checklist's fields depend on the household's heating path."""

    # Parts of the form the service's errors may be about, shown beside them.
    SECTIONS = ("defects", "photos", "checklist")

    visited_at = forms.DateTimeField(
        label="验收时间",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    co_inspectors = forms.CharField(label="同行验收人员", required=False, max_length=200)
    supervision_unit = forms.CharField(label="监理单位", required=False, max_length=100)
    result = forms.ChoiceField(
        label="验收结果",
        choices=[("passed", "合格"), ("failed", "不合格")],
        widget=forms.RadioSelect,
    )
    photos = MultipleFileField(
        label="照片",
        required=False,
        widget=MultipleFileInput(attrs={"accept": "image/*", "capture": "environment"}),
        help_text="可多张，JPEG/PNG/WebP，每张不超过10MB",
    )
    latitude = forms.DecimalField(
        required=False, widget=forms.HiddenInput(), max_digits=9, decimal_places=6
    )
    longitude = forms.DecimalField(
        required=False, widget=forms.HiddenInput(), max_digits=9, decimal_places=6
    )
    notes = forms.CharField(
        label="说明", required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )
    # The record's own id, given by the phone (static/js/visit.js): the key of its outbox, and
    # of the visit, so that the same record sent twice is recorded once.
    client_id = forms.UUIDField(required=False, widget=forms.HiddenInput())

    def __init__(
        self, *args: Any, path: str | None = None, with_efficiency: bool = False, **kwargs: Any
    ) -> None:
        """A household's visit has its path's checklist; a project's has none, and a town
        building's asks for the efficiency gain achieved."""
        super().__init__(*args, **kwargs)
        self.section_errors: dict[str, list[str]] = {}
        self.fields["visited_at"].initial = timezone.localtime().replace(second=0, microsecond=0)
        if with_efficiency:
            self.fields["efficiency_gain_pct"] = forms.DecimalField(
                label="能效提升（%）", required=False, max_digits=5, decimal_places=1, min_value=0
            )
        for code, label in CHECKLISTS[path] if path else ():
            self.fields[f"check_{code}"] = forms.BooleanField(label=label, required=False)
        for index in range(DEFECT_ROWS):
            self.fields[f"defect_{index}"] = forms.CharField(
                label=f"问题{index + 1}", required=False, max_length=200
            )
            self.fields[f"rectify_by_{index}"] = forms.DateField(
                label="整改期限",
                required=False,
                widget=DateInput(),
            )
        self.checklist_codes = [code for code, _ in CHECKLISTS[path]] if path else []

    def checklist_fields(self) -> list[forms.BoundField]:
        return [self[f"check_{code}"] for code in self.checklist_codes]

    def defect_fields(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[f"defect_{i}"], self[f"rectify_by_{i}"]) for i in range(DEFECT_ROWS)]

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        for index in range(DEFECT_ROWS):
            if data.get(f"defect_{index}") and not data.get(f"rectify_by_{index}"):
                self.add_error(f"rectify_by_{index}", "请填写整改期限")
        return data

    def checklist(self) -> dict[str, bool]:
        return {code: bool(self.cleaned_data.get(f"check_{code}")) for code in self.checklist_codes}

    def defects(self) -> list[DefectInput]:
        found = []
        for index in range(DEFECT_ROWS):
            description = self.cleaned_data.get(f"defect_{index}", "")
            rectify_by: dt.date | None = self.cleaned_data.get(f"rectify_by_{index}")
            if description and rectify_by:
                found.append(DefectInput(description, rectify_by))
        return found

    def visit(self, inspector: User) -> Visit:
        data = self.cleaned_data
        return Visit(
            inspector=inspector,
            visited_at=data["visited_at"],
            passed=data["result"] == "passed",
            defects=self.defects(),
            photos=data["photos"],
            co_inspectors=data["co_inspectors"],
            supervision_unit=data["supervision_unit"],
            location=self.location(),
            notes=data["notes"],
        )

    def location(self) -> tuple[Decimal, Decimal] | None:
        lat, lon = self.cleaned_data.get("latitude"), self.cleaned_data.get("longitude")
        return (lat, lon) if lat is not None and lon is not None else None


class RemovalForm(forms.Form):
    removed_on = forms.DateField(label="拆除日期", widget=DateInput())


class WorklistSearch(forms.Form):
    q = forms.CharField(required=False, max_length=50)
    village = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)


class FlagReviewForm(forms.Form):
    reason = forms.CharField(
        label="核实说明",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "请填写核实说明"},
    )


class FlagFilter(forms.Form):
    STATES = [("open", "待核实"), ("reviewed", "已核实"), ("all", "全部")]

    state = forms.ChoiceField(label="状态", choices=STATES, required=False)
    kind = forms.ChoiceField(
        label="类别", choices=[("", "全部"), *IntegrityFlag.Kind.choices], required=False
    )
    county = forms.ModelChoiceField(
        label="县（市、区）", queryset=County.objects.none(), required=False, empty_label="全部"
    )
    household = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The counties whose flags the user sees.
        self.fields["county"].queryset = County.objects.visible_to(user)  # type: ignore[attr-defined]


class SpotCheckDrawForm(forms.Form):
    county = forms.ModelChoiceField(
        label="县（市、区）",
        queryset=County.objects.all(),
        required=False,
        empty_label="全市",
    )
    plan_year = forms.ModelChoiceField(
        label="任务年度",
        queryset=PlanYear.objects.order_by("-year"),
        required=False,
        empty_label="全部年度",
    )
    size = forms.IntegerField(label="抽取户数", min_value=1, max_value=MAX_SPOT_CHECK, initial=20)
    seed = forms.CharField(
        label="随机种子",
        required=False,
        max_length=40,
        help_text="留空则自动生成；用同一种子对同一范围重新抽取，结果相同",
    )
