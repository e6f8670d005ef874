"""Reads of acceptance: building energy retrofits accepted against the plan's m² (二(二)); the
households a spot check sends inspectors back to."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Exists, OuterRef, Q, Sum

from acceptance.models import Defect, Inspection, IntegrityFlag, Project, SpotCheckItem
from heating.models import BuildingKind, County, PlanYear
from retrofits.models import Household, HouseholdQuerySet

# A project's kind as the plan's building targets count it.
KINDS = {
    Project.Kind.BUILDING_TOWN: BuildingKind.TOWN,
    Project.Kind.BUILDING_RURAL: BuildingKind.RURAL_ENVELOPE,
}
DEVELOPMENT_ZONE = Project.Unit.DEVELOPMENT_ZONE.label


@dataclass
class BuildingProgress:
    """Accepted m² by unit (a county, or 忻州经济开发区) and kind, beside the city's targets."""

    targets: dict[str, Decimal]  # by BuildingKind
    by_unit: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # unit → kind → m²

    def accepted(self, kind: str) -> Decimal:
        return sum((m2.get(kind, Decimal(0)) for m2 in self.by_unit.values()), Decimal(0))

    def of(self, unit: str) -> dict[str, float]:
        found = self.by_unit.get(unit, {})
        return {kind: float(found.get(kind, 0)) for kind in BuildingKind.values}

    def as_dict(self) -> dict[str, Any]:
        return {
            kind: {
                "label": BuildingKind(kind).label,
                "target": float(self.targets.get(kind, 0)),
                "accepted": float(self.accepted(kind)),
                "accepted_pct": round(100 * float(self.accepted(kind) / self.targets[kind]), 1)
                if self.targets.get(kind)
                else None,
            }
            for kind in BuildingKind.values
        } | {"by_unit": [{"unit": unit, **self.of(unit)} for unit in self.by_unit]}


def building_progress(
    *, plan_year: PlanYear, counties: list[County], as_of: dt.date | None = None
) -> BuildingProgress:
    """Building retrofits accepted within the plan year's calendar (from its plan to the end of
    its evaluation, or to `as_of` if earlier), by unit: each county's own, and 忻州经济开发区's
    (seen by those who see the county it lies in)."""
    targets = dict(plan_year.building_targets.values_list("kind", "area_m2"))
    progress = BuildingProgress(targets=targets)
    accepted = (
        Project.objects.filter(
            county__in=counties,
            kind__in=KINDS,
            accepted_on__gte=plan_year.plan_due,
            accepted_on__lte=min(plan_year.evaluation_due, as_of or plan_year.evaluation_due),
        )
        .values_list("county__short_name", "unit", "kind")
        .annotate(m2=Sum("area_m2"))
        .order_by("county__order", "unit", "kind")
    )
    units: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for county, unit, kind, m2 in accepted:
        name = DEVELOPMENT_ZONE if unit else county
        units[name][KINDS[kind]] = units[name].get(KINDS[kind], Decimal(0)) + (m2 or 0)
    progress.by_unit = dict(units)
    return progress


def _spot_check_due() -> Q:
    """Drawn and not yet visited, or failed at its spot check with defects still open."""
    drawn = SpotCheckItem.objects.open().filter(household=OuterRef("pk"))
    failed = Defect.objects.open().filter(
        household=OuterRef("pk"), inspection__kind=Inspection.Kind.SPOT_CHECK
    )
    return Q(Exists(drawn)) | Q(Exists(failed))


def spot_checks_due(households: HouseholdQuerySet) -> HouseholdQuerySet:
    """The households of `households` an inspector must visit again for a spot check (抽查)."""
    return households.filter(_spot_check_due())


def spot_check_due(household: Household) -> bool:
    return Household.objects.filter(_spot_check_due(), pk=household.pk).exists()


def flagged_households(households: HouseholdQuerySet) -> HouseholdQuerySet:
    """The households of `households` with a visit whose integrity flag the bureau has not yet
    reviewed: their acceptance stands, but its evidence is in doubt (the evaluation's completeness
    score is to count them apart)."""
    open_flags = IntegrityFlag.objects.open().filter(inspection__household=OuterRef("pk"))
    return households.filter(Exists(open_flags))
