"""Pages of the plan's core. Every view starts from a queryset scoped to the user."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_GET

from heating import access
from heating.access import Action
from heating.breakdown import COLUMNS, GROUPS, SUBS
from heating.http import plan_year_or_404, request_user, xlsx_response
from heating.models import ExportJob, PersonalDataAccess, PlanYear
from heating.resources import TargetBreakdownResource, TaskBreakdownXLSX
from heating.selectors import (
    target_table,
)
from heating.services import personal_access_record


class PortalLoginView(LoginView):
    def get_default_redirect_url(self) -> str:
        """Those who inspect land on their worklist (验收工作), everyone else on the progress
        overview; a ?next= the login was asked for wins, as Django's does."""
        if access.may(self.request.user, Action.INSPECT):
            return reverse("worklist")
        return super().get_default_redirect_url()


@require_GET
@login_required
def targets(request: HttpRequest, year: int | None = None) -> HttpResponse:
    plan_year = plan_year_or_404(year)
    return render(
        request,
        "heating/targets.html",
        {
            "plan_year": plan_year,
            "plan_years": PlanYear.objects.all(),
            "table": target_table(user=request_user(request), plan_year=plan_year),
            "groups": [g for g, _ in GROUPS],
            "subs": [s for s, _ in SUBS] * len(GROUPS),
            "columns": COLUMNS,
        },
    )


@require_GET
@login_required
def targets_export(request: HttpRequest, year: int) -> HttpResponse:
    if not request_user(request).manages_plan:
        raise PermissionDenied("只有市级用户可以下载全市任务分解表")
    plan_year = plan_year_or_404(year)
    dataset = TargetBreakdownResource(plan_year=plan_year).export()
    return xlsx_response(
        TaskBreakdownXLSX().export_data(dataset),
        f"忻州市{plan_year.year}年清洁取暖改造任务分解表.xlsx",
    )


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico before they read the page's icon link."""
    return redirect(static("favicon.svg"), permanent=True)


def _own_export(request: HttpRequest, pk: int) -> ExportJob:
    """A file is for the user who asked for it alone: anyone else's is a 404."""
    return get_object_or_404(ExportJob, pk=pk, created_by=request_user(request))


@require_GET
@login_required
def export_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The job's page: a progress bar that the page polls (htmx) until the link to the file."""
    job = _own_export(request, pk)
    template = (
        "heating/_export_status.html"
        if request.headers.get("HX-Request")
        else "heating/export.html"
    )
    return render(request, template, {"job": job})


@require_GET
@login_required
def export_download(request: HttpRequest, pk: int) -> FileResponse:
    job = _own_export(request, pk)
    if job.status != ExportJob.Status.DONE or not job.file:
        raise Http404("文件尚未生成或已过期，请重新导出")
    personal_access_record(
        user=request_user(request),
        kind=PersonalDataAccess.Kind.EXPORT,
        households=job.personal_households,
        detail=f"{job.title}（{request.path}）",
    )
    response = FileResponse(job.file.open("rb"), as_attachment=True, filename=job.file_name)
    response["Cache-Control"] = "no-store"
    return response
