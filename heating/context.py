"""Template context every page may use."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from heating.models import PlanYear


def plan_years(request: HttpRequest) -> dict[str, Any]:
    """The plan years, for the year switch (_year_switch.html): a lazy query, run only by a page
    that shows the switch."""
    return {"plan_years": PlanYear.objects.order_by("year")}
