"""Reading the subsidies: a household's entitlements and clawbacks, a year's policies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Prefetch

from heating import access
from heating.access import Action
from heating.models import PersonalDataAccess, User
from heating.services import personal_access_record
from retrofits.models import Household
from subsidies.models import BankAccount, Clawback, Entitlement, Policy, PolicyQuerySet

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser


def household_subsidies(
    household: Household, *, user: User | AnonymousUser | None, where: str = ""
) -> dict[str, Any]:
    """What the dossier shows: the household is already one the viewer may see (its page
    fetched it through get_permitted), and amounts are no personal data. The 一卡通 account is
    shown in full to the county's 县级财政 only, and that view is recorded like any other
    personal data's; everyone else sees its last four digits, read without decrypting it."""
    account = BankAccount.objects.filter(household=household).first()
    keeps = user is not None and access.may(user, Action.SUBSIDY_PAY, household.county_id)
    full = account is not None and keeps
    if full and isinstance(user, User):
        personal_access_record(
            user=user,
            kind=PersonalDataAccess.Kind.DOSSIER,
            households=1,
            detail=f"一卡通账号 {household.code}（{where}）",
        )
    entitlements = list(
        Entitlement.objects.filter(household=household)
        .select_related("policy")
        .prefetch_related(Prefetch("clawbacks", queryset=Clawback.objects.order_by("created_at")))
        .order_by("-season", "kind", "top_up")
    )
    return {
        "entitlements": entitlements,
        "account": account,
        "account_number": (account.number if full else account.masked) if account else "",
        "household": household,
        "can_correct": keeps,  # the account form: the county's 县级财政
    }


def policies_for(user: User, year: int | None) -> PolicyQuerySet:
    rows = Policy.objects.visible_to(user).select_related("county")
    if year is not None:
        rows = rows.for_year(year)
    return rows
