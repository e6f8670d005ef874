"""The household ledger's pages. Every view starts from a queryset scoped to the user."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from heating import access
from heating.access import Action, PersonalData, get_permitted
from heating.forms import EMPTY_CHOICE, SheetUploadForm, add_service_errors
from heating.http import (
    bad_request,
    page_query,
    parse_id,
    request_user,
    search_throttled,
    xlsx_response,
)
from heating.models import County, HeatingPath, PersonalDataAccess, PlanYear, Township, Village
from heating.selectors import outside_acceptance_window, plan_year_numbers
from heating.services import export_start, personal_access_record
from heating.sheets import TooManyRows, check_exportable
from retrofits import exports
from retrofits.choices import Stage
from retrofits.filters import HouseholdFilter, filter_problems
from retrofits.forms import HouseholdForm
from retrofits.history import household_changes
from retrofits.ledger.file import ChoiceLists, write_ledger
from retrofits.ledger.jobs import (
    ConfirmRefused,
    ledger_import_confirm,
    ledger_import_start,
    sweep_stuck_imports,
)
from retrofits.models import Household, LedgerImport, TenderItem
from retrofits.pagination import COUNT_CAP, CappedPaginator
from retrofits.selectors import ledger_rows
from retrofits.services import household_save

PAGE_SIZE = 50


def _filtered(request: HttpRequest) -> HouseholdFilter:
    user = request_user(request)
    households = Household.objects.visible_to(user).select_related(
        "county", "township", "village", "equipment"
    )
    return HouseholdFilter(request.GET, queryset=households, user=user)


def _list_page(
    request: HttpRequest, filtered: HouseholdFilter, *, status: int = 200
) -> HttpResponse:
    """The list as filtered; an invalid filter shows its Chinese message and no rows."""
    user = request_user(request)
    valid = filtered.is_valid()
    page = CappedPaginator(filtered.qs if valid else Household.objects.none(), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    personal = PersonalData(user)
    rows = [(h, *personal.shown(h.county_id, h.id_number, h.phone)) for h in page]
    personal_access_record(
        user=user,
        kind=PersonalDataAccess.Kind.LIST,
        households=sum(personal.sees(h.county_id) for h in page),
        detail=request.get_full_path(),
    )
    return render(
        request,
        "retrofits/household_list.html",
        {
            "filter": filtered,
            "invalid": filter_problems(filtered) if not valid else [],
            "page": page,
            "rows": rows,
            "query": page_query(request),
            "count_cap": COUNT_CAP,
            "can_create": access.may(user, Action.EDIT),
            "single_county": access.scope(user, Action.VIEW).single is not None,
            "can_import": access.may(user, Action.IMPORT),
            "can_resolve_conflicts": access.may(user, Action.CONFLICTS),
        },
        status=status if valid else 400,
    )


@require_GET
@login_required
def household_list(request: HttpRequest) -> HttpResponse:
    return search_throttled(request) or _list_page(request, _filtered(request))


@require_GET
@login_required
def household_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    household = get_permitted(
        Household.objects.select_related(
            "county", "township", "village", "equipment", "created_by", "updated_by", "plan_year"
        ),
        user,
        Action.VIEW,
        pk=pk,
    )
    personal = PersonalData(user)
    id_number, phone = personal.shown(household.county_id, household.id_number, household.phone)
    personal_access_record(
        user=user,
        kind=PersonalDataAccess.Kind.DOSSIER,
        households=int(personal.sees(household.county_id)),
        detail=f"{household.code}（{request.path}）",
    )
    return render(
        request,
        "retrofits/household_detail.html",
        {
            "h": household,
            "id_number": id_number,
            "phone": phone,
            "changes": household_changes(household, personal),
            "can_edit": access.may(user, Action.EDIT, household.county_id),
            "inspections": household.inspections.select_related("inspector").prefetch_related(
                "photos", "defects"
            ),
            "can_inspect": access.may(user, Action.INSPECT, household.county_id)
            and household.stage == Stage.COMPLETED,
            "removal": getattr(household, "heating_removal", None),
            "outside_window": _outside_window(household),
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
def household_create(request: HttpRequest) -> HttpResponse:
    """A new household of the county the user keeps; one who keeps several (an administrator)
    picks it first (?county=)."""
    user = request_user(request)
    editable = access.scope(user, Action.EDIT)
    if not editable:
        raise PermissionDenied(access.REFUSALS[Action.EDIT])
    chosen = str(editable.single or request.GET.get("county", ""))
    if not chosen:
        counties = County.objects.permitted(user, Action.EDIT)
        return render(request, "retrofits/pick_county.html", {"counties": counties})
    if parse_id(chosen) is None:
        return bad_request(request, f"县（市、区）「{chosen}」无效，请从列表中选择")
    county = get_permitted(County.objects.all(), user, Action.EDIT, pk=parse_id(chosen))
    return _household_form(request, Household(county=county))


@require_http_methods(["GET", "POST"])
@login_required
def household_edit(request: HttpRequest, pk: int) -> HttpResponse:
    household = get_permitted(Household.objects.all(), request_user(request), Action.EDIT, pk=pk)
    return _household_form(request, household)


def _household_form(request: HttpRequest, household: Household) -> HttpResponse:
    user = request_user(request)
    county = household.county
    form = HouseholdForm(request.POST or None, instance=household, county=county)
    if request.method == "POST" and form.is_valid():
        try:
            saved = household_save(
                household=form.save(commit=False),
                user=user,
                reason=form.cleaned_data["reason"],
                expected_version=form.expected_version,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
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
    """The <option>s of a township's villages, for the dependent selects (htmx); ?all=1 for a
    filter, whose empty choice is 全部."""
    chosen = request.GET.get("township", "")
    blank = "全部" if request.GET.get("all") else "请选择"
    if not chosen:
        return render(request, "retrofits/_options.html", {"options": [], "blank": blank})
    if parse_id(chosen) is None:
        return bad_request(request, f"乡（镇、街道）「{chosen}」无效，请从列表中选择")
    township = get_permitted(
        Township.objects.all(), request_user(request), Action.VIEW, pk=parse_id(chosen)
    )
    villages = Village.objects.filter(township=township)
    return render(request, "retrofits/_options.html", {"options": villages, "blank": blank})


@require_GET
@login_required
def township_options(request: HttpRequest) -> HttpResponse:
    """The <option>s of a county's townships for the list's filter (htmx), its villages emptied."""
    chosen = request.GET.get("county", "")
    townships = Township.objects.none()
    if chosen:
        if parse_id(chosen) is None:
            return bad_request(request, f"县（市、区）「{chosen}」无效，请从列表中选择")
        county = get_permitted(
            County.objects.all(), request_user(request), Action.VIEW, pk=parse_id(chosen)
        )
        townships = Township.objects.filter(county=county)
    return render(
        request,
        "retrofits/_options.html",
        {"options": townships, "blank": "全部", "reset_villages": True},
    )


@require_GET
@login_required
def equipment_options(request: HttpRequest) -> HttpResponse:
    """The <option>s of the tender list's models for a heating path (the household form, htmx)."""
    path = request.GET.get("path", "")
    if path and path not in HeatingPath.values:
        return bad_request(request, f"取暖路径「{path}」无效，请从列表中选择")
    options = [{"pk": item.pk, "name": str(item)} for item in TenderItem.objects.for_path(path)]
    return render(request, "retrofits/_options.html", {"options": options, "blank": EMPTY_CHOICE})


@require_GET
@login_required
def ledger_export(request: HttpRequest) -> HttpResponse:
    """The filtered ledger as a file: written at once when small, else made in the background
    with a progress bar (a whole city's takes a minute)."""
    user = request_user(request)
    filtered = _filtered(request)
    if not filtered.is_valid():
        return _list_page(request, filtered)  # the same message as the list, and no file
    count = filtered.qs.count()
    try:
        check_exportable(count)
    except TooManyRows as exc:
        return bad_request(request, str(exc))
    if count > settings.EXPORT_INLINE_ROWS:
        job = export_start(
            kind=exports.KIND,
            user=user,
            title=f"导出改造户台账（{count:,} 户）",
            params={"query": request.GET.urlencode()},
            total=count,
        )
        return redirect("export", pk=job.pk)
    counties = County.objects.visible_to(user)
    data = write_ledger(
        ledger_rows(filtered.qs, user=user),
        ChoiceLists(counties=[c.short_name for c in counties], years=plan_year_numbers()),
    )
    personal_access_record(
        user=user,
        kind=PersonalDataAccess.Kind.EXPORT,
        households=filtered.qs.filter(PersonalData(user).full.q("county")).count(),
        detail=request.get_full_path(),
    )
    return xlsx_response(data, exports.FILE_NAME)


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
            years=plan_year_numbers(),
        ),
    )
    return xlsx_response(data, "清洁取暖改造户台账模板.xlsx")


@require_http_methods(["GET", "POST"])
@login_required
def ledger_import(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    access.require(user, Action.IMPORT)
    form = SheetUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        job = ledger_import_start(
            upload=form.cleaned_data["file"], user=user, dry_run=form.cleaned_data["dry_run"]
        )
        return redirect("ledger-import-detail", pk=job.pk)
    sweep_stuck_imports()  # a job whose worker died shows as interrupted, not 处理中 forever
    recent = LedgerImport.objects.filter(created_by=user)[:10]
    return render(request, "retrofits/ledger_import.html", {"form": form, "recent": recent})


def _job(request: HttpRequest, pk: int) -> LedgerImport:
    return get_object_or_404(LedgerImport.objects.filter(created_by=request_user(request)), pk=pk)


@require_GET
@login_required
def ledger_import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    if not job.finished and sweep_stuck_imports():  # its worker may have died: say so at once
        job.refresh_from_db()
    template = (
        "retrofits/_import_status.html"
        if request.headers.get("HX-Request")
        else "retrofits/ledger_import_detail.html"
    )
    return render(request, template, {"job": job})


@require_POST
@login_required
def ledger_import_confirm_view(request: HttpRequest, pk: int) -> HttpResponse:
    """确认导入: import the file a passed 仅检查 kept, without choosing it again."""
    checked = _job(request, pk)
    try:
        job, started = ledger_import_confirm(checked=checked, user=request_user(request))
    except ConfirmRefused as exc:
        messages.error(request, str(exc))
        return redirect("ledger-import-detail", pk=checked.pk)
    if not started:
        messages.info(request, "这次检查已确认导入，未重复导入。")
    return redirect("ledger-import-detail", pk=job.pk)


@require_GET
@login_required
def ledger_import_errors(request: HttpRequest, pk: int) -> FileResponse:
    job = _job(request, pk)
    if not job.error_file:
        raise Http404("该次导入没有错误文件")
    # The file holds every row as uploaded: it goes back only to the one who uploaded it.
    personal_access_record(
        user=request_user(request),
        kind=PersonalDataAccess.Kind.ERROR_FILE,
        households=job.total_rows,
        detail=f"{request.path}（{job.original_name}）",
    )
    return FileResponse(
        job.error_file.open("rb"),
        as_attachment=True,
        filename=f"错误标注-{job.original_name.rsplit('.', 1)[0]}.xlsx",
    )


def _outside_window(household: Household) -> set[int]:
    """Visits made outside their year's acceptance window (allowed, but flagged)."""
    plans = {p.year: p for p in PlanYear.objects.all()}
    return {
        pk
        for pk, visited_at in household.inspections.values_list("pk", "visited_at")
        if outside_acceptance_window(timezone.localtime(visited_at).date(), plans)
    }
