"""Pages of the plan's core. Every view starts from a queryset scoped to the user."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from heating.breakdown import COLUMNS, GROUPS, SUBS
from heating.http import plan_year_or_404, request_user, xlsx_response
from heating.models import BuildingTarget, HeatingPath, PlanYear
from heating.resources import TargetBreakdownResource, TaskBreakdownXLSX
from heating.selectors import (
    milestones,
    target_table,
)


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    plan_year = plan_year_or_404()
    table = target_table(user=user, plan_year=plan_year)
    own_county = user.county if user.county_id else None
    chart = {
        "counties": [r.label for r in table.rows],
        "series": [
            {"name": label, "data": [r.by_path[i] for r in table.rows]}
            for i, label in enumerate(HeatingPath.labels)
        ],
    }
    return render(
        request,
        "heating/home.html",
        {
            "plan_year": plan_year,
            "table": table,
            "milestones": milestones(
                plan_year=plan_year, county=own_county, today=timezone.localdate()
            ),
            "county_deadlines": plan_year.county_deadlines.select_related("county"),
            "building_targets": BuildingTarget.objects.filter(plan_year=plan_year),
            "chart": chart,
        },
    )


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
