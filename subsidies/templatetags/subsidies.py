"""The dossier's 补贴与发放 section: the household page (retrofits) includes it by a tag, so that
retrofits neither imports this app nor passes its records."""

from __future__ import annotations

from typing import Any

from django import template

from subsidies.selectors import household_subsidies as _household_subsidies

register = template.Library()


@register.inclusion_tag("subsidies/_household.html", takes_context=True)
def household_subsidies(context: template.Context, household: Any) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    where = getattr(request, "path", "")
    return _household_subsidies(household, user=user, where=where)
