"""Pages of the plan's core. Every view starts from a queryset scoped to the user."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_GET

from heating import access
from heating.access import Action
from heating.breakdown import COLUMNS, GROUPS, SUBS
from heating.http import plan_year_or_404, request_user, xlsx_response
from heating.models import PlanYear
from heating.resources import TargetBreakdownResource, TaskBreakdownXLSX
from heating.selectors import (
    target_table,
)


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
