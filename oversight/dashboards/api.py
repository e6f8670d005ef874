"""JSON read endpoints."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from energy_supply.selectors import county_energy
from heating.http import parse_id
from heating.models import County, PlanYear, User
from oversight.dashboards.progress import progress_report
from oversight.dashboards.standing import progress_with_standing


def _json(data: dict[str, Any], status: int = 200) -> JsonResponse:
    """JSON with its Chinese as it is, not escaped."""
    return JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})


def _asked(request: HttpRequest) -> tuple[User, PlanYear] | JsonResponse:
    """The logged-in user and the plan year of ?year=, or the JSON error that says why not."""
    if not isinstance(request.user, User) or not request.user.is_active:
        return _json({"error": "请先登录"}, status=401)
    year = request.GET.get("year", "")
    number = parse_id(year)
    plan_year = PlanYear.objects.filter(year=number).first() if number else None
    if plan_year is None:
        return _json({"error": f"没有年度「{year}」的计划，请用 ?year=2023"}, status=404)
    return request.user, plan_year


@require_GET
def progress(request: HttpRequest) -> JsonResponse:
    """Targets and progress by county, path and area type, for the counties the user may see."""
    asked = _asked(request)
    if isinstance(asked, JsonResponse):
        return asked
    user, plan_year = asked
    report = progress_report(plan_year=plan_year, counties=County.objects.visible_to(user))
    return _json(progress_with_standing(report, today=timezone.localdate()))


@require_GET
def energy(request: HttpRequest) -> JsonResponse:
    """The supply figures of the county pages (gas headroom, grid and gas coverage, 通气率,
    reserves against need, heat sources), scoped like /api/progress."""
    asked = _asked(request)
    if isinstance(asked, JsonResponse):
        return asked
    user, plan_year = asked
    counties = county_energy(counties=County.objects.visible_to(user), plan_year=plan_year)
    return _json({"year": plan_year.year, "counties": [c.as_dict() for c in counties]})
