"""Heat sources, key projects and the reserve norms are the municipal bureau's, kept here; the
supply ledgers (contracts, works, reserves) are kept on their own pages, through the services
that ask the supply rules, and only shown here."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest
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
from heating.admin import PlanAdmin, ReadOnlyPlanAdmin


@admin.register(HeatSource)
class HeatSourceAdmin(SimpleHistoryAdmin, PlanAdmin):
    list_display = ["name", "kind", "fuel", "capacity", "unit", "flue_gas_treatment", "status"]
    list_filter = ["kind", "fuel", "status", "counties"]
    search_fields = ["name", "operator"]
    filter_horizontal = ["counties"]


class MilestoneInline(admin.TabularInline[Milestone, KeyProject]):
    model = Milestone
    extra = 1


@admin.register(KeyProject)
class KeyProjectAdmin(SimpleHistoryAdmin, PlanAdmin):
    list_display = ["name", "county", "responsible", "status", "completed_on"]
    filter_horizontal = ["counties", "townships"]
    inlines = [MilestoneInline]


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
