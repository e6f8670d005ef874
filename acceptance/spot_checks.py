"""Risk-weighted spot checks (抽查), the reads: each accepted household's risk, and a seeded
weighted draw. The draw is recorded by acceptance/services/spot_checks.py.

The draw is weighted sampling without replacement by exponential clocks (Efraimidis–Spirakis):
each household gets the key −ln(u)/weight, with u a number in (0, 1) hashed from the seed and the
household's id alone, and the smallest keys are drawn. So the same seed draws the same sample from
the same population, whatever order the rows come in, and a household's chance grows with its
weight."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Count, Q

from acceptance.models import Inspection, IntegrityFlag
from retrofits.models import HouseholdQuerySet

# Weight added per open flag, per reviewed flag and per failed visit, to the base of 1.
OPEN_FLAG_WEIGHT = 3.0
REVIEWED_FLAG_WEIGHT = 1.0
FAILED_VISIT_WEIGHT = 2.0


@dataclass
class Risk:
    weight: float = 1.0
    reasons: list[str] = field(default_factory=list)

    def add(self, weight: float, reason: str) -> None:
        self.weight += weight
        self.reasons.append(reason)


# Other evidence of risk registers here: a function from the population to each household's
# extra weight and its reason. The hotline's complaint tickets (工单), when there are any, are
# the one the plan has in mind.
RiskSource = Callable[[HouseholdQuerySet], dict[int, tuple[float, str]]]
RISK_SOURCES: list[RiskSource] = []


def household_risks(households: HouseholdQuerySet) -> dict[int, Risk]:
    """Every household of `households`, with its weight and the reasons for it."""
    ids = households.values("pk")
    risks = {pk: Risk() for pk in households.values_list("pk", flat=True)}
    flags = (
        IntegrityFlag.objects.filter(inspection__household__in=ids)
        .values("inspection__household")
        .annotate(
            open=Count("pk", filter=Q(reviewed_at__isnull=True)),
            reviewed=Count("pk", filter=Q(reviewed_at__isnull=False)),
        )
    )
    for row in flags:
        risk = risks[row["inspection__household"]]
        if row["open"]:
            risk.add(OPEN_FLAG_WEIGHT * row["open"], f"{row['open']}条待核实异常提示")
        if row["reviewed"]:
            risk.add(REVIEWED_FLAG_WEIGHT * row["reviewed"], f"{row['reviewed']}条已核实异常提示")
    failed = (
        Inspection.objects.filter(household__in=ids, result=Inspection.Result.FAILED)
        .values("household")
        .annotate(n=Count("pk"))
    )
    for visits in failed:
        n = visits["n"]
        risks[visits["household"]].add(FAILED_VISIT_WEIGHT * n, f"{n}次验收不合格")
    for source in RISK_SOURCES:
        for pk, (weight, reason) in source(households).items():
            if pk in risks and weight:
                risks[pk].add(weight, reason)
    return risks


def _uniform(seed: str, pk: int) -> float:
    """A number in (0, 1) from the seed and the household alone."""
    digest = hashlib.sha256(f"{seed}:{pk}".encode()).digest()
    return (int.from_bytes(digest[:7], "big") + 0.5) / 2**56


def draw(risks: dict[int, Risk], *, seed: str, size: int) -> list[int]:
    """The `size` households drawn, most urgent first."""
    keys = {pk: -math.log(_uniform(seed, pk)) / risk.weight for pk, risk in risks.items()}
    return sorted(keys, key=lambda pk: (keys[pk], pk))[:size]
