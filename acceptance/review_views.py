"""The bureau's side of trust in acceptance: the visits' integrity flags (for the bureau and the
counties, each its own), their review (核实), and the risk-weighted spot checks (抽查)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from acceptance.forms import FlagFilter, FlagReviewForm, SpotCheckDrawForm
from acceptance.models import Inspection, IntegrityFlag, SpotCheck
from acceptance.services.integrity import integrity_flag_review
from acceptance.services.spot_checks import spot_check_draw
from heating import access
from heating.access import Action, get_permitted
from heating.http import bad_request, page_query, request_user
from heating.models import PlanYear

PAGE_SIZE = 50


@require_GET
@login_required
def integrity_flags(request: HttpRequest) -> HttpResponse:
    """The flags of the user's counties, open ones first by default; the bureau reviews them here."""
    user = request_user(request)
    access.require(user, Action.VIEW)
    filters = FlagFilter(request.GET, user=user)
    if not filters.is_valid():
        errors = [str(e) for errors in filters.errors.values() for e in errors]
        return bad_request(request, "筛选条件无效：" + "；".join(errors))
    chosen = filters.cleaned_data
    flags = IntegrityFlag.objects.visible_to(user).select_related(
        "inspection__household__county",
        "inspection__household__township",
        "inspection__household__village",
        "inspection__project__county",
        "inspection__inspector",
        "other__household__county",
        "reviewed_by",
    )
    state = chosen["state"] or "open"
    if state == "open":
        flags = flags.open()
    elif state == "reviewed":
        flags = flags.filter(reviewed_at__isnull=False)
    if chosen["kind"]:
        flags = flags.filter(kind=chosen["kind"])
    if chosen["county"]:
        county = chosen["county"]
        flags = flags.filter(
            Q(inspection__household__county=county) | Q(inspection__project__county=county)
        )
    if chosen["household"]:
        flags = flags.filter(inspection__household_id=chosen["household"])
    page = Paginator(flags, PAGE_SIZE).get_page(request.GET.get("page"))
    shown = list(page)
    # The other visit of a pair is named only to those who may see its household.
    others = set(
        Inspection.objects.visible_to(user)
        .filter(pk__in=[f.other_id for f in shown if f.other_id])
        .values_list("pk", flat=True)
    )
    return render(
        request,
        "acceptance/flags.html",
        {
            "page": page,
            "rows": [(f, f.other_id in others) for f in shown],
            "filters": filters,
            "state": state,
            "query": page_query(request),
            "may_review": access.may(user, Action.REVIEW),
            "review_form": FlagReviewForm(),
        },
    )


@require_POST
@login_required
def integrity_flag_review_view(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    flag = get_permitted(IntegrityFlag.objects.all(), user, Action.REVIEW, pk=pk)
    form = FlagReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, "请填写核实说明。")
    else:
        try:
            integrity_flag_review(flag=flag, user=user, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            for errors in exc.message_dict.values():
                for error in errors:
                    messages.error(request, error)
        else:
            messages.success(request, f"已核实：{flag.get_kind_display()}（{flag.inspection}）")
    back = request.POST.get("back", "")
    if back.startswith(reverse("integrity-flags")) and url_has_allowed_host_and_scheme(back, None):
        return redirect(back)
    return redirect("integrity-flags")


@require_http_methods(["GET", "POST"])
@login_required
def spot_checks(request: HttpRequest) -> HttpResponse:
    """The bureau's draws, and a new one: accepted households weighted by their risk."""
    user = request_user(request)
    access.require(user, Action.REVIEW)
    # This year's acceptances unless asked otherwise: a season's spot checks are of its own.
    latest = PlanYear.objects.order_by("-year").first()
    form = SpotCheckDrawForm(request.POST or None, initial={"plan_year": latest})
    if request.method == "POST" and form.is_valid():
        try:
            drawn = spot_check_draw(
                user=user,
                size=form.cleaned_data["size"],
                seed=form.cleaned_data["seed"],
                county=form.cleaned_data["county"],
                plan_year=form.cleaned_data["plan_year"],
            )
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(name if name in form.fields else None, error)
        else:
            messages.success(
                request, f"已抽取 {drawn.size} 户（随机种子 {drawn.seed}），已列入验收人员的待办。"
            )
            return redirect("spot-check", pk=drawn.pk)
    draws = SpotCheck.objects.permitted(user, Action.REVIEW).select_related("county", "created_by")
    return render(
        request,
        "acceptance/spot_checks.html",
        {"form": form, "draws": Paginator(draws, PAGE_SIZE).get_page(request.GET.get("page"))},
    )


@require_GET
@login_required
def spot_check(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    drawn = get_permitted(
        SpotCheck.objects.select_related("county", "created_by"), user, Action.REVIEW, pk=pk
    )
    items = drawn.items.select_related(
        "household__county", "household__township", "household__village", "visit__inspector"
    )
    return render(request, "acceptance/spot_check.html", {"drawn": drawn, "items": items})
