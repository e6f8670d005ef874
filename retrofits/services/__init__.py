"""The one-household service (`household_save`: forms, the admin, acceptance, commands). The only
other writer of households is the ledger engine (retrofits/ledger/: uploads, the CLI, the bulk
paths). Both ask the rules of rules.py the same way."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import transaction

from heating import access
from heating.access import Action
from heating.models import User
from heating.selectors import upload_plan_year
from heating.versions import STALE_HOUSEHOLD, check_version
from retrofits.models import Household
from retrofits.models.households import household_writer
from retrofits.rules import State, Touched, Via, change_problems, lock_counties, plan_breaches
from retrofits.services.conflicts import household_screen
from retrofits.services.rollups import request_rollup

logger = logging.getLogger(__name__)

# Who may write a household each way (a command's writes, with no user, may all).
_ALLOWED = {
    Via.EDIT: Action.EDIT,
    Via.CORRECTION: Action.CORRECT,
    Via.ACCEPTANCE: Action.INSPECT,
}
# What the history says when a write came with no reason of its own.
_DEFAULT_REASON = {Via.CORRECTION: "管理后台修改"}


def household_lock(pk: int, *, also: set[int] | None = None) -> Household:
    """The household, locked for this transaction after its county's lock (and those of `also`):
    every writer takes county locks before row locks, so that none waits for another in a circle."""
    while True:
        county_id = Household.objects.filter(pk=pk).values_list("county_id", flat=True).get()
        lock_counties({county_id} | (also or set()))
        household = Household.objects.select_for_update(no_key=True).get(pk=pk)
        if household.county_id == county_id:
            return household
        # An administrator moved it to another county meanwhile: lock that one instead.


def household_save(
    *,
    household: Household,
    user: User | None,
    reason: str = "",
    via: Via = Via.EDIT,
    dry_run: bool = False,
    expected_version: int | None = None,
) -> Household:
    """Create or change one household: the value, change and plan rules, all or nothing.

    `user=None` is the server's own command. A dry run checks everything, the plan rules after
    the write included, and rolls back. `expected_version` is the version the form showed: a
    household changed since is refused (heating/versions.py). An ID number another county holds
    is answered first, outside the write's transaction, so that its log is kept
    (retrofits/services/conflicts.py)."""
    household_screen(household=household, user=user)
    return _household_save(
        household=household,
        user=user,
        reason=reason,
        via=via,
        dry_run=dry_run,
        expected_version=expected_version,
    )


@transaction.atomic
def _household_save(
    *,
    household: Household,
    user: User | None,
    reason: str,
    via: Via,
    dry_run: bool,
    expected_version: int | None,
) -> Household:
    new = household.pk is None
    old = None if new else household_lock(household.pk, also={household.county_id})
    if old is None:
        lock_counties({household.county_id})
    if user is not None:
        access.require(user, _ALLOWED[via], old.county_id if old else household.county_id)
    if old is not None:
        check_version(old.version, expected_version, STALE_HOUSEHOLD)
    household.version = old.version + 1 if old else 0
    if household.plan_year_id is None:  # a command's new household that names no year
        default = upload_plan_year()
        household.plan_year_id = default.pk if default else None

    errors: dict[str, list[str]] = {}
    try:
        household.full_clean()
    except ValidationError as exc:
        errors = exc.message_dict
    problems = change_problems(
        State.of(old) if old else None, State.of(household), via=via, reason=reason
    )
    for problem in problems:
        errors.setdefault(problem.field, []).append(problem.message)
    if errors:
        raise ValidationError(errors)
    if user is not None:  # the county it moves to, where the rules let it move at all
        access.require(user, _ALLOWED[via], household.county_id)

    if new:
        household.created_by = user
    household.updated_by = user
    household._change_reason = reason.strip() or _DEFAULT_REASON.get(via, "")  # type: ignore[attr-defined]
    kept = False
    try:
        with household_writer():
            household.save()
        touched = Touched(
            counties=frozenset({household.county_id} | ({old.county_id} if old else set())),
            households=Household.objects.filter(pk=household.pk),
        )
        breaches = plan_breaches(touched)
        if breaches:
            refused: dict[str, list[str]] = {}
            for breach in breaches:
                refused.setdefault(breach.field, []).append(breach.message)
            raise ValidationError(refused)
        kept = not dry_run
        if kept:
            transaction.on_commit(request_rollup)
    finally:
        if not kept:
            transaction.set_rollback(True)
            if new:  # a form shows it again as the new household it still is
                household.pk = None
                household._state.adding = True
    return household
