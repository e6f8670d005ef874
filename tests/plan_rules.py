"""A throw-away plan rule for the tests: the writers run it like any registered one."""

from __future__ import annotations

import time

from heating.models import County
from retrofits.choices import Stage
from retrofits.models import Household
from retrofits.rules import Breach, PlanRule, Touched


def at_most(stage: Stage, limit: int, *, county: str = "忻府区", pause: float = 0.0) -> PlanRule:
    """At most `limit` households of `county` at `stage` or beyond; a breach blames the touched
    households that count. `pause` holds the check open after counting, as a slow rule would,
    so that two writes at once overlap there."""
    beyond = Stage.values[Stage.rank(stage) :]

    def rule(touched: Touched) -> list[Breach]:
        county_id = County.objects.get(short_name=county).pk
        if county_id not in touched.counties:
            return []
        held = Household.objects.filter(county_id=county_id, stage__in=beyond).count()
        time.sleep(pause)
        if held <= limit:
            return []
        blamed = touched.households.filter(county_id=county_id, stage__in=beyond)
        return [
            Breach(
                "stage",
                f"{county}{stage.label}及以后的户最多 {limit} 户，写入后为 {held} 户",
                county_id=county_id,
                codes=tuple(blamed.values_list("code", flat=True)),
            )
        ]

    return rule
