"""Forms validate and convert; the supply rules live in services.py and rules.py."""

from __future__ import annotations

from typing import Any

from django import forms

from energy_supply.models import FuelReserve, GasContract, GasNetwork, GridUpgrade, season_label
from heating import access
from heating.access import Action
from heating.forms import DateInput
from heating.http import parse_id
from heating.models import County, Township, User, Village
from heating.versions import VersionedForm


def _seasons() -> list[tuple[int, str]]:
    from heating.selectors import current_plan_year

    plan_year = current_plan_year()
    year = plan_year.year if plan_year else 2023
    return [(y, season_label(y)) for y in range(year + 1, year - 3, -1)]


class SupplyForm(VersionedForm, forms.ModelForm[Any]):
    """A supply record of the counties where the user keeps supply."""

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        counties = County.objects.permitted(user, Action.SUPPLY)
        if "county" in self.fields:
            self.fields["county"].queryset = counties  # type: ignore[attr-defined]
            if access.scope(user, Action.SUPPLY).single is not None and not self.instance.pk:
                self.fields["county"].initial = counties.first()
        if "season" in self.fields:
            self.fields["season"] = forms.TypedChoiceField(
                label="采暖季", choices=_seasons(), coerce=int, initial=_seasons()[1][0]
            )
        if "township" in self.fields:
            townships = Township.objects.filter(county__in=counties).select_related("county")
            self.fields["township"].queryset = townships  # type: ignore[attr-defined]
            self.fields["township"].label_from_instance = lambda t: f"{t.county} {t}"  # type: ignore[attr-defined]
            chosen = parse_id(self.data.get("township") or self.instance.township_id)
            self.fields["village"].queryset = (  # type: ignore[attr-defined]
                Village.objects.filter(township_id=chosen) if chosen else Village.objects.none()
            )

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        township = data.get("township")
        if township is not None and "township" in self.fields:
            # Works belong to the county of their township: nobody types it twice.
            self.instance.county = township.county
        return data


class GasContractForm(SupplyForm):
    class Meta:
        model = GasContract
        fields = [
            "code",
            "county",
            "supplier",
            "signed_on",
            "season",
            "volume_10k_m3",
            "households",
        ]
        widgets = {"signed_on": DateInput()}


class GridUpgradeForm(SupplyForm):
    class Meta:
        model = GridUpgrade
        fields = ["code", "township", "village", "capacity_kva", "status", "energized_on"]
        widgets = {"energized_on": DateInput()}


class GasNetworkForm(SupplyForm):
    class Meta:
        model = GasNetwork
        fields = ["code", "township", "village", "length_km", "company", "status", "supplied_on"]
        widgets = {"supplied_on": DateInput()}


class FuelReserveForm(SupplyForm):
    class Meta:
        model = FuelReserve
        fields = ["county", "season", "fuel", "households", "contracted_t", "stored_t", "supplier"]


class CancelForm(VersionedForm):
    cancelled_on = forms.DateField(label="解除日期", widget=DateInput())


class GasConnectionForm(forms.Form):
    connected_on = forms.DateField(label="通气日期", widget=DateInput())
