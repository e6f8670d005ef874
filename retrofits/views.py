"""The household ledger's pages. Every view starts from a queryset scoped to the user."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from heating.http import request_user, xlsx_response
from heating.models import County, PlanYear, Role, Township, User, Village
from retrofits.filters import HouseholdFilter
from retrofits.forms import HouseholdForm, LedgerUploadForm
from retrofits.history import household_changes
from retrofits.ledger import ChoiceLists, write_ledger
from retrofits.models import Household, LedgerImport, TenderItem
from retrofits.pagination import COUNT_CAP, CappedPaginator
from retrofits.selectors import ledger_rows, mask_id_number, mask_phone, sees_personal_data
from retrofits.services import household_save, ledger_import_start

PAGE_SIZE = 50


def _own_county(user: User) -> County:
    """The county whose ledger the user keeps; only county officials keep one."""
    if user.role != Role.COUNTY or user.county is None:
        raise PermissionDenied("只有县级用户可以维护本县台账；市级用户和验收人员只能查看。")
    return user.county


def _filtered(request: HttpRequest) -> HouseholdFilter:
    user = request_user(request)
    households = Household.objects.visible_to(user).select_related(
        "county", "township", "village", "equipment"
    )
    return HouseholdFilter(request.GET, queryset=households, user=user)


@require_GET
@login_required
def household_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    filtered = _filtered(request)
    page = CappedPaginator(filtered.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        (
            h,
            h.id_number if sees_personal_data(user, h.county_id) else mask_id_number(h.id_number),
            h.phone
            if sees_personal_data(user, h.county_id)
            else mask_phone(h.phone)
            if h.phone
            else "",
        )
        for h in page
    ]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "retrofits/household_list.html",
        {
            "filter": filtered,
            "page": page,
            "rows": rows,
            "query": query.urlencode(),
            "count_cap": COUNT_CAP,
            "can_create": user.role == Role.COUNTY,
            "can_import": user.imports_ledger,
        },
    )


@require_GET
@login_required
def household_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    household = get_object_or_404(
        Household.objects.visible_to(user).select_related(
            "county", "township", "village", "equipment", "created_by", "updated_by"
        ),
        pk=pk,
    )
    full = sees_personal_data(user, household.county_id)
    return render(
        request,
        "retrofits/household_detail.html",
        {
            "h": household,
            "id_number": household.id_number if full else mask_id_number(household.id_number),
            "phone": household.phone
            if full
            else mask_phone(household.phone)
            if household.phone
            else "",
            "changes": household_changes(household),
            "can_edit": Household.objects.editable_by(user).filter(pk=pk).exists(),
            "inspections": household.inspections.select_related("inspector").prefetch_related(
                "photos", "defects"
            ),
            "can_inspect": Household.objects.inspectable_by(user).filter(pk=pk).exists()
            and household.stage == "completed",
            "removal": getattr(household, "heating_removal", None),
            "outside_window": _outside_window(household),
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
def household_create(request: HttpRequest) -> HttpResponse:
    return _household_form(request, Household())


@require_http_methods(["GET", "POST"])
@login_required
def household_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    get_object_or_404(Household.objects.visible_to(user), pk=pk)  # 404 before 403
    household = Household.objects.editable_by(user).filter(pk=pk).first()
    if household is None:
        raise PermissionDenied("只有本县的县级用户可以修改该户。")
    return _household_form(request, household)


def _household_form(request: HttpRequest, household: Household) -> HttpResponse:
    user = request_user(request)
    county = household.county if household.pk else _own_county(user)
    form = HouseholdForm(request.POST or None, instance=household, county=county)
    if request.method == "POST" and form.is_valid():
        try:
            saved = household_save(
                household=form.save(commit=False), user=user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"已保存：{saved}")
            return redirect("household-detail", pk=saved.pk)
    return render(
        request,
        "retrofits/household_form.html",
        {"form": form, "household": household, "county": county},
    )


@require_GET
@login_required
def village_options(request: HttpRequest) -> HttpResponse:
    """The <option>s of a township's villages, for the form's dependent select (htmx)."""
    township = get_object_or_404(
        Township.objects.visible_to(request_user(request)), pk=request.GET.get("township") or 0
    )
    villages = Village.objects.filter(township=township)
    return render(request, "retrofits/_village_options.html", {"villages": villages})


@require_GET
@login_required
def ledger_export(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    filtered = _filtered(request)
    if not filtered.is_valid():
        raise Http404("筛选条件无效")
    counties = County.objects.visible_to(user)
    data = write_ledger(
        ledger_rows(filtered.qs, user=user),
        ChoiceLists(counties=[c.short_name for c in counties]),
    )
    return xlsx_response(data, "清洁取暖改造户台账.xlsx")


@require_GET
@login_required
def ledger_template(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    counties = list(County.objects.visible_to(user))
    townships = list(Township.objects.filter(county__in=counties)) if len(counties) == 1 else []
    data = write_ledger(
        [],
        ChoiceLists(
            counties=[c.short_name for c in counties],
            townships=[t.name for t in townships],
            equipment=list(TenderItem.objects.values_list("model", flat=True)),
        ),
    )
    return xlsx_response(data, "清洁取暖改造户台账模板.xlsx")


@require_http_methods(["GET", "POST"])
@login_required
def ledger_import(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if not user.imports_ledger:
        raise PermissionDenied("只有县级用户（本县）和系统管理员可以导入台账。")
    form = LedgerUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        job = ledger_import_start(
            upload=form.cleaned_data["file"], user=user, dry_run=form.cleaned_data["dry_run"]
        )
        return redirect("ledger-import-detail", pk=job.pk)
    recent = LedgerImport.objects.filter(created_by=user)[:10]
    return render(request, "retrofits/ledger_import.html", {"form": form, "recent": recent})


def _job(request: HttpRequest, pk: int) -> LedgerImport:
    return get_object_or_404(LedgerImport.objects.filter(created_by=request_user(request)), pk=pk)


@require_GET
@login_required
def ledger_import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    template = (
        "retrofits/_import_status.html"
        if request.headers.get("HX-Request")
        else "retrofits/ledger_import_detail.html"
    )
    return render(request, template, {"job": job})


@require_GET
@login_required
def ledger_import_errors(request: HttpRequest, pk: int) -> FileResponse:
    job = _job(request, pk)
    if not job.error_file:
        raise Http404("该次导入没有错误文件")
    return FileResponse(
        job.error_file.open("rb"),
        as_attachment=True,
        filename=f"错误标注-{job.original_name.rsplit('.', 1)[0]}.xlsx",
    )


def _outside_window(household: Household) -> set[int]:
    """Visits made outside their year's acceptance window (allowed, but flagged)."""
    plans = {p.year: p for p in PlanYear.objects.all()}
    flagged = set()
    for pk, visited_at in household.inspections.values_list("pk", "visited_at"):
        day = timezone.localtime(visited_at).date()
        plan = plans.get(day.year)
        if plan is not None and not plan.in_acceptance_window(day):
            flagged.add(pk)
    return flagged
