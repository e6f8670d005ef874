"""Reads of the plan's core."""

from __future__ import annotations

from heating.breakdown import CELLS, Counts
from heating.models import County, PlanYear, Target


def targets_of_year(*, plan_year: PlanYear) -> dict[County, Counts]:
    """The year's stored cells by county, in the table's order (every county, zeros where none)."""
    counts: dict[County, Counts] = {
        county: dict.fromkeys(CELLS, 0) for county in County.objects.all()
    }
    by_pk = {c.pk: c for c in counts}
    for county_id, path, area, households in Target.objects.filter(plan_year=plan_year).values_list(
        "county_id", "path", "area", "households"
    ):
        counts[by_pk[county_id]][(path, area)] = households
    return counts
