from __future__ import annotations

from django.contrib import admin

from acceptance.models import Inspection, Project
from heating.admin import PlanAdmin


@admin.register(Project)
class ProjectAdmin(PlanAdmin):
    """Networks, grid upgrades and building retrofits to accept, entered by the municipal bureau."""

    list_display = ["name", "county", "kind", "area_m2", "accepted_on", "efficiency_gain_pct"]
    list_filter = ["kind", "county"]
    search_fields = ["name"]
    readonly_fields = ["accepted_on", "efficiency_gain_pct"]


@admin.register(Inspection)
class InspectionAdmin(PlanAdmin):
    list_display = ["visited_at", "household", "project", "result", "inspector"]
    list_filter = ["result"]
    list_select_related = ["household", "project", "inspector"]
    readonly_fields = [f.name for f in Inspection._meta.fields]

    def has_add_permission(self, request, *args):  # type: ignore[no-untyped-def]
        return False
