"""Ticket pages: the list (each user's counties only), a ticket with the steps its viewer may take,
the form for a new one, the 12345 import, the monthly figures and /api/tickets."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from aftercare import services
from aftercare.forms import (
    CallbackForm,
    CloseForm,
    ReasonForm,
    ReassignForm,
    TicketFilterForm,
    TicketForm,
    UploadForm,
)
from aftercare.limits import ACCEPT_LIMIT, LIMITS, RETURN_LIMIT, clock
from aftercare.models import Category, State, Ticket, TicketStep
from aftercare.selectors import frequent, kpis, standing_filter
from aftercare.services.imports import tickets_import
from aftercare.sheets import TEMPLATE, template_file
from heating import access
from heating.access import Action, PersonalData, get_permitted
from heating.http import page_query, parse_id, request_user, xlsx_response
from heating.models import County, PlanYear
from heating.selectors import current_plan_year
from heating.sheets import SheetFileError

PAGE_SIZE = 50


@require_GET
@login_required
def ticket_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    form = TicketFilterForm(request.GET or None, user=user)
    tickets: QuerySet[Ticket] = Ticket.objects.visible_to(user).select_related(
        "county", "household", "village"
    )
    if form.is_valid():
        f = form.cleaned_data
        for name in ("state", "category", "channel", "county", "household"):
            if f.get(name):
                tickets = tickets.filter(**{name: f[name]})
        if f.get("escalated"):
            tickets = tickets.filter(escalated_at__isnull=False)
        if f.get("q"):
            q = f["q"].strip()
            number = parse_id(q.removeprefix("GD"))
            tickets = tickets.filter(Q(hotline_number=q) | Q(pk=number or 0))
        if f.get("standing"):
            tickets = standing_filter(tickets, f["standing"], timezone.now())
    elif request.GET:
        messages.error(
            request,
            "筛选条件有误：" + "；".join(str(e) for errors in form.errors.values() for e in errors),
        )
        tickets = tickets.none()
    page = Paginator(tickets.order_by("-received_at", "-pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    now = timezone.now()
    return render(
        request,
        "aftercare/ticket_list.html",
        {
            "form": form,
            "page": page,
            "rows": [(t, clock(t, now)) for t in page],
            "query": page_query(request),
            "may_create": access.may(user, Action.SUPERVISE) or access.may(user, Action.TICKETS),
            "frequent": frequent(Ticket.objects.visible_to(user))[:20],
        },
    )


def _actions(ticket: Ticket, user: Any) -> dict[str, bool]:
    handles = access.may(user, Action.TICKETS, ticket.county_id)
    supervises = access.may(user, Action.SUPERVISE, ticket.county_id)
    now = timezone.now()
    return {
        "accept": handles and ticket.state == State.PENDING,
        "close": handles and ticket.state == State.HANDLING,
        "extend": handles and ticket.state == State.HANDLING and ticket.extended_at is None
        and now <= ticket.close_due,
        "return": handles and ticket.state in (State.PENDING, State.HANDLING)
        and now <= services.return_due(ticket),
        "reassign": supervises and ticket.state == State.RETURNED,
        "callback": supervises and ticket.state == State.CLOSED,
    }  # fmt: skip


@require_GET
@login_required
def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    ticket = get_permitted(
        Ticket.objects.select_related("county", "household", "village__township"),
        user, Action.VIEW, pk=pk,
    )  # fmt: skip
    may = _actions(ticket, user)
    return render(
        request,
        "aftercare/ticket_detail.html",
        {
            "t": ticket,
            "clock": clock(ticket),
            "phone": PersonalData(user).value(ticket.county_id, "phone", ticket.caller_phone),
            "steps": TicketStep.objects.filter(ticket=ticket).select_related("user"),
            "may": may,
            "return_due": services.return_due(ticket),
            "limit": LIMITS[ticket.category],
            "reassign_form": ReassignForm(user=user, initial={"county": ticket.county_id})
            if may["reassign"]
            else None,
            "callback_form": CallbackForm() if may["callback"] else None,
        },
    )


@require_POST
@login_required
def ticket_action(request: HttpRequest, pk: int) -> HttpResponse:
    """One step on a ticket: `step` says which; the service decides whether it may be taken."""
    user = request_user(request)
    ticket = get_permitted(Ticket.objects.all(), user, Action.VIEW, pk=pk)
    step = request.POST.get("step", "")
    done = {
        "accept": "已签收。", "close": "已办结。", "extend": "已延期。", "return": "已退回市能源局。",
        "reassign": "已重新派单。", "callback": "已记录回访结果。",
    }  # fmt: skip
    try:
        if step == "accept":
            services.ticket_accept(ticket=ticket, user=user)
        elif step in ("extend", "return"):
            reason = ReasonForm(request.POST)
            if not reason.is_valid():
                raise ValidationError({"reason": "请填写理由（500字以内）"})
            taking = services.ticket_extend if step == "extend" else services.ticket_return
            taking(ticket=ticket, user=user, reason=reason.cleaned_data["reason"])
        elif step == "close":
            close = CloseForm(request.POST)
            if not close.is_valid():
                raise ValidationError({"resolution": "请填写办理结果（2000字以内）"})
            services.ticket_close(
                ticket=ticket, user=user, resolution=close.cleaned_data["resolution"]
            )
        elif step == "reassign":
            access.require(user, Action.SUPERVISE, ticket.county_id)
            place = ReassignForm(request.POST, user=user)
            if not place.is_valid():
                raise ValidationError([e for errors in place.errors.values() for e in errors])
            services.ticket_reassign(
                ticket=ticket, user=user, county=place.cleaned_data["county"],
                household=place.cleaned_data["household"], village=place.cleaned_data["village"],
            )  # fmt: skip
        elif step == "callback":
            callback = CallbackForm(request.POST)
            if not callback.is_valid():
                raise ValidationError({"satisfaction": "请选择回访结果"})
            services.ticket_callback(
                ticket=ticket, user=user, satisfaction=callback.cleaned_data["satisfaction"],
                note=callback.cleaned_data["note"],
            )  # fmt: skip
        else:
            return HttpResponse(
                "未知的操作。", status=400, content_type="text/plain; charset=utf-8"
            )
    except ValidationError as exc:
        for error in exc.messages:
            messages.error(request, error)
    else:
        messages.success(request, done[step])
    if not Ticket.objects.visible_to(user).filter(pk=ticket.pk).exists():
        return redirect("ticket-list")  # reassigned to a county out of the user's sight
    return redirect("ticket-detail", pk=ticket.pk)


@require_http_methods(["GET", "POST"])
@login_required
def ticket_create(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if not (access.may(user, Action.SUPERVISE) or access.may(user, Action.TICKETS)):
        raise PermissionDenied(access.REFUSALS[Action.TICKETS])
    form = TicketForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            ticket = services.ticket_create(
                data=services.TicketInput(
                    channel=d["channel"], category=d["category"], county=d["county"],
                    content=d["content"], received_at=d["received_at"], household=d["household"],
                    village=d["village"], hotline_number=d["hotline_number"],
                    caller_name=d["caller_name"], caller_phone=d["caller_phone"],
                ),
                user=user,
            )  # fmt: skip
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(name if name in form.fields else None, error)
        else:
            messages.success(
                request, f"已登记工单{ticket.number}，派至{ticket.county.short_name}。"
            )
            return redirect("ticket-detail", pk=ticket.pk)
    return render(request, "aftercare/ticket_form.html", {"form": form})


@require_http_methods(["GET", "POST"])
@login_required
def ticket_import(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if not (access.may(user, Action.SUPERVISE) or access.may(user, Action.TICKETS)):
        raise PermissionDenied(access.REFUSALS[Action.TICKETS])
    form = UploadForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            result = tickets_import(data=upload.read(), name=upload.name, user=user)
        except SheetFileError as exc:
            form.add_error("file", str(exc))
    return render(request, "aftercare/ticket_import.html", {"form": form, "result": result})


@require_GET
@login_required
def ticket_template(request: HttpRequest) -> HttpResponse:
    return xlsx_response(template_file(), f"{TEMPLATE}导入模板.xlsx")


def _year(request: HttpRequest) -> PlanYear | None:
    number = parse_id(request.GET.get("year", ""))
    if "year" in request.GET:
        return PlanYear.objects.filter(year=number).first() if number else None
    return current_plan_year() or PlanYear.objects.order_by("-year").first()


@require_GET
@login_required
def ticket_kpis(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    plan_year = _year(request)
    if plan_year is None:
        return HttpResponse(
            "没有该年度的计划。", status=404, content_type="text/plain; charset=utf-8"
        )
    figures = kpis(counties=County.objects.visible_to(user).order_by("pk"), year=plan_year.year)
    return render(
        request,
        "aftercare/ticket_kpis.html",
        {
            "plan_year": plan_year,
            "figures": figures,
            "years": PlanYear.objects.order_by("year").values_list("year", flat=True),
            "limits": [(Category(c).label, limit) for c, limit in LIMITS.items()],
            "accept_limit": ACCEPT_LIMIT,
            "return_limit": RETURN_LIMIT,
        },
    )


@require_GET
def api_tickets(request: HttpRequest) -> JsonResponse:
    """The monthly figures per county, scoped like /api/progress (logged in; the user's counties)."""

    def answer(data: dict[str, Any], status: int = 200) -> JsonResponse:
        return JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})

    if not request.user.is_authenticated or not request.user.is_active:
        return answer({"error": "请先登录"}, status=401)
    user = request_user(request)
    year = request.GET.get("year", "")
    number = parse_id(year)
    plan_year = PlanYear.objects.filter(year=number).first() if number else None
    if plan_year is None:
        return answer({"error": f"没有年度「{year}」的计划，请用 ?year=2023"}, status=404)
    figures = kpis(counties=County.objects.visible_to(user).order_by("pk"), year=plan_year.year)
    return answer(
        {
            "year": plan_year.year,
            "as_of": timezone.localtime().isoformat(),
            "months": [m.as_dict() for m in figures.months],
            "counties": [t.as_dict() for t in figures.totals.values()],
        }
    )
