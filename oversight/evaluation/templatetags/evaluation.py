from __future__ import annotations

from decimal import Decimal

from django import template

from oversight.evaluation.scoring import plain

register = template.Library()


@register.filter
def figure(value: Decimal | None) -> str:
    """A figure as people write it: thousands apart, no trailing zeros (— for none)."""
    return "—" if value is None else plain(value)
