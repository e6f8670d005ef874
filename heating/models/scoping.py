"""Who may see which county's rows: one rule, used by every queryset a view starts from."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Self, TypeVar

from django.db import models
from django.db.models import Q

from heating.models.choices import Role

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from heating.models.users import User

_M = TypeVar("_M", bound=models.Model)


def visible_counties_q(user: User | AnonymousUser, lookup: str) -> Q:
    """A filter keeping rows whose `lookup` (a path to a County) the user may see."""
    nothing = Q(pk__in=[])
    if not user.is_authenticated or not user.is_active:
        return nothing
    if user.sees_all_counties:
        return Q()
    if user.role == Role.COUNTY:
        return Q(**{lookup: user.county_id}) if user.county_id else nothing
    if user.role == Role.INSPECTOR:
        return Q(**{f"{lookup}__in": user.counties.values("pk")})
    return nothing


class CountyScopedQuerySet(models.QuerySet[_M]):
    """Base for the querysets of everything that belongs to a county."""

    county_lookup: ClassVar[str] = "county"

    def visible_to(self, user: User | AnonymousUser) -> Self:
        return self.filter(visible_counties_q(user, self.county_lookup))
