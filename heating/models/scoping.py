"""Which county's rows a user may see or act on: the access policy (heating/access.py) as the
filter every county-owned queryset a view starts from applies."""

from __future__ import annotations

import functools
import operator
from typing import TYPE_CHECKING, ClassVar, Self, TypeVar

from django.db import models

from heating.access import Action, scope

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from heating.models.users import User

_M = TypeVar("_M", bound=models.Model)


class CountyScopedQuerySet(models.QuerySet[_M]):
    """Base for the querysets of everything that belongs to a county."""

    # The paths to the row's County; a row belongs where any of them leads (a visit is of a
    # household or of a project).
    county_lookups: ClassVar[tuple[str, ...]] = ("county",)

    def permitted(self, user: User | AnonymousUser, action: Action) -> Self:
        """The rows of the counties where the user may take `action`."""
        allowed = scope(user, action)
        if not allowed:
            return self.none()
        return self.filter(functools.reduce(operator.or_, map(allowed.q, self.county_lookups)))

    def visible_to(self, user: User | AnonymousUser) -> Self:
        return self.permitted(user, Action.VIEW)
