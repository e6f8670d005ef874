"""The subsidies' pages: the policies (补贴标准: every county's and the city's defaults for the
bureau, a county's own and the city's defaults for the county; imported with
`import_subsidy_policies`), the funds and the tilt (and /api/funds), and the payment batches with
their printable 公示 list and the bank roster (the county's 县级财政 only, every download
recorded). Batches are named by `?batch=`, not in the path."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Sum
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from heating import access
from heating.access import Action, get_permitted
from heating.http import parse_id, plan_year_of, request_user, xlsx_response
from heating.models import County
from subsidies.funds import fund_lines, tilt
from subsidies.models import Batch, yuan
from subsidies.selectors import policies_for
from subsidies.services import batches as batch_services


@require_GET
@login_required
def policies(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    access.require(user, Action.VIEW)
    plan_year = plan_year_of(request)
    rows = list(policies_for(user, plan_year.year))
    return render(
        request,
        "subsidies/policies.html",
        {
            "plan_year": plan_year,
            "season": plan_year.heating_season(),
            "city": [p for p in rows if p.county_id is None],
            "own": [p for p in rows if p.county_id is not None],
            "can_keep": access.may(user, Action.SUBSIDY_POLICY),
        },
    )


@require_GET
@login_required
def funds(request: HttpRequest) -> HttpResponse:
    """资金: allocated, spent, balance and 预算执行率 per county and source; and the tilt."""
    user = request_user(request)
    access.require(user, Action.VIEW)
    plan_year = plan_year_of(request)
    return render(
        request,
        "subsidies/funds.html",
        {
            "plan_year": plan_year,
            "lines": fund_lines(user, plan_year.year),
            "tilt": tilt(user, plan_year.year),
        },
    )


@require_GET
@login_required
def funds_api(request: HttpRequest) -> JsonResponse:
    user = request_user(request)
    access.require(user, Action.VIEW)
    plan_year = plan_year_of(request)
    return JsonResponse(
        {
            "year": plan_year.year,
            "funds": [line.as_dict() for line in fund_lines(user, plan_year.year)],
        },
        json_dumps_params={"ensure_ascii": False},
    )


@require_GET
@login_required
def batches(request: HttpRequest) -> HttpResponse:
    """发放批次: a county's batches of the year, each with what may be done next."""
    user = request_user(request)
    access.require(user, Action.VIEW)
    plan_year = plan_year_of(request)
    rows = list(
        Batch.objects.visible_to(user)
        .filter(season=plan_year.year)
        .select_related("county")
        .annotate(count=Count("lines"), fen=Sum("lines__amount_fen"))
        .order_by("county__order", "pk")
    )
    for batch in rows:
        batch.total = yuan(batch.fen or 0)  # type: ignore[attr-defined]
        batch.can_prepare = access.may(user, Action.SUBSIDY_BATCH, batch.county_id)  # type: ignore[attr-defined]
        batch.can_pay = access.may(user, Action.SUBSIDY_PAY, batch.county_id)  # type: ignore[attr-defined]
    preparing = access.scope(user, Action.SUBSIDY_BATCH)
    return render(
        request,
        "subsidies/batches.html",
        {
            "plan_year": plan_year,
            "batches": rows,
            "counties": County.objects.filter(preparing.q("pk")).order_by("order")
            if preparing
            else [],
        },
    )


STEPS = ("create", "publicize", "submit", "approve")


@require_POST
@login_required
def batch_step(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    step = request.POST.get("step", "")
    if step not in STEPS:
        raise Http404("没有这个操作。")
    today = timezone.localdate()
    try:
        if step == "create":
            county_id = parse_id(request.POST.get("county"))
            if county_id is None:
                raise Http404("请选择县（市、区）。")
            access.require(user, Action.SUBSIDY_BATCH, county_id)
            county = get_object_or_404(County, pk=county_id)
            year = plan_year_of(request).year
            created = batch_services.batch_create(county=county, season=year)
            messages.success(request, f"已编制批次：{created.lines.count()} 笔。")
            season = year
        else:
            batch = get_permitted(
                Batch.objects.all(), user, Action.VIEW, pk=parse_id(request.POST.get("batch"))
            )
            season = batch.season
            if step == "approve":
                batch_services.batch_approve(batch=batch, user=user)
                messages.success(request, "已审核，报银行。")
            else:
                access.require(user, Action.SUBSIDY_BATCH, batch.county_id)
                if step == "publicize":
                    batch = batch_services.batch_publicize(batch=batch, start=today)
                    messages.success(
                        request, f"公示至 {batch.publicity_end:%Y-%m-%d}（7个工作日）。"
                    )
                else:
                    batch_services.batch_submit(batch=batch, today=today)
                    messages.success(request, "已报县级财政审核。")
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
        season = plan_year_of(request).year
    return redirect(f"{reverse('subsidy-batches')}?{urlencode({'year': season})}")


def _batch_of(request: HttpRequest, action: Action) -> Batch:
    return get_permitted(
        Batch.objects.select_related("county"),
        request_user(request),
        action,
        pk=parse_id(request.GET.get("batch")),
    )


@require_GET
@login_required
def batch_notice(request: HttpRequest) -> HttpResponse:
    """The village lists to print for the 公示: masked ID numbers, no account numbers."""
    batch = _batch_of(request, Action.VIEW)
    return render(
        request,
        "subsidies/notice.html",
        {"batch": batch, "rows": list(batch_services.notice_rows(batch))},
    )


@require_GET
@login_required
def batch_roster(request: HttpRequest) -> HttpResponse:
    """The roster for the bank: the county's 县级财政 only, every download recorded."""
    batch = _batch_of(request, Action.SUBSIDY_PAY)
    try:
        data = batch_services.batch_roster(batch=batch, user=request_user(request))
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
        return redirect(f"{reverse('subsidy-batches')}?{urlencode({'year': batch.season})}")
    return xlsx_response(data, f"一卡通发放花名册-{batch.county.short_name}-{batch.pk}.xlsx")
