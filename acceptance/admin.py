from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from acceptance.models import Inspection, Project
from acceptance.rules import CHECKLISTS
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
    # The checklist by its items' names, not the JSON's codes and true/false; a yes or no in words.
    exclude = ["checklist", "integrity_checked"]
    readonly_fields = [
        *(
            f.name
            for f in Inspection._meta.fields
            if f.name not in ("checklist", "integrity_checked")
        ),
        "checklist_shown",
        "integrity_shown",
    ]

    @admin.display(description="真实性核查")
    def integrity_shown(self, inspection: Inspection) -> str:
        return "已核查" if inspection.integrity_checked else "未核查（运行 check_visit_integrity）"

    @admin.display(description="检查项")
    def checklist_shown(self, inspection: Inspection) -> str:
        household = inspection.household
        labels = dict(CHECKLISTS.get(household.path, ())) if household else {}
        items = [
            f"{labels.get(code, code)}：{'通过' if passed else '未通过'}"
            for code, passed in inspection.checklist.items()
        ]
        return "；".join(items) or "—"

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    # A visit is recorded by its inspector on the visit form and kept: nobody changes or deletes
    # it (its defects and photos would go with it, leaving no trace).
    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
