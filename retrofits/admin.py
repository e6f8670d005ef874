from __future__ import annotations

from typing import Any, cast

from django.contrib import admin
from django.db.models import Model
from django.forms import ModelForm
from django.http import HttpRequest
from import_export.admin import ImportExportMixin
from simple_history.admin import SimpleHistoryAdmin

from heating import access
from heating.access import Action
from heating.admin import PlanAdmin
from heating.http import request_user
from retrofits.forms import HouseholdCorrectionForm
from retrofits.models import Household, LedgerImport, TenderItem
from retrofits.resources import TenderItemResource
from retrofits.rules import Via
from retrofits.services import household_save


@admin.register(TenderItem)
class TenderItemAdmin(ImportExportMixin, SimpleHistoryAdmin, PlanAdmin):
    """The tender list is the municipal bureau's: imported from its template, all or nothing."""

    list_display = ["model", "category", "path", "vendor", "rated_power_kw", "unit_price"]
    list_filter = ["path", "category"]
    search_fields = ["model", "vendor"]
    resource_classes = [TenderItemResource]

    def has_import_permission(self, request: HttpRequest) -> bool:
        return self.has_change_permission(request)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)


@admin.register(Household)
class HouseholdAdmin(SimpleHistoryAdmin, PlanAdmin):
    """Read-only for the municipal bureau. Administrators correct a record here, through the
    one-household service and its rules: the only way a household's county changes, with the
    reason kept in its history."""

    list_display = ["code", "head_name", "county", "township", "path", "stage", "completed_on"]
    list_filter = ["county", "path", "area", "stage", "low_income"]
    search_fields = ["code", "head_name"]
    list_select_related = ["county", "township"]
    show_full_result_count = False
    raw_id_fields = ["township", "village", "equipment"]
    readonly_fields = ["created_at", "created_by", "updated_at", "updated_by"]
    form = HouseholdCorrectionForm

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return access.may(request.user, Action.CORRECT)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = cast(
            "type[HouseholdCorrectionForm]",
            super().get_form(request, obj, change=change, **kwargs),
        )
        form.user = request_user(request)  # who corrects: the dry run checks as them
        return form

    def save_model(
        self, request: HttpRequest, obj: Household, form: ModelForm[Household], change: bool
    ) -> None:
        household_save(
            household=obj,
            user=request_user(request),
            reason=form.cleaned_data.get("reason", ""),
            via=Via.CORRECTION,
        )


@admin.register(LedgerImport)
class LedgerImportAdmin(PlanAdmin):
    list_display = [
        "created_at",
        "original_name",
        "county",
        "created_by",
        "status",
        "created_count",
        "updated_count",
        "unchanged_count",
        "error_count",
    ]
    list_filter = ["status", "county"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
