"""回头看 pages: the samples and the draw, one sample's households, one household's record (the
inspector's) and its fixing (the county's), the photo (to those who may see the household)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from aftercare.forms import LookBackDrawForm, LookBackFixForm, LookBackRecordForm
from aftercare.models import LookBack, LookBackItem
from aftercare.seasons import season_of
from aftercare.selectors import relapse_rates
from aftercare.services.lookbacks import Finding, lookback_draw, lookback_fix, lookback_record
from heating import access
from heating.access import Action, get_permitted
from heating.http import parse_id, request_user

PAGE_SIZE = 100


def _may_draw(user: Any) -> bool:
    return access.may(user, Action.SUPERVISE) or access.may(user, Action.TICKETS)


def _errors(form: Any, exc: ValidationError) -> None:
    for name, errors in exc.message_dict.items():
        for error in errors:
            form.add_error(name if name in form.fields else None, error)


@require_http_methods(["GET", "POST"])
@login_required
def lookback_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    last = season_of(timezone.localdate()) - 1
    season = parse_id(request.GET.get("season")) or last
    form = None
    if _may_draw(user):
        form = LookBackDrawForm(request.POST or None, user=user, initial={"season": last})
    elif request.method == "POST":
        raise PermissionDenied("只有市级用户和县级用户可以抽取回头看。")
    if request.method == "POST" and form is not None and form.is_valid():
        d = form.cleaned_data
        try:
            lookback = lookback_draw(
                user=user, season=d["season"], seed=d["seed"], county=d["county"],
                villages_per_township=d["villages_per_township"],
                households_per_village=d["households_per_village"],
            )  # fmt: skip
        except ValidationError as exc:
            _errors(form, exc)
        else:
            messages.success(request, f"已抽取 {lookback.size} 户（种子 {lookback.seed}）。")
            return redirect("lookback-detail", pk=lookback.pk)
    return render(
        request,
        "aftercare/lookback_list.html",
        {
            "lookbacks": LookBack.objects.visible_to(user).select_related("county")[:50],
            "form": form,
            "season": season,
            "relapse": relapse_rates(items=LookBackItem.objects.visible_to(user), season=season),
        },
    )


@require_GET
@login_required
def lookback_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    lookback = get_permitted(LookBack.objects.select_related("county"), user, Action.VIEW, pk=pk)
    items = (
        LookBackItem.objects.visible_to(user)
        .filter(lookback=lookback)
        .select_related("household__county", "household__township", "household__village")
    )
    page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "aftercare/lookback_detail.html",
        {
            "lookback": lookback,
            "page": page,
            "relapse": relapse_rates(items=items, season=lookback.season),
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
def lookback_item(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    item = get_permitted(
        LookBackItem.objects.select_related("lookback", "household__village"),
        user, Action.VIEW, pk=pk,
    )  # fmt: skip
    county_id = item.household.county_id
    may_record = item.visited_at is None and access.may(user, Action.INSPECT, county_id)
    may_fix = (
        bool(item.problems)
        and item.fixed_at is None
        and access.may(user, Action.TICKETS, county_id)
    )
    record = LookBackRecordForm(prefix="record") if may_record else None
    fix = LookBackFixForm(prefix="fix") if may_fix else None
    if request.method == "POST":
        step = request.POST.get("step")
        if step == "record":
            access.require(user, Action.INSPECT, county_id)
            record = LookBackRecordForm(request.POST, request.FILES, prefix="record")
            if record.is_valid():
                d = record.cleaned_data
                try:
                    lookback_record(
                        item=item, user=user,
                        finding=Finding(
                            equipment_in_use=d["equipment_in_use"], coal_relapse=d["coal_relapse"],
                            indoor_temp=d["indoor_temp"], satisfaction=d["satisfaction"],
                            problems=d["problems"], fix_by=d["fix_by"], photo=d["photo"],
                        ),
                    )  # fmt: skip
                except ValidationError as exc:
                    _errors(record, exc)
                else:
                    messages.success(request, "已记录回头看结果。")
                    return redirect("lookback-item", pk=item.pk)
        elif step == "fix":
            access.require(user, Action.TICKETS, county_id)
            fix = LookBackFixForm(request.POST, prefix="fix")
            if fix.is_valid():
                try:
                    lookback_fix(item=item, user=user, note=fix.cleaned_data["note"])
                except ValidationError as exc:
                    _errors(fix, exc)
                else:
                    messages.success(request, "已记录整改完成。")
                    return redirect("lookback-item", pk=item.pk)
        else:
            return HttpResponse(
                "未知的操作。", status=400, content_type="text/plain; charset=utf-8"
            )
    return render(
        request, "aftercare/lookback_item.html", {"item": item, "record": record, "fix": fix}
    )


@require_GET
@login_required
def lookback_photo(request: HttpRequest, pk: int) -> FileResponse:
    """The evidence of a relapse is personal: served only to those who may see the household."""
    item = get_permitted(LookBackItem.objects.all(), request_user(request), Action.VIEW, pk=pk)
    if not item.photo:
        raise Http404("没有照片")
    return FileResponse(item.photo.open("rb"))
