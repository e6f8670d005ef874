"""A household's change record, in words people read (heating/history.py), with ID card and
phone numbers as the reader may see them."""

from __future__ import annotations

from functools import partial

from heating.access import PersonalData
from heating.history import Change, record_changes
from retrofits.models import Household

HIDDEN = {"created_by", "updated_by"}


def household_changes(household: Household, personal: PersonalData) -> list[Change]:
    """Newest first: who created or changed what, and why; ID card and phone numbers before and
    after as `personal` lets them be seen (masked by the household's county)."""
    return record_changes(
        household, hidden=HIDDEN, masked=partial(personal.value, household.county_id)
    )
