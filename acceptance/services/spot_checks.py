"""Spot checks (抽查): the bureau draws accepted households for a second visit, weighted by risk
(acceptance/spot_checks.py); the draw is kept with its seed. The second visits are recorded by
`inspection_record` with kind SPOT_CHECK."""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from acceptance.models import SpotCheck, SpotCheckItem
from acceptance.spot_checks import draw, household_risks
from heating import access
from heating.access import REFUSALS, Action
from heating.models import County, PlanYear, User
from retrofits.choices import Stage
from retrofits.models import Household

MAX_SPOT_CHECK = 500  # households in one draw: a season's second visits, not a census


@transaction.atomic
def spot_check_draw(
    *,
    user: User,
    size: int,
    seed: str = "",
    county: County | None = None,
    plan_year: PlanYear | None = None,
) -> SpotCheck:
    """Draw `size` accepted households of `county` (None: of the city) and of `plan_year` (their
    任务年度; None: of every year) with `seed` (a new one when blank), each with its weight and
    reasons, and keep the draw."""
    if county is not None:
        access.require(user, Action.REVIEW, county.pk)
    elif not access.scope(user, Action.REVIEW).everything:
        raise PermissionDenied(REFUSALS[Action.REVIEW])
    if not 1 <= size <= MAX_SPOT_CHECK:
        raise ValidationError({"size": f"抽取户数应在1至{MAX_SPOT_CHECK}之间"})
    seed = seed.strip() or str(secrets.randbelow(10**8))
    population = Household.objects.permitted(user, Action.REVIEW).filter(stage=Stage.ACCEPTED)
    if county is not None:
        population = population.in_county(county)
    if plan_year is not None:
        population = population.filter(plan_year=plan_year)
    risks = household_risks(population)
    if not risks:
        raise ValidationError({"county": "所选范围内没有已验收的户可供抽查"})
    chosen = draw(risks, seed=seed, size=size)
    spot_check = SpotCheck(
        county=county,
        plan_year=plan_year,
        seed=seed,
        size=len(chosen),
        population=len(risks),
        created_by=user,
    )
    spot_check.full_clean()
    spot_check.save()
    items = [
        SpotCheckItem(
            spot_check=spot_check,
            household_id=pk,
            rank=rank,
            weight=Decimal(f"{risks[pk].weight:.2f}"),
            reasons="、".join(risks[pk].reasons)[:200],
        )
        for rank, pk in enumerate(chosen, start=1)
    ]
    for item in items:
        item.full_clean(exclude=["spot_check", "household"])
    SpotCheckItem.objects.bulk_create(items)
    return spot_check
