"""Heat sources, key projects and the reserve norms are the municipal bureau's, kept here; the
supply ledgers (contracts, works, reserves) are kept on their own pages, through the services
that ask the supply rules, and only shown here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest
from django.utils.text import capfirst
from simple_history.admin import SimpleHistoryAdmin

from energy_supply.models import (
    FuelReserve,
    GasContract,
    GasNetwork,
    GridUpgrade,
    HeatSource,
    KeyProject,
    Milestone,
    ReserveNorm,
)
from energy_supply.services import (
    heat_source_save,
    key_project_save,
    milestone_delete,
    milestone_save,
)
from heating.admin import ChooseSeveral, PlanAdmin, ReadOnlyPlanAdmin
from heating.http import request_user


class WithoutLinkRows:
    """A deletion's page lists the records it takes along, without the rows that link a source or
    project to its counties and townships: they are no records of their own, and Django would
    name each in English ("KeyProject_counties object (1)")."""

    model: type[Model]

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)  # type: ignore[misc]
        throughs = [f.remote_field.through for f in self.model._meta.many_to_many]
        links = [through._meta for through in throughs if through is not None]
        shown_as = tuple(f"{capfirst(link.verbose_name)}: " for link in links)

        def kept(items: list[Any]) -> list[Any]:
            return [
                kept(item) if isinstance(item, list) else item
                for item in items
                if isinstance(item, list) or not str(item).startswith(shown_as)
            ]

        plural = {str(link.verbose_name_plural) for link in links}
        counts = {name: n for name, n in counts.items() if str(name) not in plural}
        return kept(deleted), counts, perms_needed, protected


@admin.register(HeatSource)
class HeatSourceAdmin(WithoutLinkRows, ChooseSeveral, SimpleHistoryAdmin, PlanAdmin):
    list_display = ["name", "kind", "fuel", "capacity", "unit", "flue_gas_treatment", "status"]
    list_filter = ["kind", "fuel", "status", "counties"]
    search_fields = ["name", "operator"]
    filter_horizontal = ["counties"]

    # Written by the service, the counties served with the source (save_related leaves them).
    def save_model(
        self, request: HttpRequest, obj: HeatSource, form: ModelForm[HeatSource], change: bool
    ) -> None:
        heat_source_save(
            source=obj, counties=form.cleaned_data["counties"], user=request_user(request)
        )

    def save_related(
        self, request: HttpRequest, form: ModelForm[HeatSource], formsets: Any, change: bool
    ) -> None:
        """Nothing left: save_model wrote the counties, and a source has no inlines."""


class MilestoneInline(admin.TabularInline[Milestone, KeyProject]):
    model = Milestone
    extra = 1


@admin.register(KeyProject)
class KeyProjectAdmin(WithoutLinkRows, ChooseSeveral, SimpleHistoryAdmin, PlanAdmin):
    list_display = ["name", "county", "responsible", "status", "completed_on"]
    filter_horizontal = ["counties", "townships"]
    inlines = [MilestoneInline]

    # Written by the services: the project with its counties and townships, then each milestone.
    def save_model(
        self, request: HttpRequest, obj: KeyProject, form: ModelForm[KeyProject], change: bool
    ) -> None:
        key_project_save(
            project=obj,
            counties=form.cleaned_data["counties"],
            townships=form.cleaned_data["townships"],
            user=request_user(request),
        )

    def save_related(
        self, request: HttpRequest, form: ModelForm[KeyProject], formsets: Any, change: bool
    ) -> None:
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def save_formset(
        self,
        request: HttpRequest,
        form: ModelForm[KeyProject],
        formset: BaseInlineFormSet[Milestone, KeyProject, Any],
        change: bool,
    ) -> None:
        user = request_user(request)
        for milestone in formset.save(commit=False):
            milestone_save(milestone=milestone, user=user)
        for milestone in formset.deleted_objects:
            milestone_delete(milestone=milestone, user=user)


@admin.register(ReserveNorm)
class ReserveNormAdmin(SimpleHistoryAdmin, PlanAdmin):
    list_display = ["fuel", "tonnes_per_household"]

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(GasContract)
class GasContractAdmin(ReadOnlyPlanAdmin):
    list_display = ["code", "county", "supplier", "season", "households", "cancelled_on"]
    list_filter = ["season", "county"]


@admin.register(GridUpgrade)
class GridUpgradeAdmin(ReadOnlyPlanAdmin):
    list_display = ["code", "county", "township", "village", "status", "energized_on"]
    list_filter = ["status", "county"]


@admin.register(GasNetwork)
class GasNetworkAdmin(ReadOnlyPlanAdmin):
    list_display = ["code", "county", "township", "village", "status", "supplied_on"]
    list_filter = ["status", "county"]


@admin.register(FuelReserve)
class FuelReserveAdmin(ReadOnlyPlanAdmin):
    list_display = ["county", "season", "fuel", "households", "contracted_t", "stored_t"]
    list_filter = ["season", "fuel", "county"]
