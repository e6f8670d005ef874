"""Pagination that stays fast on a million rows: counting stops at a cap."""

from __future__ import annotations

from functools import cached_property

from django.core.paginator import Paginator
from django.db.models import QuerySet

COUNT_CAP = 5_000


class CappedPaginator(Paginator):
    """Counts at most COUNT_CAP rows (an exact count of a county's 700,000 households costs more than
    the page itself, and a sparse filter would scan the whole table to reach a higher cap); `capped`
    tells the page to say "more than 5,000" and to suggest a filter."""

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        assert isinstance(rows, QuerySet)
        return rows.order_by()[: COUNT_CAP + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > COUNT_CAP
