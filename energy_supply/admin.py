"""Heat sources, key projects and the reserve norms are the municipal bureau's, kept here; the
supply ledgers (contracts, works, reserves) are kept on their own pages, through the services
that ask the supply rules, and only shown here."""

from __future__ import annotations

from typing import Any

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
from heating.admin import PlanAdmin


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


class ShownOnlyAdmin(PlanAdmin):
    """Kept on the portal's pages, where the supply rules are asked."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(GasContract)
class GasContractAdmin(ShownOnlyAdmin):
    list_display = ["code", "county", "supplier", "season", "households", "cancelled_on"]
    list_filter = ["season", "county"]


@admin.register(GridUpgrade)
class GridUpgradeAdmin(ShownOnlyAdmin):
    list_display = ["code", "county", "township", "village", "status", "energized_on"]
    list_filter = ["status", "county"]


@admin.register(GasNetwork)
class GasNetworkAdmin(ShownOnlyAdmin):
    list_display = ["code", "county", "township", "village", "status", "supplied_on"]
    list_filter = ["status", "county"]


@admin.register(FuelReserve)
class FuelReserveAdmin(ShownOnlyAdmin):
    list_display = ["county", "season", "fuel", "households", "contracted_t", "stored_t"]
    list_filter = ["season", "fuel", "county"]
