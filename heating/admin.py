"""The admin site: the municipal bureau keeps the plan and reference lists here; administrators the users."""

from __future__ import annotations

from typing import Any

import axes.admin  # noqa: F401  its registrations, two undone below, even before autodiscover
from axes.models import AccessFailureLog, AccessLog
from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import MaxLengthValidator
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from import_export.admin import ImportMixin
from import_export.forms import ConfirmImportForm, ImportForm
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper

from heating import access
from heating.access import Action
from heating.breakdown import TableLayoutError
from heating.history import shown
from heating.http import request_user
from heating.models import (
    BuildingTarget,
    County,
    CountyDeadline,
    PersonalDataAccess,
    PlanYear,
    Target,
    Township,
    User,
    Village,
)
from heating.resources import TargetBreakdownResource, TaskBreakdownXLSX
from heating.services import users_deactivate
from heating.sheet_reader import Refused

admin.site.site_header = "忻州市清洁取暖改造台账平台 · 管理后台"
# Groups grant nothing here: access follows the role (heating/access.py). Of django-axes, the
# lockouts an administrator lifts are kept (登录失败记录); its raw logs stay out of the admin.
admin.site.unregister(Group)
admin.site.unregister(AccessLog)
admin.site.unregister(AccessFailureLog)
admin.site.site_title = "清洁取暖管理后台"
admin.site.index_title = "计划与基础数据"


def _manages_plan(request: HttpRequest) -> bool:
    user = request.user
    return user.is_active and user.is_authenticated and user.manages_plan


class PlanAdmin(admin.ModelAdmin[Any]):
    """Models the municipal bureau manages: every right follows the role, not per-model grants."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _manages_plan(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return _manages_plan(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return _manages_plan(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return _manages_plan(request)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return _manages_plan(request)


class ChineseHistoryHelper(HistoricalRecordContextHelper):
    """The admin's change list of a record, each value as the portal shows it (choices by their
    labels, related rows by their names, empty as （空）): heating/history.py."""

    def prepare_delta_change_value(self, change: Any, value: Any) -> Any:
        raw = getattr(value, "pk", value)
        return shown(self.model, change.field, raw)


class ReadOnlyHistoryAdmin(SimpleHistoryAdmin):
    """A record's change record, to read: simple-history's revert would write past the services
    and their rules (SIMPLE_HISTORY_REVERT_DISABLED hides its button, this refuses its POST)."""

    def history_form_view(
        self,
        request: HttpRequest,
        object_id: str,
        version_id: str,
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method == "POST":
            raise PermissionDenied("变更记录只能查看，不能恢复到历史版本。")
        return super().history_form_view(request, object_id, version_id, extra_context)

    def get_historical_record_context_helper(
        self, request: HttpRequest, historical_record: Any
    ) -> HistoricalRecordContextHelper:
        return ChineseHistoryHelper(self.model, historical_record)


class ChooseSeveral:
    """A many-to-many field keeps its own help: the admin's added "按住 Control 键或 Mac 上的
    Command 键" names keys of another world (the boxes are a chooser here)."""

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]
        if field is not None:
            field.help_text = db_field.help_text
        return field


class ReadOnlyPlanAdmin(PlanAdmin):
    """Divisions come from the national release (`load_reference`), not from hand edits."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(County)
class CountyAdmin(ReadOnlyPlanAdmin):
    list_display = ["order", "short_name", "name", "division_code"]
    search_fields = ["short_name", "name", "division_code"]


@admin.register(Township)
class TownshipAdmin(ReadOnlyPlanAdmin):
    list_display = ["code", "name", "county"]
    list_filter = ["county"]
    search_fields = ["code", "name"]
    list_select_related = ["county"]


@admin.register(Village)
class VillageAdmin(ReadOnlyPlanAdmin):
    list_display = ["code", "name", "township"]
    list_filter = ["township__county"]
    search_fields = ["code", "name", "township__name"]
    list_select_related = ["township"]


class CountyDeadlineInline(admin.TabularInline[CountyDeadline, PlanYear]):
    model = CountyDeadline
    extra = 0


class BuildingTargetInline(admin.TabularInline[BuildingTarget, PlanYear]):
    model = BuildingTarget
    extra = 0


@admin.register(PlanYear)
class PlanYearAdmin(PlanAdmin):
    list_display = ["year", "title", "plan_due", "works_due", "acceptance_due", "evaluation_due"]
    inlines = [CountyDeadlineInline, BuildingTargetInline]


class BoundedImportForm(ImportForm):
    """django-import-export's upload, checked for size as the portal's own upload forms check it
    (heating/forms.py), and against its format's own bound (`max_mb`: a tender list or a task
    table is small), before the admin reads it into memory; its contents are read by the bounded
    reader (heating/resources.py)."""

    def __init__(self, formats: list[type[Any]], resources: list[Any], **kwargs: Any) -> None:
        super().__init__(formats, resources, **kwargs)
        self.file_formats = formats

    def clean_import_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["import_file"]
        if (upload.size or 0) > settings.MAX_UPLOAD_MB * 2**20:
            raise forms.ValidationError(f"文件超过 {settings.MAX_UPLOAD_MB} MB 的上限。")
        return upload

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        upload, chosen = cleaned.get("import_file"), cleaned.get("format")
        if upload is not None and chosen not in (None, ""):
            bound = getattr(self.file_formats[int(chosen)], "max_mb", None)
            if bound and (upload.size or 0) > bound * 2**20:
                self.add_error(
                    "import_file",
                    f"文件有 {(upload.size or 0) / 2**20:,.0f} MB，超过此处导入 {bound} MB 的上限，"
                    "请检查是否选错了文件。",
                )
        return cleaned


class BoundedImportMixin(ImportMixin):
    """An admin import page whose upload goes through the bounded reader: the formats are
    heating/resources.py's (or read_printed's), this says their refusal on the form, in Chinese."""

    import_form_class = BoundedImportForm

    def write_to_tmp_storage(self, import_file: Any, input_format: Any) -> Any:
        # The library joins the chunks one `+=` at a time: a copy of all so far for each chunk.
        storage_class = self.get_tmp_storage_class()
        storage = storage_class(
            encoding=None if input_format.is_binary() else self.from_encoding,
            read_mode=input_format.get_read_mode(),
            **self.get_tmp_storage_class_kwargs(),
        )
        storage.save(b"".join(import_file.chunks()))
        return storage

    def add_data_read_fail_error_to_form(self, form: forms.Form, e: Exception) -> None:
        if isinstance(e, Refused | TableLayoutError):
            form.add_error("import_file", str(e))
        else:
            super().add_data_read_fail_error_to_form(form, e)


class TargetImportForm(BoundedImportForm):
    plan_year = forms.ModelChoiceField(PlanYear.objects.all(), label="计划年度", empty_label=None)
    field_order = ["plan_year", "resource", "import_file", "format"]


class TargetConfirmImportForm(ConfirmImportForm):
    plan_year = forms.ModelChoiceField(PlanYear.objects.all(), widget=forms.HiddenInput())


@admin.register(Target)
class TargetAdmin(BoundedImportMixin, ReadOnlyHistoryAdmin, PlanAdmin):
    """Targets are entered as the whole printed table (导入), checked all-or-nothing."""

    list_display = ["plan_year", "county", "path", "area", "households"]
    list_filter = ["plan_year", "path", "area", "county"]
    list_select_related = ["county"]
    list_per_page = 200
    resource_classes = [TargetBreakdownResource]
    formats = [TaskBreakdownXLSX]
    import_form_class = TargetImportForm
    confirm_form_class = TargetConfirmImportForm
    import_template_name = "admin/heating/target/import.html"

    def has_import_permission(self, request: HttpRequest) -> bool:
        return _manages_plan(request)

    def get_import_resource_kwargs(self, request: HttpRequest, **kwargs: Any) -> dict[str, Any]:
        form = kwargs.pop("form", None)
        kwargs = super().get_import_resource_kwargs(request, **kwargs)
        # An invalid form (no year posted) has no year: the form shows its errors.
        if form is not None and getattr(form, "cleaned_data", {}).get("plan_year"):
            kwargs["plan_year"] = form.cleaned_data["plan_year"]
        return kwargs

    def get_confirm_form_initial(self, request: HttpRequest, import_form: Any) -> dict[str, Any]:
        initial: dict[str, Any] = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["plan_year"] = import_form.cleaned_data["plan_year"].pk
        return initial


class PasswordForm(AdminPasswordChangeForm):
    """An administrator sets a new password; no "unusable password" choice (every account here
    logs in with one, and its help names sign-on systems of another world)."""

    def __init__(self, user: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        self.fields.pop("usable_password", None)
        for name in ("password1", "password2"):  # no text without a limit
            field = self.fields[name]
            assert isinstance(field, forms.CharField)
            field.max_length = 128
            field.validators.append(MaxLengthValidator(128))


@admin.register(User)
class PortalUserAdmin(ChooseSeveral, UserAdmin[User]):
    """Accounts, for those the access policy lets manage them (ACCOUNTS). Users are deactivated,
    never deleted: households, visits and reports name who did what (their foreign keys protect
    them), so the admin offers 停用 where it would offer deletion."""

    list_display = ["username", "first_name", "role", "county", "organisation", "active"]
    list_filter = ["role", "county", "is_active"]
    # No groups, per-user permissions, staff or superuser flags: what a user may do follows their
    # role, through the access policy (heating/access.py), and the staff flag follows it too.
    fieldsets = (
        (None, {"fields": ["username", "password"]}),
        ("个人信息", {"fields": ["first_name", "email"]}),
        ("角色与范围", {"fields": ["role", "organisation", "county", "counties"]}),
        ("状态", {"fields": ["is_active"]}),
        ("提醒", {"fields": ["alert_delivery"]}),
        ("重要日期", {"fields": ["last_login", "date_joined"]}),
    )
    # A password set at once: accounts here always log in with one (no "unusable password").
    add_fieldsets = (
        (None, {"fields": ["username", "password1", "password2"]}),
        ("角色与范围", {"fields": ["role", "organisation", "county", "counties"]}),
    )
    readonly_fields = ["last_login", "date_joined"]
    filter_horizontal = ["counties"]
    change_password_form = PasswordForm
    actions = ["deactivate"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return access.may(request.user, Action.ACCOUNTS)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return access.may(request.user, Action.ACCOUNTS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return access.may(request.user, Action.ACCOUNTS)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return access.may(request.user, Action.ACCOUNTS)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    @admin.display(description="状态", ordering="is_active")
    def active(self, user: User) -> str:
        return "启用" if user.is_active else "已停用"  # not the admin's icons, alt="True"

    @admin.action(description="停用所选用户（不能再登录，保留其全部记录）")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        changed = users_deactivate(users=queryset, by=request_user(request))
        self.message_user(request, f"已停用 {changed} 个用户。")


@admin.register(PersonalDataAccess)
class PersonalDataAccessAdmin(admin.ModelAdmin[PersonalDataAccess]):
    """The record of who saw personal data in full: read by administrators, changed by nobody."""

    list_display = ["at", "user", "kind", "households", "detail"]
    list_filter = ["kind"]
    search_fields = ["user__username", "detail"]
    date_hierarchy = "at"

    def has_module_permission(self, request: HttpRequest) -> bool:
        return access.may(request.user, Action.CORRECT)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return access.may(request.user, Action.CORRECT)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
