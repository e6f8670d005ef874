from __future__ import annotations

from typing import Any, cast

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from import_export.admin import ImportExportMixin
from import_export.formats.base_formats import CSV, XLSX
from import_export.forms import SelectableFieldsExportForm

from heating import access
from heating.access import Action
from heating.admin import BoundedImportMixin, PlanAdmin, ReadOnlyHistoryAdmin
from heating.http import request_user
from heating.models import PersonalDataAccess
from heating.services import personal_access_record
from retrofits.forms import HouseholdCorrectionForm
from retrofits.models import Household, LedgerImport, TenderItem
from retrofits.resources import TenderCSV, TenderItemResource, TenderXLSX
from retrofits.rules import Via
from retrofits.services import household_save


class ChineseExportForm(SelectableFieldsExportForm):
    """The export page names each column by its Chinese header alone."""

    def _get_field_label(self, resource: Any, field_name: str) -> str:
        field = resource.fields.get(field_name)
        return str(field.column_name) if field else field_name


@admin.register(TenderItem)
class TenderItemAdmin(BoundedImportMixin, ImportExportMixin, ReadOnlyHistoryAdmin, PlanAdmin):
    """The tender list is the municipal bureau's: imported from its template, all or nothing,
    each upload read by the bounded reader."""

    formats = [XLSX, CSV]  # for the export
    import_formats = [TenderXLSX, TenderCSV]
    export_form_class = ChineseExportForm

    list_display = ["model", "category", "path", "vendor", "rated_power_kw", "unit_price"]
    list_filter = ["path", "category"]
    search_fields = ["model", "vendor"]
    resource_classes = [TenderItemResource]

    def has_import_permission(self, request: HttpRequest) -> bool:
        return self.has_change_permission(request)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)


class CorrectorsOnly:
    """Admin pages that show households in full (their forms, history, import errors): for those
    the access policy lets correct them, administrators, who see personal data everywhere. The
    bureau reads households in the portal, masked."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return access.may(request.user, Action.CORRECT)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return access.may(request.user, Action.CORRECT)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # nothing deletes a household or the record of an import


def _shown_in_full(request: HttpRequest) -> None:
    """An administrator's look at one household in full, kept like any other (PIPL)."""
    personal_access_record(
        user=request_user(request),
        kind=PersonalDataAccess.Kind.ADMIN,
        households=1,
        detail=request.path,
    )


# Where the admin keeps the service's refusal of a correction for the form shown again.
_REFUSAL = "household_refusal"


@admin.register(Household)
class HouseholdAdmin(CorrectorsOnly, ReadOnlyHistoryAdmin, PlanAdmin):
    """Administrators correct a record here, through the one-household service and its rules: the
    only way a household's county changes, with the reason kept in its history."""

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

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        _shown_in_full(request)
        return super().change_view(request, object_id, form_url, extra_context)

    def history_form_view(
        self,
        request: HttpRequest,
        object_id: str,
        version_id: str,
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        _shown_in_full(request)
        return super().history_form_view(request, object_id, version_id, extra_context)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = cast(
            "type[HouseholdCorrectionForm]",
            super().get_form(request, obj, change=change, **kwargs),
        )
        form.refusal = getattr(request, _REFUSAL, None)
        return form

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """A correction is written once, here, by the one-household service. Refused, Django's
        own change page shows the form again with the service's errors on it; the form itself
        only checks values."""
        if request.method != "POST" or object_id is None:
            return super().changeform_view(request, object_id, form_url, extra_context)
        household = self.get_object(request, unquote(object_id))
        if household is None or not self.has_change_permission(request, household):
            return super().changeform_view(request, object_id, form_url, extra_context)
        form = self.get_form(request, household, change=True)(request.POST, instance=household)
        if form.is_valid():
            try:
                household_save(
                    household=form.instance,
                    user=request_user(request),
                    reason=form.cleaned_data.get("reason", ""),
                    via=Via.CORRECTION,
                    expected_version=form.expected_version,
                )
            except ValidationError as refused:
                setattr(request, _REFUSAL, refused)
            else:
                self.log_change(
                    request, household, self.construct_change_message(request, form, [])
                )
                return self.response_change(request, household)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(
        self, request: HttpRequest, obj: Household, form: ModelForm[Household], change: bool
    ) -> None:
        raise AssertionError("a correction is written by changeform_view alone")


@admin.register(LedgerImport)
class LedgerImportAdmin(CorrectorsOnly, PlanAdmin):
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
    # The record as people read it: the errors one a line, not the stored JSON.
    fields = readonly_fields = (
        "original_name", "county", "created_by", "created_at", "checked_only", "status",
        "message", "total_rows", "created_count", "updated_count", "unchanged_count",
        "error_count", "errors_shown", "file", "error_file", "finished_at",
    )  # fmt: skip

    @admin.display(description="仅检查")
    def checked_only(self, job: LedgerImport) -> str:
        return "是" if job.dry_run else "否"

    @admin.display(description="错误（前 1000 处）")
    def errors_shown(self, job: LedgerImport) -> str:
        return "\n".join(
            f"第{e.get('row')}行「{e.get('column')}」{e.get('value') or ''}：{e.get('message')}"
            for e in job.errors
        )

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
