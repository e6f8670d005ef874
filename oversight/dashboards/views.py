"""The dashboards: the city's for the municipal bureau, a county's (its one page: targets,
progress, townships, milestones) for everyone who sees the county, a township's villages."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from acceptance.selectors import building_progress
from energy_supply.selectors import county_energy
from energy_supply.selectors import warnings as supply_warnings
from heating import access
from heating.access import Action, get_permitted
from heating.breakdown import GROUPS
from heating.http import plan_year_of, request_user, xlsx_response
from heating.models import BuildingTarget, County, HeatingPath, Township, User
from heating.selectors import milestones, target_table
from oversight.dashboards.export import write_progress
from oversight.dashboards.progress import progress_report
from oversight.dashboards.selectors import (
    awaiting_past_deadline,
    charts,
    next_milestone,
    places,
    townships,
)
from oversight.dashboards.standing import Trend, county_standing


def _single_county(user: User) -> int | None:
    """The one county a user sees, if only one: their pages are that county's."""
    return access.scope(user, Action.VIEW).single


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    single = _single_county(user)
    if single is not None:  # one county's 首页 is its own page: the table would be one bar
        return redirect("county", pk=single)
    plan_year = plan_year_of(request)
    today = timezone.localdate()
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
        "dashboards/home.html",
        {
            "plan_year": plan_year,
            "table": table,
            "milestones": milestones(plan_year=plan_year, county=own_county, today=today),
            "county_deadlines": plan_year.county_deadlines.select_related("county"),
            "building_targets": BuildingTarget.objects.filter(plan_year=plan_year),
            "chart": chart,
            # What needs fixing before the season, for everyone who sees a county.
            "warnings": supply_warnings(
                counties=County.objects.visible_to(user), plan_year=plan_year, today=today
            ),
        },
    )


@require_GET
@login_required
def city(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    counties = County.objects.visible_to(user)
    single = _single_county(user)
    if single is not None:
        return redirect("county", pk=single)
    if not counties.exists():
        raise Http404("没有可查看的县（市、区）")
    plan_year = plan_year_of(request)
    today = timezone.localdate()
    report = progress_report(plan_year=plan_year, counties=counties)
    stages = milestones(plan_year=plan_year, today=today)
    trend = Trend((c.county.pk for c in report.counties), plan_year)
    energy = county_energy(counties=counties, plan_year=plan_year)
    paths = [path for _, path in GROUPS]
    rows = []
    for c in report.counties:
        standing = county_standing(c, plan_year=plan_year, today=today, trend=trend)
        overdue = awaiting_past_deadline(c, plan_year=plan_year, today=today)
        rows.append((c, [c.group(path) for path in paths], standing, overdue, standing.projection))
    return render(
        request,
        "dashboards/city.html",
        {
            "plan_year": plan_year,
            "report": report,
            "rows": rows,
            "groups": [g for g, _ in GROUPS],
            "totals": [report.group(path) for path in paths],
            "next": next_milestone(stages, today),
            "milestones": stages,
            "warnings": supply_warnings(
                counties=counties, plan_year=plan_year, today=today, energy=energy
            ),
            "charts": charts(report, trend=trend, energy={e.county.pk: e for e in energy}),
            "buildings": building_progress(
                plan_year=plan_year, counties=[c.county for c in report.counties]
            ),
        },
    )


@require_GET
@login_required
def county(request: HttpRequest, pk: int) -> HttpResponse:
    county = get_permitted(County.objects.all(), request_user(request), Action.VIEW, pk=pk)
    plan_year = plan_year_of(request)
    today = timezone.localdate()
    only = County.objects.filter(pk=county.pk)
    report = progress_report(plan_year=plan_year, counties=only)
    energy = county_energy(counties=only, plan_year=plan_year)
    progress = report.counties[0]
    stages = milestones(plan_year=plan_year, county=county, today=today)
    trend = Trend([county.pk], plan_year)
    standing = county_standing(progress, plan_year=plan_year, today=today, trend=trend)
    return render(
        request,
        "dashboards/county.html",
        {
            "plan_year": plan_year,
            "county": county,
            "report": report,
            "progress": progress,
            "standing": standing,
            "building_m2": building_progress(plan_year=plan_year, counties=[county]).of(
                county.short_name
            ),
            # 煤改电 on other equipment than air-source heat pumps (四.2), as the count found it.
            "electric_other": (
                report.run.electric_other.get(str(county.pk)) if report.run else None
            )
            or [0, 0],
            "status": standing.status,
            "projection": standing.projection,
            "overdue_acceptance": awaiting_past_deadline(
                progress, plan_year=plan_year, today=today
            ),
            "acceptance_due": plan_year.acceptance_due_for(county),
            "townships": townships(county=county, plan_year=plan_year),
            "energy": energy[0],
            "warnings": supply_warnings(
                counties=only, plan_year=plan_year, today=today, energy=energy
            ),
            "next": next_milestone(stages, today),
            "milestones": stages,
            "charts": charts(report, trend=trend),
        },
    )


@require_GET
@login_required
def township(request: HttpRequest, pk: int) -> HttpResponse:
    township = get_permitted(
        Township.objects.select_related("county"), request_user(request), Action.VIEW, pk=pk
    )
    plan_year = plan_year_of(request)
    return render(
        request,
        "dashboards/township.html",
        {
            "township": township,
            "plan_year": plan_year,
            "places": places(township=township, plan_year=plan_year),
        },
    )


@require_GET
@login_required
def progress_export(request: HttpRequest) -> HttpResponse:
    plan_year = plan_year_of(request)
    report = progress_report(
        plan_year=plan_year, counties=County.objects.visible_to(request_user(request))
    )
    return xlsx_response(write_progress(report), f"忻州市{plan_year.year}年清洁取暖改造进度表.xlsx")
