"""ID numbers registered in another county: the one place that answers a county user who gives one.

One household per ID number city-wide must hold, so a county user who gives a number another
county registered has to be refused, and the refusal says the number exists: some answer is
unavoidable. What must not be is a free, silent oracle (a dry run of the 4,219 numbers that fit a
masked `140981********5337` would name the one that exists). So every such answer, whichever way
it comes (an upload, its dry run, the household form), is logged (IdConflict) and counted against
the user's daily budget (settings.ID_CONFLICT_DAILY_BUDGET):

- within the budget, each row is refused with words that do not say where the number is;
- past it, the whole submission is refused naming no row and no number, and the bureau is told
  (the alarms registered here: oversight's alerts). Once the day's budget is spent, every
  submission that brings a new or changed ID number is refused the same way, whether or not a
  number of it is registered: the answer no longer depends on the other counties' ledger, so that
  halving a file of candidates upload after upload learns nothing either.

Conflicts within the user's own counties are ordinary errors, naming the household. Users who see
every county (the bureau, administrators) are not budgeted: there is nothing they could learn.

The writers ask `refuses_whole` inside their transaction, which rolls back on the refusal, and
record what they met with `id_conflicts_record` after it, so that the log outlives the rollback.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from heating import access
from heating.access import Action
from heating.models import User
from retrofits.models import Household, IdConflict, LedgerImport
from retrofits.validators import normalize_id_number

logger = logging.getLogger(__name__)

# Within the budget: the row is refused, and the words say nothing of where the number is.
ROW_REFUSAL = "身份证号「{id_number}」已被登记，请核实；如确属本户请联系市能源局核实（一个身份证号只能登记一户）"
# Past it: the whole submission, naming no row and no number.
WHOLE_REFUSAL = (
    "本次提交涉及的身份证号冲突次数已超出今日限额，整批未予受理，已通知市能源局核实；"
    "如需继续登记新的身份证号，请联系市能源局"
)


@dataclass(frozen=True)
class Found:
    """An ID number a user gave that a household of another county holds."""

    id_number: str
    household_id: int  # the other county's household
    county_id: int  # the county the user gave it for (the claimant's)
    code: str = ""
    head_name: str = ""
    claimant_id: int | None = None  # the claimant's household, where the ledger has it
    row: int | None = None  # the sheet row of an upload


# What hears of a user past the day's budget: (the user, the conflicts logged with the submission
# that went past it). The bureau's alerts live on the top floor (oversight), which registers here;
# nothing below imports it. Whom to tell is the access policy's: access.holders(Action.CONFLICTS).
Alarm = Callable[[User, list[IdConflict]], None]
_ALARMS: list[Alarm] = []


def register_conflict_alarm(alarm: Alarm) -> None:
    """From an AppConfig.ready(): `alarm` is called, inside the transaction that logs them, once a
    user and day: with the conflicts of the first submission refused whole that met any."""
    if alarm not in _ALARMS:
        _ALARMS.append(alarm)


def alarm_text(user: User, logged: Sequence[IdConflict], viewer: User) -> str:
    """What an alarm tells `viewer` (one of the bureau): who, and the numbers, shown as the
    viewer may see them (PersonalData: masked but in the viewer's full-data counties)."""
    shown = access.PersonalData(viewer)
    numbers = [
        shown.value(c.household.county_id if c.household else None, "id_number", c.id_number)
        for c in logged
    ]
    county = user.county.short_name if user.county else ""
    listed = "、".join(numbers[:10]) + (f"等 {len(numbers)} 个" if len(numbers) > 10 else "")
    return (
        f"{county}{user.get_full_name() or user.get_username()}（{user.get_username()}）今日"
        f"身份证号冲突超出限额（每日 {settings.ID_CONFLICT_DAILY_BUDGET} 次），整批提交已被拒绝；"
        f"涉及已在其他县（市、区）登记的身份证号：{listed}"
    )


def budgeted(user: User | None) -> bool:
    """Whether the user's conflicts are counted: any user who does not see every county (the
    server's own commands, with no user, are not)."""
    return user is not None and not access.scope(user, Action.VIEW).everything


def elsewhere(user: User | None, county_id: int | None) -> bool:
    """Whether a household of this county is, to the user, another county's."""
    return user is not None and budgeted(user) and county_id not in access.scope(user, Action.VIEW)


def _day_start(now: dt.datetime | None = None) -> dt.datetime:
    today = timezone.localdate(now)
    return timezone.make_aware(dt.datetime.combine(today, dt.time()))


def spent_today(user: User) -> int:
    """The user's conflicts since local midnight."""
    return IdConflict.objects.filter(user=user, created_at__gte=_day_start()).count()


def refuses_whole(user: User | None, *, met: int, new_numbers: Callable[[], bool]) -> bool:
    """Whether a submission that met `met` other-county conflicts is refused whole: past the
    budget, or with the budget spent already and new or changed ID numbers in it (`new_numbers`,
    asked only then)."""
    if not budgeted(user):
        return False
    assert user is not None
    spent = spent_today(user)
    budget = settings.ID_CONFLICT_DAILY_BUDGET
    return spent + met > budget or (spent >= budget and (met > 0 or new_numbers()))


def running_job(user: User) -> LedgerImport | None:
    """The user's import job that is running now, if exactly one is (the store runs inside it)."""
    running = list(
        LedgerImport.objects.filter(created_by=user, status=LedgerImport.Status.RUNNING)
        .order_by("-pk")
        .values_list("pk", flat=True)[:2]
    )
    return LedgerImport.objects.get(pk=running[0]) if len(running) == 1 else None


def id_conflicts_record(
    *,
    user: User | None,
    found: Sequence[Found],
    entry: IdConflict.Entry,
    whole: bool,
    job: LedgerImport | None = None,
) -> list[IdConflict]:
    """Log the conflicts a submission met (after its own transaction rolled back) and, where it
    was refused whole, sound the alarms. Returns the logged conflicts."""
    if not budgeted(user) or not (found or whole):
        return []
    assert user is not None
    now = timezone.now()
    with transaction.atomic():
        logged = IdConflict.objects.bulk_create(
            [
                IdConflict(
                    user=user,
                    created_at=now,
                    id_number=f.id_number,
                    county_id=f.county_id,
                    code=f.code[:32],
                    head_name=f.head_name[:50],
                    claimant_id=f.claimant_id,
                    household_id=f.household_id,
                    entry=entry,
                    job=job,
                    row=f.row,
                    over_budget=whole,
                )
                for f in found
            ],
            batch_size=2000,
        )
        if whole and logged:
            logger.warning(
                "user %s: past the day's budget, %d ID-number conflicts with other counties",
                user.pk,
                len(logged),
            )
            earlier = IdConflict.objects.filter(
                user=user, over_budget=True, created_at__gte=_day_start(now), created_at__lt=now
            )
            if not earlier.exists():
                for alarm in _ALARMS:
                    alarm(user, logged)
    return logged


def household_screen(*, household: Household, user: User | None) -> None:
    """The one-household service's question, before it writes: is the household's ID number
    registered in another county (or the user's budget spent, for a new or changed number)? Then
    the conflict is logged and the save refused (ValidationError), the words as the budget says.
    Conflicts within the user's own counties are left to the model's own check."""
    if not budgeted(user) or not household.id_number:
        return
    number = normalize_id_number(household.id_number)
    stored = (
        Household.objects.filter(pk=household.pk).values_list("id_number", flat=True).first()
        if household.pk
        else None
    )
    if stored == number:
        return  # the household's own number, as it was: nothing asked
    holder = (
        Household.objects.holding_id_number(number)
        .exclude(pk=household.pk)
        .values_list("pk", "county_id")
        .first()
    )
    found = []
    if holder is not None and elsewhere(user, holder[1]):
        found.append(
            Found(
                id_number=number,
                household_id=holder[0],
                county_id=household.county_id,
                code=household.code or "",
                head_name=household.head_name or "",
                claimant_id=household.pk,
            )
        )
    whole = refuses_whole(user, met=len(found), new_numbers=lambda: True)
    if not (found or whole):
        return
    id_conflicts_record(user=user, found=found, entry=IdConflict.Entry.FORM, whole=whole)
    if whole:
        raise ValidationError({"id_number": WHOLE_REFUSAL})
    raise ValidationError({"id_number": ROW_REFUSAL.format(id_number=number)})


@transaction.atomic
def id_conflict_resolve(*, conflict: IdConflict, user: User, reason: str) -> IdConflict:
    """The bureau marks a conflict handled (标记已处理), with its reason; once."""
    access.require(user, Action.CONFLICTS, conflict.county_id)
    locked = IdConflict.objects.select_for_update().get(pk=conflict.pk)
    if locked.resolved_at is not None:
        raise ValidationError({"resolution": "该冲突已标记处理，无需重复处理"})
    locked.resolution = reason.strip()
    if not locked.resolution:
        raise ValidationError({"resolution": "请填写处理说明"})
    locked.resolved_at, locked.resolved_by = timezone.now(), user
    locked.full_clean()
    locked.save(update_fields=["resolution", "resolved_at", "resolved_by"])
    return locked
