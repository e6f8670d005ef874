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
    # Whether a lookup goes through a many-to-many relation (the counties a heat source serves),
    # where a row of several permitted counties would come back once for each.
    through_many: ClassVar[bool] = False

    def permitted(self, user: User | AnonymousUser, action: Action) -> Self:
        """The rows of the counties where the user may take `action`."""
        allowed = scope(user, action)
        if not allowed:
            return self.none()
        if allowed.everything:
            return self.all()
        condition = functools.reduce(operator.or_, map(allowed.q, self.county_lookups))
        if self.through_many:
            return self.filter(pk__in=self.model._default_manager.filter(condition).values("pk"))
        return self.filter(condition)

    def visible_to(self, user: User | AnonymousUser) -> Self:
        return self.permitted(user, Action.VIEW)
