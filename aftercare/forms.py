"""Forms of tickets: they check and convert (a township's and village's names, a household's
code, within the chosen county); the services decide."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone

from aftercare.limits import LABELS, Standing
from aftercare.models import Category, Channel, Satisfaction, State
from heating.access import Action, scope
from heating.forms import DateInput
from heating.models import County, Township, User, Village
from retrofits.models import Household
from retrofits.validators import DivisionIndex

LOCAL_INPUT = "%Y-%m-%dT%H:%M"


def _counties(user: User, *actions: Action) -> Any:
    ids: set[int] = set()
    for action in actions:
        allowed = scope(user, action)
        if allowed.everything:
            return County.objects.order_by("pk")
        ids |= allowed.ids
    return County.objects.filter(pk__in=ids).order_by("pk")


class PlaceForm(forms.Form):
    """A county, and in it a household by its code or a village by its township's and its names."""

    county = forms.ModelChoiceField(County.objects.none(), label="县（市、区）")
    household_code = forms.CharField(label="户编号", max_length=32, required=False)
    township_name = forms.CharField(label="乡（镇、街道）", max_length=60, required=False)
    village_name = forms.CharField(label="村（社区）", max_length=60, required=False)

    def __init__(self, *args: Any, user: User, actions: tuple[Action, ...], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["county"].queryset = _counties(user, *actions)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        county: County | None = data.get("county")
        data["household"] = data["village"] = None
        if county is None:
            return data
        code = (data.get("household_code") or "").strip()
        if code:
            household = (
                Household.objects.visible_to(self.user).filter(code=code, county=county).first()
            )
            if household is None:
                self.add_error("household_code", f"{county.short_name}没有该户编号")
            data["household"] = household
            return data
        index = DivisionIndex(
            Township.objects.filter(county=county),
            Village.objects.filter(township__county=county),
        )
        township = index.township(county.pk, (data.get("township_name") or "").strip())
        if township is None:
            self.add_error(
                "township_name", f"请填写户编号，或{county.short_name}的乡（镇、街道）和村（社区）"
            )
            return data
        village = index.village(township, (data.get("village_name") or "").strip())
        if village is None:
            self.add_error("village_name", "该乡（镇、街道）没有该村（社区）")
            return data
        data["village"] = Village.objects.select_related("township").get(pk=village)
        return data


class TicketForm(PlaceForm):
    channel = forms.ChoiceField(label="来源渠道", choices=Channel.choices)
    hotline_number = forms.CharField(label="12345工单编号", max_length=40, required=False)
    category = forms.ChoiceField(label="诉求类别", choices=Category.choices)
    caller_name = forms.CharField(label="来电人", max_length=50, required=False)
    caller_phone = forms.CharField(label="联系电话", max_length=20, required=False)
    content = forms.CharField(
        label="诉求内容", max_length=2000, widget=forms.Textarea(attrs={"rows": 4})
    )
    received_at = forms.DateTimeField(
        label="受理时间", input_formats=[LOCAL_INPUT, "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_INPUT),
    )  # fmt: skip

    field_order = ["channel", "hotline_number", "category", "county", "household_code",
                   "township_name", "village_name", "caller_name", "caller_phone", "content",
                   "received_at"]  # fmt: skip

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, user=user, actions=(Action.SUPERVISE, Action.TICKETS), **kwargs)
        if not self.is_bound:
            self.initial.setdefault("received_at", timezone.localtime().strftime(LOCAL_INPUT))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if (
            data.get("channel") == Channel.HOTLINE
            and not (data.get("hotline_number") or "").strip()
        ):
            self.add_error("hotline_number", "12345热线工单须填写工单编号")
        received: dt.datetime | None = data.get("received_at")
        if received and received > timezone.now():
            self.add_error("received_at", "受理时间不能晚于现在")
        return data


class ReassignForm(PlaceForm):
    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, user=user, actions=(Action.SUPERVISE,), **kwargs)


class ReasonForm(forms.Form):
    reason = forms.CharField(label="理由", max_length=500)


class CloseForm(forms.Form):
    resolution = forms.CharField(
        label="办理结果", max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class CallbackForm(forms.Form):
    satisfaction = forms.ChoiceField(label="回访结果", choices=Satisfaction.choices)
    note = forms.CharField(label="回访说明", max_length=500, required=False)


class TicketFilterForm(forms.Form):
    state = forms.ChoiceField(label="状态", required=False, choices=[("", "全部"), *State.choices])
    category = forms.ChoiceField(
        label="诉求类别", required=False, choices=[("", "全部"), *Category.choices]
    )
    channel = forms.ChoiceField(
        label="来源渠道", required=False, choices=[("", "全部"), *Channel.choices]
    )
    standing = forms.ChoiceField(
        label="时限", required=False,
        choices=[("", "全部")] + [(s.value, LABELS[s]) for s in (Standing.ON_TRACK, Standing.AT_RISK, Standing.BREACHED)],
    )  # fmt: skip
    escalated = forms.ChoiceField(
        label="督办", required=False, choices=[("", "全部"), ("1", "已督办")]
    )
    county = forms.ModelChoiceField(
        County.objects.none(), label="县（市、区）", required=False, empty_label="全部"
    )
    household = forms.IntegerField(
        required=False, min_value=1, max_value=2**31 - 1, widget=forms.HiddenInput
    )
    q = forms.CharField(label="工单编号", required=False, max_length=40)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["county"].queryset = County.objects.visible_to(user).order_by("pk")  # type: ignore[attr-defined]


class UploadForm(forms.Form):
    file = forms.FileField(label="12345工单文件（xlsx 或 CSV）")


# ---------------------------------------------------------------- 回头看


class LookBackDrawForm(forms.Form):
    season = forms.IntegerField(label="采暖季（起始年）", min_value=2000, max_value=2100)
    county = forms.ModelChoiceField(
        County.objects.none(), label="县（市、区）", required=False, empty_label="全市"
    )
    villages_per_township = forms.TypedChoiceField(
        label="每乡镇抽村数", choices=[(1, "1"), (2, "2")], coerce=int, initial=1
    )
    households_per_village = forms.IntegerField(
        label="每村抽户数", min_value=1, max_value=50, initial=5
    )
    seed = forms.CharField(label="随机种子（留空自动生成）", max_length=40, required=False)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        supervise = scope(user, Action.SUPERVISE)
        field = self.fields["county"]
        field.queryset = _counties(user, Action.SUPERVISE, Action.TICKETS)  # type: ignore[attr-defined]
        if not supervise.everything:
            field.required = True
            field.empty_label = None  # type: ignore[attr-defined]


class LookBackRecordForm(forms.Form):
    equipment_in_use = forms.TypedChoiceField(
        label="清洁取暖设备在用", choices=[("1", "是"), ("0", "否")], coerce=lambda v: v == "1"
    )
    coal_relapse = forms.TypedChoiceField(
        label="散煤复烧", choices=[("0", "否"), ("1", "是")], coerce=lambda v: v == "1"
    )
    photo = forms.ImageField(label="照片（散煤复烧须拍照）", required=False)
    indoor_temp = forms.DecimalField(
        label="室内温度（℃）", max_digits=4, decimal_places=1, required=False,
        min_value=-30, max_value=40,
    )  # fmt: skip
    satisfaction = forms.ChoiceField(
        label="满意度", choices=[("", "—"), *Satisfaction.choices], required=False
    )
    problems = forms.CharField(label="发现问题", max_length=1000, required=False)
    fix_by = forms.DateField(
        label="整改期限",
        required=False,
        widget=DateInput(),
    )


class LookBackFixForm(forms.Form):
    note = forms.CharField(label="整改说明", max_length=500)
