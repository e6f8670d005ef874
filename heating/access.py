"""The access policy: what each role may do, and in which counties. Decided here once.

Every county-owned queryset filters by it (`CountyScopedQuerySet.visible_to` / `.permitted`), every
view fetches through `get_permitted` (404 for what the user may not see, 403 with the Chinese reason
for what the role may not do), and every place that shows an ID card or phone number (pages, change
records, exports, errors, the admin) shows it through `PersonalData`, which asks
`scope(user, Action.PERSONAL)`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from heating.models.choices import Role

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from heating.models.users import User

_M = TypeVar("_M", bound=models.Model)


class Action(enum.StrEnum):
    VIEW = "view"  # see a county's rows, with personal data masked
    PERSONAL = "personal"  # see full ID card and phone numbers
    CONTACT = "contact"  # call the households awaiting one's visit: their phone numbers in full
    EDIT = "edit"  # keep a county's ledger: household forms, the removal of old heating
    IMPORT = "import"  # upload a county's ledger
    INSPECT = "inspect"  # record acceptance visits
    SUPPLY = "supply"  # keep a county's supply records: gas contracts, grid and gas works, reserves
    CORRECT = "correct"  # correct what no county may change, such as a household's county
    MANAGE_PLAN = "manage_plan"  # targets, the tender list, reference lists, projects
    REPORT = "report"  # draft and submit a county's dispatch report
    SIGN = "sign"  # sign off a county's report (or send it back to its drafter)
    DISPATCH = "dispatch"  # open dispatch rounds; accept reports or return them
    ACCOUNTS = "accounts"  # create user accounts, set their roles, deactivate them
    REVIEW = "review"  # review (核实) visits' integrity flags; draw spot checks (抽查)
    TICKETS = "tickets"  # handle a county's tickets (工单): sign for, close, extend, return them
    SUPERVISE = "supervise"  # assign tickets and reassign returned ones, call back, hear of 督办
    SUBSIDY_POLICY = "subsidy_policy"  # keep subsidy policies (补贴标准) and import meter data
    SUBSIDY_PAY = "subsidy_pay"  # approve a county's subsidy batches and pay them (县级财政)
    SUBSIDY_BATCH = "subsidy_batch"  # draw up a county's subsidy batches and publish them (公示)
    CONFLICTS = "conflicts"  # resolve an ID number registered by two counties (身份证号冲突)
    EVALUATE = "evaluate"  # keep the 绩效自评 indicators and make the evaluation pack (五(四))


class Reach(enum.Enum):
    ALL = "all"  # every county
    OWN = "own"  # the county official's own county (User.county)
    ASSIGNED = "assigned"  # the inspector's counties (User.counties)


POLICY: dict[Role, dict[Action, Reach]] = {
    # The bureau coordinates supply with the gas companies and the power company (七(四)).
    Role.MUNICIPAL: {
        Action.VIEW: Reach.ALL,
        Action.SUPPLY: Reach.ALL,
        Action.MANAGE_PLAN: Reach.ALL,
        Action.DISPATCH: Reach.ALL,
        Action.REVIEW: Reach.ALL,
        Action.SUBSIDY_POLICY: Reach.ALL,  # the city's defaults, and any county's (三(六))
        Action.SUPERVISE: Reach.ALL,  # tickets (工单): assigns, reassigns, calls back (七(五))
        Action.CONFLICTS: Reach.ALL,  # ID numbers two counties registered: both households
        Action.EVALUATE: Reach.ALL,  # the city's self-evaluation: the whole city's figures
    },
    Role.COUNTY: {
        Action.VIEW: Reach.OWN,
        Action.PERSONAL: Reach.OWN,
        Action.EDIT: Reach.OWN,
        Action.IMPORT: Reach.OWN,
        Action.SUPPLY: Reach.OWN,
        Action.REPORT: Reach.OWN,
        Action.SUBSIDY_POLICY: Reach.OWN,  # its own amounts, which replace the city's default
        Action.SUBSIDY_BATCH: Reach.OWN,  # its payment batches and their 公示
        Action.TICKETS: Reach.OWN,  # handles its county's tickets (工单)
    },
    # Signs off what the county reports, and sees its figures (masked), nothing else.
    Role.APPROVER: {Action.VIEW: Reach.OWN, Action.SIGN: Reach.OWN},
    # The county's finance bureau pays the subsidies; it keeps no ledger and no policy.
    Role.FINANCE: {Action.VIEW: Reach.OWN, Action.SUBSIDY_PAY: Reach.OWN},
    # Inspectors accept households of their counties; nobody accepts their own county's work.
    # and call the households on their worklist to arrange a visit.
    Role.INSPECTOR: {
        Action.VIEW: Reach.ASSIGNED,
        Action.INSPECT: Reach.ASSIGNED,
        Action.CONTACT: Reach.ASSIGNED,
    },
    Role.ADMIN: {
        Action.VIEW: Reach.ALL,
        Action.PERSONAL: Reach.ALL,
        Action.EDIT: Reach.ALL,
        Action.IMPORT: Reach.ALL,
        Action.SUPPLY: Reach.ALL,
        Action.CORRECT: Reach.ALL,
        Action.MANAGE_PLAN: Reach.ALL,
        Action.REPORT: Reach.ALL,
        Action.SIGN: Reach.ALL,
        Action.DISPATCH: Reach.ALL,
        Action.ACCOUNTS: Reach.ALL,
        Action.REVIEW: Reach.ALL,
        Action.SUBSIDY_POLICY: Reach.ALL,
        Action.SUBSIDY_PAY: Reach.ALL,
        Action.SUBSIDY_BATCH: Reach.ALL,
        Action.TICKETS: Reach.ALL,
        Action.SUPERVISE: Reach.ALL,
        Action.CONFLICTS: Reach.ALL,
        Action.EVALUATE: Reach.ALL,
    },
}

# What a 403 says when the role may not do the action at all.
REFUSALS: dict[Action, str] = {
    Action.VIEW: "无权查看该县（市、区）的数据。",
    Action.PERSONAL: "只有本县的县级用户和系统管理员可以查看完整的身份证号和电话。",
    Action.CONTACT: "只有负责该县（市、区）的验收人员可以查看待验收户的联系电话。",
    Action.EDIT: "只有本县的县级用户和系统管理员可以修改该县台账；市级用户和验收人员只能查看。",
    Action.IMPORT: "只有县级用户（本县）和系统管理员可以导入台账。",
    Action.INSPECT: "只有负责该县（市、区）的验收人员可以验收。",
    Action.SUPPLY: "只有本县的县级用户、市级用户和系统管理员可以维护能源保障台账。",
    Action.CORRECT: "只有系统管理员可以更正户所属的县（市、区）。",
    Action.MANAGE_PLAN: "只有市级用户和系统管理员可以管理计划和基础数据。",
    Action.REPORT: "只有本县的县级用户可以填写和报送本县的调度报告。",
    Action.SIGN: "只有本县的县级审核人可以审核本县的调度报告。",
    Action.DISPATCH: "只有市级用户可以发起调度、确认或退回县级报告。",
    Action.ACCOUNTS: "只有系统管理员可以管理用户账号。",
    Action.REVIEW: "只有市级用户可以核实验收异常提示和组织抽查。",
    Action.TICKETS: "只有本县的县级用户可以签收、办理和退回本县的工单。",
    Action.SUPERVISE: "只有市级用户可以派单、重新派单和回访工单。",
    Action.SUBSIDY_POLICY: "只有市级用户（全市）和县级用户（本县）可以维护补贴标准和用能计量数据。",
    Action.SUBSIDY_PAY: "只有本县的县级财政用户可以审核和发放补贴。",
    Action.SUBSIDY_BATCH: "只有本县的县级用户可以编制补贴发放批次和组织公示。",
    Action.CONFLICTS: "只有市级用户可以核实和处理身份证号冲突。",
    Action.EVALUATE: "只有市级用户可以维护绩效自评指标和生成自评材料。",
}

# The admin site is for those who keep the plan and reference lists, correct records or manage
# accounts; everyone else works in the portal.
ADMIN_SITE_ACTIONS = (Action.MANAGE_PLAN, Action.CORRECT, Action.ACCOUNTS)


@dataclass(frozen=True)
class Scope:
    """The counties where a user may take one action: every county, or these."""

    everything: bool = False
    ids: frozenset[int] = frozenset()

    def __contains__(self, county_id: object) -> bool:
        return self.everything or county_id in self.ids

    def __bool__(self) -> bool:
        return self.everything or bool(self.ids)

    def q(self, lookup: str) -> Q:
        """A filter keeping the rows whose `lookup` (a path to a County) is in the scope."""
        if self.everything:
            return Q()
        return Q(**{f"{lookup}__in": sorted(self.ids)})

    @property
    def single(self) -> int | None:
        """The one county of a scope of exactly one county."""
        return next(iter(self.ids)) if not self.everything and len(self.ids) == 1 else None


def reach(role: str, action: Action = Action.VIEW) -> Reach | None:
    """How far a role reaches for an action; for VIEW, what binds its users to counties: one
    county (OWN), the counties assigned to them (ASSIGNED) or none (ALL)."""
    return POLICY.get(Role(role), {}).get(action) if role in Role.values else None


def scope(user: User | AnonymousUser, action: Action) -> Scope:
    if not user.is_authenticated or not user.is_active:
        return Scope()
    member = user  # a User: is_authenticated narrows the AnonymousUser away
    reaches = reach(Role.ADMIN if member.is_superuser else member.role, action)
    if reaches is Reach.ALL:
        return Scope(everything=True)
    if reaches is Reach.OWN and member.county_id:
        return Scope(ids=frozenset([member.county_id]))
    if reaches is Reach.ASSIGNED:
        return Scope(ids=member.assigned_county_ids)
    return Scope()


def may(user: User | AnonymousUser, action: Action, county_id: int | None = None) -> bool:
    """Whether the user may take the action in that county (None: in any county)."""
    allowed = scope(user, action)
    return bool(allowed) if county_id is None else county_id in allowed


def require(user: User | AnonymousUser, action: Action, county_id: int | None = None) -> None:
    """403 with the Chinese reason unless the user may take the action (in that county)."""
    if not may(user, action, county_id):
        raise PermissionDenied(REFUSALS[action])


def uses_admin_site(user: User) -> bool:
    """Whether the user may enter the admin site (Django's is_staff follows this)."""
    return any(may(user, action) for action in ADMIN_SITE_ACTIONS)


def holders(*actions: Action, county: int | None = None) -> QuerySet[User]:
    """The inverse of `scope`: the active users who hold any of `actions` in `county` (its own
    officials, its assigned inspectors, and those who hold the action city-wide), or, with no
    county, those who hold it city-wide. Who must be told of something or must sign it is asked
    here, never by comparing roles. Administrators, who may do everything so as to keep the
    system, hold no duty: no alert or sign-off waits for them."""
    from heating.models.users import User  # the policy is imported by the models

    holding = Q(pk__in=[])
    for role, reaches in POLICY.items():
        if role is Role.ADMIN:
            continue
        for action in actions:
            reach = reaches.get(action)
            if reach is Reach.ALL:
                holding |= Q(role=role)
            elif county is not None and reach is Reach.OWN:
                holding |= Q(role=role, county_id=county)
            elif county is not None and reach is Reach.ASSIGNED:
                holding |= Q(
                    role=role,
                    pk__in=User.counties.through.objects.filter(county_id=county).values("user_id"),
                )
    return User.objects.filter(holding, is_active=True, is_superuser=False)


def get_permitted(
    queryset: models.QuerySet[_M], user: User | AnonymousUser, action: Action, **lookup: Any
) -> _M:
    """The one object the user may see (404 otherwise) and may take `action` on (403 with the
    reason otherwise). `queryset` is a CountyScopedQuerySet."""
    visible = queryset.visible_to(user)  # type: ignore[attr-defined]
    found: _M = get_object_or_404(visible, **lookup)
    if (
        action is not Action.VIEW
        and not visible.permitted(user, action).filter(pk=found.pk).exists()
    ):
        raise PermissionDenied(REFUSALS[action])
    return found


# ---------------------------------------------------------------- personal data


def mask_id_number(value: str) -> str:
    return value[:6] + "*" * 8 + value[14:] if len(value) == 18 else "*" * len(value)


def mask_phone(value: str) -> str:
    digits = value.replace("-", "")
    if len(digits) < 7:
        return "*" * len(value)
    return value[:3] + "****" + value[-4:]


# The household fields that are personal data, and how each is masked.
PERSONAL_FIELDS = {"id_number": mask_id_number, "phone": mask_phone}


class PersonalData:
    """ID card and phone numbers as a user may see them: in full in the counties where the policy
    lets them (Action.PERSONAL), masked elsewhere. `user=None` is the server itself (the CLI)."""

    def __init__(self, user: User | AnonymousUser | None) -> None:
        self.full = Scope(everything=True) if user is None else scope(user, Action.PERSONAL)
        self.contact = Scope(everything=True) if user is None else scope(user, Action.CONTACT)

    def sees(self, county_id: int | None) -> bool:
        return county_id in self.full

    def value(self, county_id: int | None, field: str, value: str) -> str:
        """A field's value as shown: masked when it is personal data of a county out of reach."""
        mask = PERSONAL_FIELDS.get(field)
        if mask is None or not value or self.sees(county_id):
            return value
        return mask(value)

    def phone_to_call(self, county_id: int, phone: str) -> str:
        """A phone number on the pages of households awaiting a visit (the worklist, the visit
        form): in full for those who may call them (CONTACT), as elsewhere for the rest."""
        if phone and county_id in self.contact:
            return phone
        return self.value(county_id, "phone", phone)

    def calls(self, county_id: int) -> bool:
        """Whether `phone_to_call` shows this county's numbers in full for CONTACT alone."""
        return county_id in self.contact and not self.sees(county_id)

    def shown(self, county_id: int, id_number: str, phone: str) -> tuple[str, str]:
        return (
            self.value(county_id, "id_number", id_number),
            self.value(county_id, "phone", phone),
        )
