"""Writes of tickets: one small service per step, each checking who may take it, locking the
ticket's row (two officials pressing 签收 at once take one step, not two) and keeping the step.

How a ticket moves:
    待签收 --accept--> 办理中 --close--> 已办结 --callback(满意/基本满意)--> 已回访
                          ^  (extend once)     |
                          +--callback(不满意)--+  (reopened: the 办结 clock starts again)
    待签收/办理中 --return (within 2 working days)--> 已退回 --reassign (the bureau)--> 待签收
A breach of a running time limit, a ticket closed late, or a third reopening escalates the ticket
to the bureau (督办) once, with an alert.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from acceptance.models import HeatingRemoval
from acceptance.rules import removal_allowed_from
from aftercare import limits
from aftercare.models import (
    Category,
    Channel,
    RemovalCheck,
    Satisfaction,
    State,
    Ticket,
    TicketStep,
)
from aftercare.selectors import standing_filter
from heating import access
from heating.access import Action
from heating.models import County, User, Village
from retrofits.choices import Stage
from retrofits.models import Household

REOPENINGS_ESCALATED = 3  # the third reopening goes to the bureau


@dataclass(frozen=True)
class TicketAlert:
    """Something the bureau must hear of: a ticket escalated (督办), a stove removed early."""

    ticket: Ticket
    text: str
    key: str  # said once per key


# Who hears of a ticket's alerts is the access policy's (holders of SUPERVISE); how (the inbox,
# e-mail) is the top floor's, which registers here: this app may not import it.
AlertListener = Callable[[TicketAlert], None]
ALERT_LISTENERS: list[AlertListener] = []


def register_alert_listener(listener: AlertListener) -> None:
    if listener not in ALERT_LISTENERS:
        ALERT_LISTENERS.append(listener)


def _alert(alert: TicketAlert) -> None:
    for listener in ALERT_LISTENERS:
        listener(alert)


def _step(
    ticket: Ticket, action: str, user: User | None, note: str = "", at: dt.datetime | None = None
) -> None:
    step = TicketStep(
        ticket=ticket, action=action, user=user, note=note[:2000], county_id=ticket.county_id,
        at=at or timezone.now(),
    )  # fmt: skip
    step.full_clean()
    step.save()


def _save(ticket: Ticket) -> Ticket:
    ticket.full_clean()
    ticket.save()
    return ticket


def _locked(ticket: Ticket) -> Ticket:
    """The ticket's row, locked until the step commits, as it now stands."""
    return Ticket.objects.select_for_update().get(pk=ticket.pk)


def _refuse(message: str, field: str = "__all__") -> ValidationError:
    return ValidationError({field: message})


def _expect(ticket: Ticket, *states: str) -> None:
    if ticket.state not in states:
        wanted = "、".join(str(State(s).label) for s in states)
        raise _refuse(f"工单当前为「{ticket.get_state_display()}」，只有{wanted}的工单可以这样办理")


def _place(
    *, county: County, household: Household | None, village: Village | None
) -> Village | None:
    """Check a ticket's place: the household and the village are of its county; a household
    names its village."""
    if household is not None:
        if household.county_id != county.pk:
            raise _refuse("该户不属于所选县（市、区）", "household")
        return household.village
    if village is None:
        raise _refuse("请填写改造户或村（社区）", "village")
    if village.township.county_id != county.pk:
        raise _refuse("该村（社区）不属于所选县（市、区）", "village")
    return village


def _assign(ticket: Ticket, at: dt.datetime) -> None:
    """The ticket reaches its county now: both clocks start."""
    ticket.assigned_at = ticket.clock_from = at
    ticket.accept_due = limits.due(at, limits.ACCEPT_LIMIT)
    ticket.close_due = limits.close_due(at, ticket.category)


@dataclass(frozen=True)
class TicketInput:
    channel: str
    category: str
    county: County
    content: str
    received_at: dt.datetime
    household: Household | None = None
    village: Village | None = None
    hotline_number: str = ""
    caller_name: str = ""
    caller_phone: str = ""


def _may_register(user: User, county_id: int) -> None:
    if not (
        access.may(user, Action.SUPERVISE, county_id) or access.may(user, Action.TICKETS, county_id)
    ):
        raise PermissionDenied(access.REFUSALS[Action.TICKETS])


@transaction.atomic
def ticket_create(*, data: TicketInput, user: User, imported: bool = False) -> Ticket:
    """Register a ticket (the bureau for any county, a county for its own): it reaches its
    county at once (待签收), its clocks running from its receipt."""
    _may_register(user, data.county.pk)
    if data.channel == Channel.HOTLINE and not data.hotline_number.strip():
        raise _refuse("12345热线工单须填写工单编号", "hotline_number")
    village = _place(county=data.county, household=data.household, village=data.village)
    ticket = Ticket(
        channel=data.channel, hotline_number=data.hotline_number.strip(), category=data.category,
        county=data.county, household=data.household, village=village,
        caller_name=data.caller_name.strip(), caller_phone=data.caller_phone.strip(),
        content=data.content.strip(), received_at=data.received_at, created_by=user,
    )  # fmt: skip
    if data.received_at > timezone.now():
        raise _refuse("受理时间不能晚于现在", "received_at")
    _assign(ticket, data.received_at)
    _save(ticket)
    _step(ticket, TicketStep.Action.IMPORT if imported else TicketStep.Action.CREATE, user)
    if ticket.category == Category.EARLY_REMOVAL:
        ticket_check_removal(ticket=ticket)
    return ticket


@transaction.atomic
def ticket_accept(*, ticket: Ticket, user: User, now: dt.datetime | None = None) -> Ticket:
    """签收: the county takes the ticket on."""
    now = now or timezone.now()
    ticket = _locked(ticket)
    access.require(user, Action.TICKETS, ticket.county_id)
    _expect(ticket, State.PENDING)
    ticket.state, ticket.accepted_at = State.HANDLING, now
    _save(ticket)
    _step(ticket, TicketStep.Action.ACCEPT, user, at=now)
    if now > ticket.accept_due:
        _escalate(ticket, f"超过签收时限（{_local(ticket.accept_due)}）签收", now)
    return ticket


@transaction.atomic
def ticket_extend(
    *, ticket: Ticket, user: User, reason: str, now: dt.datetime | None = None
) -> Ticket:
    """延期, once, with its reason: the 办结 limit runs the category's limit once more. Asked
    for before the limit ends."""
    now = now or timezone.now()
    ticket = _locked(ticket)
    access.require(user, Action.TICKETS, ticket.county_id)
    _expect(ticket, State.HANDLING)
    if ticket.extended_at is not None:
        raise _refuse("该工单已延期一次，不能再次延期")
    if not reason.strip():
        raise _refuse("请说明延期理由", "reason")
    if now > ticket.close_due:
        raise _refuse("已超过办结时限，不能再申请延期")
    ticket.extended_at, ticket.extension_reason = now, reason.strip()[:500]
    ticket.close_due = limits.close_due(ticket.clock_from, ticket.category, extended=True)
    _save(ticket)
    _step(ticket, TicketStep.Action.EXTEND, user, reason, at=now)
    return ticket


@transaction.atomic
def ticket_close(
    *, ticket: Ticket, user: User, resolution: str, now: dt.datetime | None = None
) -> Ticket:
    """办结, with what was done (the decision the caller is told)."""
    now = now or timezone.now()
    ticket = _locked(ticket)
    access.require(user, Action.TICKETS, ticket.county_id)
    _expect(ticket, State.HANDLING)
    if not resolution.strip():
        raise _refuse("请填写办理结果", "resolution")
    ticket.state, ticket.closed_at, ticket.resolution = State.CLOSED, now, resolution.strip()
    ticket.satisfaction = ""
    _save(ticket)
    _step(ticket, TicketStep.Action.CLOSE, user, resolution, at=now)
    if now > ticket.close_due:
        _escalate(ticket, f"超过办结时限（{_local(ticket.close_due)}）办结", now)
    return ticket


def return_due(ticket: Ticket) -> dt.datetime:
    return limits.due(ticket.assigned_at, limits.RETURN_LIMIT)


@transaction.atomic
def ticket_return(
    *, ticket: Ticket, user: User, reason: str, now: dt.datetime | None = None
) -> Ticket:
    """退回: not this county's; back to the bureau within 2 working days of its arrival."""
    now = now or timezone.now()
    ticket = _locked(ticket)
    access.require(user, Action.TICKETS, ticket.county_id)
    _expect(ticket, State.PENDING, State.HANDLING)
    if not reason.strip():
        raise _refuse("请说明退回理由", "reason")
    if now > (due := return_due(ticket)):
        raise _refuse(f"派单后{limits.RETURN_LIMIT}内方可退回（截止{_local(due)}），请继续办理")
    ticket.state, ticket.return_reason = State.RETURNED, reason.strip()[:500]
    ticket.returns += 1
    ticket.accepted_at = None
    _save(ticket)
    _step(ticket, TicketStep.Action.RETURN, user, reason, at=now)
    _alert(
        TicketAlert(
            ticket=ticket,
            text=f"退回：{ticket.county.short_name}退回工单{ticket.number}（{ticket.return_reason}），请重新派单",
            key=f"ticket-returned:{ticket.pk}:{ticket.returns}",
        )
    )
    return ticket


@transaction.atomic
def ticket_reassign(
    *, ticket: Ticket, user: User, county: County, household: Household | None = None,
    village: Village | None = None, now: dt.datetime | None = None,
) -> Ticket:  # fmt: skip
    """The bureau sends a returned ticket to the right county: its clocks start again."""
    now = now or timezone.now()
    ticket = _locked(ticket)
    access.require(user, Action.SUPERVISE, ticket.county_id)
    access.require(user, Action.SUPERVISE, county.pk)
    _expect(ticket, State.RETURNED)
    ticket.village = _place(county=county, household=household, village=village)
    ticket.county, ticket.household = county, household
    ticket.state, ticket.return_reason = State.PENDING, ""
    ticket.closed_at, ticket.extended_at, ticket.extension_reason = None, None, ""
    _assign(ticket, now)
    _save(ticket)
    _step(ticket, TicketStep.Action.REASSIGN, user, county.short_name, at=now)
    return ticket


@transaction.atomic
def ticket_callback(
    *, ticket: Ticket, user: User, satisfaction: str, note: str = "",
    now: dt.datetime | None = None,
) -> Ticket:  # fmt: skip
    """回访: 满意 or 基本满意 ends the ticket (已回访); 不满意 reopens it, the 办结 clock starting
    again; the third reopening escalates it."""
    now = now or timezone.now()
    ticket = _locked(ticket)
    access.require(user, Action.SUPERVISE, ticket.county_id)
    _expect(ticket, State.CLOSED)
    if satisfaction not in Satisfaction.values:
        raise _refuse("请选择回访结果", "satisfaction")
    ticket.satisfaction = satisfaction
    label = Satisfaction(satisfaction).label
    if satisfaction != Satisfaction.UNSATISFIED:
        ticket.state = State.VISITED
        _save(ticket)
        _step(ticket, TicketStep.Action.CALLBACK, user, f"{label} {note}".strip(), at=now)
        return ticket
    ticket.state, ticket.closed_at, ticket.reopened = State.HANDLING, None, ticket.reopened + 1
    ticket.clock_from = now
    ticket.close_due = limits.close_due(now, ticket.category)
    _save(ticket)
    _step(ticket, TicketStep.Action.CALLBACK, user, f"{label} {note}".strip(), at=now)
    _step(ticket, TicketStep.Action.REOPEN, user, f"第{ticket.reopened}次重办", at=now)
    if ticket.reopened >= REOPENINGS_ESCALATED:
        _escalate(ticket, f"回访不满意，第{ticket.reopened}次重办", now)
    return ticket


# ---------------------------------------------------------------- escalation (督办)


def _local(moment: dt.datetime) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def _escalate(ticket: Ticket, reason: str, now: dt.datetime) -> bool:
    """督办, once: the database keeps the first escalation and its reason; a second cause of a
    ticket already escalated changes nothing (the ticket's row is locked by the caller)."""
    if ticket.escalated_at is not None:
        return False
    ticket.escalated_at, ticket.escalation_reason = now, reason[:300]
    _save(ticket)
    _step(ticket, TicketStep.Action.ESCALATE, None, reason, at=now)
    _alert(
        TicketAlert(
            ticket=ticket,
            text=f"督办：{ticket.county.short_name}工单{ticket.number}（{ticket.get_category_display()}）{reason}",
            key=f"ticket-escalated:{ticket.pk}",
        )
    )
    return True


@transaction.atomic
def tickets_escalate_breached(*, now: dt.datetime | None = None) -> int:
    """The sweep (beat, every 15 minutes): each open ticket past its running limit goes to the
    bureau, once. Safe to run again. The number escalated."""
    now = now or timezone.now()
    breached = limits.Standing.BREACHED
    candidates = Ticket.objects.filter(escalated_at__isnull=True)
    made = 0
    for ticket in (
        Ticket.objects.select_for_update()
        .filter(pk__in=standing_filter(candidates, breached, now).values("pk"))
        .select_related("county")
    ):
        clock = limits.clock(ticket, now)
        made += _escalate(ticket, f"超过{clock.what}时限（{_local(clock.due or now)}）", now)
    return made


# ---------------------------------------------------------------- 先立后破 cross-check


@transaction.atomic
def ticket_check_removal(*, ticket: Ticket) -> str:
    """A 未立先破/强拆 ticket against the household's removal record (先立后破): removed before it
    was allowed, or removed with no record, is told to the bureau. The result is kept on the
    ticket."""
    household = ticket.household
    if ticket.category != Category.EARLY_REMOVAL or household is None:
        return ""
    removal = HeatingRemoval.objects.filter(household=household).first()
    accepted = household.accepted_on if household.stage == Stage.ACCEPTED else None
    if removal is None:
        result = RemovalCheck.UNRECORDED
        text = f"{household.code}无拆除登记，群众反映已拆除原有取暖设施（未立先破）"
    elif accepted is None or removal.removed_on < removal_allowed_from(accepted):
        result = RemovalCheck.EARLY
        allowed = (
            f"{removal_allowed_from(accepted):%Y年%m月%d日}起方可拆除"
            if accepted
            else "尚未验收合格"
        )
        text = f"{household.code}于{removal.removed_on:%Y年%m月%d日}登记拆除，{allowed}（未立先破）"
    else:
        result = RemovalCheck.ALLOWED
        text = ""
    Ticket.objects.filter(pk=ticket.pk).update(removal_check=result)
    ticket.removal_check = result
    if text:
        _alert(
            TicketAlert(
                ticket=ticket,
                text=f"先立后破核查：{ticket.county.short_name}工单{ticket.number}：{text}",
                key=f"ticket-removal:{ticket.pk}",
            )
        )
    return result
