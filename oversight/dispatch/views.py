"""Dispatch pages: the rounds, the city's view of one round (every county's state, reported
figures beside live ones), and a county's report with its form and the steps of its sign-off."""

from __future__ import annotations

from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, Count, Q, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from heating import access
from heating.access import Action, get_permitted
from heating.forms import add_service_errors
from heating.http import plan_year_or_404, request_user, xlsx_response
from heating.models import County, User
from oversight.dispatch.figures import all_figures, compared, county_figures
from oversight.dispatch.forms import ReportForm, RoundForm, StepForm
from oversight.dispatch.models import CountyReport, DispatchRound, ReportStatus, ReportStep
from oversight.dispatch.services import allowed_steps, report_save, report_step, round_open
from oversight.dispatch.upward import upward_docx, upward_xlsx


@require_http_methods(["GET", "POST"])
@login_required
def rounds(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    access.require(user, Action.VIEW)
    may_open = access.may(user, Action.DISPATCH)
    form = RoundForm(request.POST or None) if may_open else None
    if request.method == "POST":
        access.require(user, Action.DISPATCH)
        assert form is not None
        if form.is_valid():
            try:
                opened = round_open(plan_year=plan_year_or_404(), user=user, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"已发起：{opened}")
                return redirect("dispatch-round", pk=opened.pk)
    # A user of one county sees that county's report in each round; others, the round's view.
    single = access.scope(user, Action.VIEW).single
    mine = (
        {
            r.round_id: r
            for r in CountyReport.objects.filter(county_id=single).select_related("round")
        }
        if single is not None
        else {}
    )
    now = timezone.now()
    accepted = Count("reports", filter=Q(reports__status=ReportStatus.ACCEPTED))
    # Open rounds first (their due time still ahead), then the closed ones, newest first.
    still_open = Case(When(due_at__gt=now, then=Value(0)), default=Value(1))
    listed = [
        (r, mine.get(r.pk), r.accepted)
        for r in DispatchRound.objects.annotate(accepted=accepted, closed=still_open).order_by(
            "closed", "-opened_at", "-pk"
        )[:60]  # two seasons of weeks
    ]
    return render(
        request,
        "dispatch/rounds.html",
        {"rounds": listed, "form": form, "now": now, "sees_all": not mine and bool(listed)},
    )


@transaction.atomic
def _save_and_maybe_submit(
    report: CountyReport, user: User, form: ReportForm, *, submitting: bool
) -> None:
    """The texts saved, and submitted with them when asked: both or neither."""
    saved = report_save(
        report=report, user=user, expected_version=form.expected_version,
        **{name: form.cleaned_data[name] for name in ReportForm.Meta.fields},
    )  # fmt: skip
    if submitting:
        report_step(
            report=saved, user=user, step=ReportStep.Action.SUBMIT, expected_version=saved.version
        )


@require_GET
@login_required
def round_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The city's view: every county's state and figures (those the user sees); a user of one
    county goes to its report."""
    user = request_user(request)
    dispatch_round = get_object_or_404(DispatchRound, pk=pk)
    visible = dispatch_round.reports.visible_to(user)
    single = access.scope(user, Action.VIEW).single
    if single is not None:
        return redirect("dispatch-report", pk=get_object_or_404(visible, county_id=single).pk)
    today = timezone.localdate()
    now = timezone.now()
    plan_year = dispatch_round.plan_year
    reports = list(visible.select_related("county", "submitted_by", "signed_by", "accepted_by"))
    counties = County.objects.filter(pk__in=[r.county_id for r in reports])
    live = all_figures(plan_year, today, counties)
    rows = [(r, r.late(now), compared(r.figures, live[r.county_id])) for r in reports]
    return render(
        request,
        "dispatch/round.html",
        {"round": dispatch_round, "rows": rows, "now": now,
         "headlines": [label for label, *_ in rows[0][2]] if rows else []},
    )  # fmt: skip


@require_http_methods(["GET", "POST"])
@login_required
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    report = get_permitted(
        CountyReport.objects.select_related("round", "county"), user, Action.VIEW, pk=pk
    )
    editable = report.open and access.may(user, Action.REPORT, report.county_id)
    form = ReportForm(request.POST or None, instance=report) if editable else None
    if request.method == "POST":
        access.require(user, Action.REPORT, report.county_id)
        # 报送 is a button of the texts' own form: what was typed is saved and submitted in one
        # step (a separate 报送 form once lost every text typed since the last draft).
        submitting = request.POST.get("then") == "submit"
        if form is not None and form.is_valid():
            try:
                _save_and_maybe_submit(report, user, form, submitting=submitting)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request, "已报送，等待县级审核。" if submitting else "已保存草稿。"
                )
                return redirect("dispatch-report", pk=report.pk)
    today = timezone.localdate()
    live = county_figures(report.county, report.round.plan_year, today)
    return render(
        request,
        "dispatch/report.html",
        {
            "report": report,
            "form": form,
            "figures": report.figures or live,
            "frozen": bool(report.figures),
            "compared": compared(report.figures, live),
            "steps": allowed_steps(report, user),
            "trail": report.steps.select_related("user"),
            "late": report.late(),
            "Step": ReportStep.Action,
        },
    )


@require_POST
@login_required
def report_step_view(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    user = request_user(request)
    report = get_permitted(CountyReport.objects.all(), user, Action.VIEW, pk=pk)
    if step not in ReportStep.Action.values:
        return redirect("dispatch-report", pk=pk)
    form = StepForm(request.POST)
    form.is_valid()
    try:
        report_step(
            report=report,
            user=user,
            step=ReportStep.Action(step),
            reason=form.cleaned_data.get("reason") or "",
            expected_version=form.expected_version,
        )
    except ValidationError as exc:
        for error in exc.messages:
            messages.error(request, error)
    else:
        messages.success(request, f"已{ReportStep.Action(step).label}。")
    return redirect("dispatch-report", pk=pk)


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@require_GET
@login_required
def upward_xlsx_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The round's accepted figures in the task table's printed layout."""
    access.require(request_user(request), Action.DISPATCH)
    dispatch_round = get_object_or_404(DispatchRound, pk=pk)
    return xlsx_response(upward_xlsx(dispatch_round), f"{dispatch_round.title}.xlsx")


@require_GET
@login_required
def upward_docx_view(request: HttpRequest, pk: int) -> HttpResponse:
    access.require(request_user(request), Action.DISPATCH)
    dispatch_round = get_object_or_404(DispatchRound, pk=pk)
    response = HttpResponse(upward_docx(dispatch_round), content_type=DOCX)
    name = quote(f"{dispatch_round.title}.docx")
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{name}"
    return response
