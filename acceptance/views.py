"""Inspectors' pages, phone first: the worklist and the visit form (of an acceptance, or of a spot
check's second visit), which a phone's outbox also posts to; photos behind access checks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from acceptance.forms import RemovalForm, VisitForm, WorklistSearch
from acceptance.ledger import write_acceptance_ledger
from acceptance.models import Defect, Inspection, InspectionPhoto, Project
from acceptance.selectors import spot_checks_due
from acceptance.services import (
    heating_removal_record,
    project_inspection_record,
    visit_submit,
)
from heating import access
from heating.access import Action, PersonalData, get_permitted
from heating.http import (
    bad_request,
    page_query,
    parse_id,
    request_user,
    search_throttled,
    xlsx_response,
)
from heating.models import County, PersonalDataAccess
from heating.services import personal_access_record
from retrofits.models import Household, HouseholdQuerySet

PAGE_SIZE = 30
# The header a phone's outbox (static/js/outbox.js) sends: it is answered in JSON.
OUTBOX_HEADER = "X-Outbox"


@require_GET
@login_required
def worklist(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    access.require(user, Action.INSPECT)
    today = timezone.localdate()
    due = Defect.objects.open().filter(household=OuterRef("pk"), rectify_by__lte=today)
    awaiting = Household.objects.permitted(user, Action.INSPECT).awaiting_acceptance()
    households = (
        awaiting.select_related("county", "township", "village")
        .annotate(revisit_due=Exists(due))
        .order_by("-revisit_due", "county__order", "township__code", "village__code", "code")
    )
    if throttled := search_throttled(request):
        return throttled
    search = WorklistSearch(request.GET)
    if not search.is_valid():
        errors = [str(e) for errors in search.errors.values() for e in errors]
        return bad_request(request, "搜索内容无效：" + "；".join(errors))
    query, village = search.cleaned_data["q"], search.cleaned_data["village"]
    # Households drawn for a spot check (抽查) come first: they are few, and the bureau waits.
    drawn = spot_checks_due(Household.objects.permitted(user, Action.INSPECT))
    spot = drawn.select_related("county", "township", "village")
    take_along = _villages(awaiting, drawn)
    if village:
        households, spot = households.filter(village_id=village), spot.filter(village_id=village)
    households = households.search(query, user=user, places=True)
    spot = spot.search(query, user=user, places=True).order_by("county__order", "code")[:PAGE_SIZE]
    page = Paginator(households, PAGE_SIZE).get_page(request.GET.get("page"))
    projects = (
        Project.objects.permitted(user, Action.INSPECT)
        .filter(accepted_on__isnull=True)
        .select_related("county")
    )
    shown, spot_shown = list(page), list(spot)
    phones = _phone_to_call(request, shown + spot_shown)
    return render(
        request,
        "acceptance/worklist.html",
        {
            "page": page,
            "query": page_query(request),
            "rows": list(zip(shown, phones[: len(shown)], strict=True)),
            "spot_rows": list(zip(spot_shown, phones[len(shown) :], strict=True)),
            "q": query,
            "village": village,
            "projects": projects,
            "take_along": take_along,
        },
    )


@dataclass
class Village:
    """A village of the inspector's worklist, which they may take along to work offline."""

    pk: int
    name: str
    households: int = 0


def _villages(*worklists: HouseholdQuerySet) -> list[Village]:
    """The villages of the inspector's worklists, with how many of their households are on them."""
    found: dict[int, Village] = {}
    for households in worklists:
        rows = (
            households.order_by()
            .values_list("village", "county__short_name", "township__name", "village__name")
            .annotate(n=Count("pk"))
        )
        for pk, county, township, name, n in rows:
            found.setdefault(pk, Village(pk, f"{county} {township} {name}")).households += n
    return sorted(found.values(), key=lambda v: v.name)


def _phone_to_call(request: HttpRequest, households: list[Household]) -> list[str]:
    """The households' phone numbers for an inspector to call and arrange a visit; each page that
    shows some in full by that right alone is kept like any other look at personal data."""
    personal = PersonalData(request_user(request))
    phones = [personal.phone_to_call(h.county_id, h.phone) for h in households]
    called = sum(1 for h in households if h.phone and personal.calls(h.county_id))
    personal_access_record(
        user=request_user(request),
        kind=PersonalDataAccess.Kind.CONTACT,
        households=called,
        detail=request.get_full_path(),
    )
    return phones


@require_http_methods(["GET", "POST"])
@login_required
def visit(request: HttpRequest, pk: int) -> HttpResponse:
    return _visit(request, pk, Inspection.Kind.ACCEPTANCE)


@require_http_methods(["GET", "POST"])
@login_required
def spot_check_visit(request: HttpRequest, pk: int) -> HttpResponse:
    """The second visit of a household the bureau drew (抽查): its worklist entry leads here."""
    return _visit(request, pk, Inspection.Kind.SPOT_CHECK)


def _visit(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """The visit form, posted by the page itself or by the phone's outbox (X-Outbox: the answer
    is JSON, its state accepted or refused with the Chinese reason)."""
    user = request_user(request)
    outbox = request.method == "POST" and request.headers.get(OUTBOX_HEADER) == "1"
    households = Household.objects.all()
    if kind == Inspection.Kind.SPOT_CHECK:
        households = spot_checks_due(households)
    try:
        household = get_permitted(households, user, Action.INSPECT, pk=pk)
    except (Http404, PermissionDenied):
        if not outbox:
            raise
        return _outbox_answer(404, "refused", "该户不存在，或已不在您负责验收的范围内")
    form = VisitForm(
        request.POST or None,
        request.FILES or None,
        path=household.path,
        initial={"seen_version": household.version},
    )
    if request.method == "POST" and form.is_valid():
        visit = form.visit(user)
        try:
            submitted = visit_submit(
                client_id=form.cleaned_data.get("client_id"),
                kind=kind,
                household=household,
                inspector=user,
                visited_at=visit.visited_at,
                passed=visit.passed,
                checklist=form.checklist(),
                defects=visit.defects,
                photos=visit.photos,
                co_inspectors=visit.co_inspectors,
                supervision_unit=visit.supervision_unit,
                location=visit.location,
                notes=visit.notes,
                expected_version=form.expected_version,
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            if outbox:
                return _outbox_answer(
                    201 if submitted.created else 200,
                    "accepted",
                    id=submitted.inspection.pk,
                    replayed=not submitted.created,
                )
            dossier = reverse("household-detail", args=[household.pk])
            what = "抽查复核" if kind == Inspection.Kind.SPOT_CHECK else "验收"
            messages.success(
                request,
                format_html(
                    '已记录{}：{}（<a href="{}">查看一户一档</a>）', what, household, dossier
                ),
            )
            back = _back_to_worklist(request)
            if request.headers.get("X-Visit-Form") == "fetch":  # visit.js goes there itself
                return HttpResponse(status=204, headers={"X-Location": back})
            return redirect(back)
    if outbox:
        return _outbox_answer(422, "refused", _reasons(form))
    spot = kind == Inspection.Kind.SPOT_CHECK
    return render(
        request,
        "acceptance/visit.html",
        {
            "form": form,
            "h": household,
            "kind": kind,
            "spot": spot,
            "phone": _phone_to_call(request, [household])[0],
            "open_defects": Defect.objects.filter(household=household)
            .open()
            .select_related("inspection")
            .order_by("rectify_by"),
            "visits": household.inspections.select_related("inspector").order_by("-visited_at")[:3],
            "back": _back_to_worklist(request),
            "action": reverse("spot-check-visit" if spot else "visit", args=[household.pk]),
            "rendered_at": timezone.localtime(),
        },
    )


def _outbox_answer(status: int, state: str, reason: str = "", **more: object) -> JsonResponse:
    return JsonResponse(
        {"state": state, "reason": reason, **more},
        status=status,
        json_dumps_params={"ensure_ascii": False},
    )


def _reasons(form: VisitForm) -> str:
    """Every error of a posted visit form, in one Chinese line (for the outbox to show)."""
    reasons = [str(e) for e in form.non_field_errors()]
    for field in form:
        reasons += [f"{field.label}：{e}" for e in field.errors]
    for errors in form.section_errors.values():
        reasons += errors
    return "；".join(reasons) or "记录无效"


def _back_to_worklist(request: HttpRequest) -> str:
    """The worklist page the inspector came from (its search and page kept), else its first."""
    back = request.POST.get("back") or request.GET.get("back") or ""
    if back.startswith(reverse("worklist")) and url_has_allowed_host_and_scheme(back, None):
        return back
    return reverse("worklist")


@require_http_methods(["GET", "POST"])
@login_required
def project_visit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    project = get_permitted(Project.objects.select_related("county"), user, Action.INSPECT, pk=pk)
    form = VisitForm(
        request.POST or None,
        request.FILES or None,
        with_efficiency=project.kind == Project.Kind.BUILDING_TOWN,
    )
    if request.method == "POST" and form.is_valid():
        try:
            project_inspection_record(
                project=project,
                visit=form.visit(user),
                efficiency_gain_pct=form.cleaned_data.get("efficiency_gain_pct"),
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"已记录项目验收：{project}")
            return redirect("worklist")
    return render(request, "acceptance/visit.html", {"form": form, "project": project})


def _add_errors(form: VisitForm, exc: ValidationError) -> None:
    """The service's errors beside what they are about: a field, a part of the form (defects,
    photos, checklist), or the form as a whole."""
    for name, errors in exc.message_dict.items():
        if name in VisitForm.SECTIONS:
            form.section_errors.setdefault(name, []).extend(errors)
            continue
        for error in errors:
            form.add_error(name if name in form.fields else None, error)


@require_POST
@login_required
def removal(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    household = get_permitted(Household.objects.all(), user, Action.EDIT, pk=pk)
    form = RemovalForm(request.POST)
    if form.is_valid():
        try:
            heating_removal_record(
                household=household, removed_on=form.cleaned_data["removed_on"], user=user
            )
        except ValidationError as exc:
            for errors in exc.message_dict.values():
                for error in errors:
                    messages.error(request, error)
        else:
            messages.success(request, "已登记拆除原有取暖设施。")
    else:
        messages.error(request, "请填写拆除日期。")
    return redirect("household-detail", pk=household.pk)


@require_GET
@login_required
def photo(request: HttpRequest, pk: int) -> FileResponse:
    """Photos are personal data: served only to those who may see the household."""
    item = get_object_or_404(
        InspectionPhoto.objects.filter(
            inspection__in=Inspection.objects.visible_to(request_user(request))
        ),
        pk=pk,
    )
    return FileResponse(item.image.open("rb"), content_type=item.content_type)


@require_GET
@login_required
def acceptance_ledger(request: HttpRequest) -> HttpResponse:
    """验收台账 of the user's counties, optionally one county and a date range (?county=&start=&end=)."""
    user = request_user(request)
    visits = Inspection.objects.visible_to(user)
    county_id = request.GET.get("county", "")
    label = "全部县（市、区）" if user.sees_all_counties else "本辖区"
    if county_id:
        if parse_id(county_id) is None:
            return bad_request(request, f"县（市、区）「{county_id}」无效，请从列表中选择")
        county = get_permitted(County.objects.all(), user, Action.VIEW, pk=parse_id(county_id))
        visits = visits.filter(Q(household__county=county) | Q(project__county=county))
        label = county.short_name
    try:
        start = dt.date.fromisoformat(request.GET["start"]) if request.GET.get("start") else None
        end = dt.date.fromisoformat(request.GET["end"]) if request.GET.get("end") else None
    except ValueError:
        return bad_request(request, "日期格式应为 2023-10-15")
    if start:
        visits = visits.filter(visited_at__date__gte=start)
    if end:
        visits = visits.filter(visited_at__date__lte=end)
    span = f"{start or '开始'}至{end or '今'}"
    data = write_acceptance_ledger(visits, title=f"清洁取暖改造验收台账（{label}，{span}）")
    return xlsx_response(data, f"验收台账-{label}.xlsx")
