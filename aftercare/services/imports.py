"""The 12345 import's write: all or nothing, an upsert by 工单编号 (the reading and checking of the
file is aftercare/sheets.py's)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db import transaction

from aftercare.models import Category, Channel, State, Ticket, TicketStep
from aftercare.services import TicketInput, _assign, _place, _save, _step, ticket_create
from aftercare.sheets import HEADERS, Row, check_file
from heating import access
from heating.access import Action
from heating.models import User, Village
from heating.sheets import SheetError


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[SheetError] = field(default_factory=list)


@transaction.atomic
def tickets_import(*, data: bytes, name: str, user: User) -> ImportResult:
    """A 12345 export, all or nothing: every error by row and column and nothing written, or
    every row written. An upsert by 工单编号: a new number is a new ticket; a known one is updated
    while it waits to be signed for (its clocks start again from its receipt), after that only
    its caller and content; an unchanged row changes nothing. Raises SheetFileError for a file
    that is not the template."""
    if not (access.may(user, Action.SUPERVISE) or access.may(user, Action.TICKETS)):
        raise PermissionDenied(access.REFUSALS[Action.TICKETS])
    checked = check_file(data, name, user=user)
    result = ImportResult(errors=list(checked.errors))
    numbers = [row.hotline_number for row in checked.rows]
    existing = {
        t.hotline_number: t
        for t in Ticket.objects.select_for_update().filter(hotline_number__in=numbers)
    }
    supervised = access.scope(user, Action.SUPERVISE)
    handled = access.scope(user, Action.TICKETS)
    writes: list[tuple[Row, Ticket | None]] = []
    for row in checked.rows:
        ticket = existing.get(row.hotline_number)
        if ticket is None:
            writes.append((row, None))
            continue
        if ticket.county_id not in supervised and ticket.county_id not in handled:
            # Never say what another county holds.
            result.errors.append(
                SheetError(
                    row.number,
                    HEADERS["hotline_number"],
                    row.hotline_number,
                    "该工单编号已登记在其他县（市、区），请联系市能源局核实",
                )
            )
            continue
        moved = (
            ticket.county_id != row.county.pk or ticket.category != row.category
            or ticket.household_id != (row.household.pk if row.household else None)
            or (row.household is None and ticket.village_id != row.village_id)
            or ticket.received_at != row.received_at
        )  # fmt: skip
        if moved and ticket.state != State.PENDING:
            result.errors.append(
                SheetError(
                    row.number,
                    HEADERS["category"],
                    row.category and str(Category(row.category).label),
                    f"工单已{ticket.get_state_display()}，诉求类别、涉及区县、村、户和来电时间不能再由导入更改",
                )
            )
            continue
        writes.append((row, ticket))
    if result.errors:
        result.errors.sort(key=lambda e: e.row)
        return result
    for row, ticket in writes:
        village = (
            Village.objects.select_related("township").get(pk=row.village_id)
            if row.village_id
            else None
        )
        if ticket is None:
            ticket_create(
                data=TicketInput(
                    channel=Channel.HOTLINE, category=row.category, county=row.county,
                    content=row.content, received_at=row.received_at, household=row.household,
                    village=village, hotline_number=row.hotline_number,
                    caller_name=row.caller_name, caller_phone=row.caller_phone,
                ),
                user=user, imported=True,
            )  # fmt: skip
            result.created += 1
            continue
        before = _import_fields(ticket)
        ticket.caller_name, ticket.caller_phone = row.caller_name, row.caller_phone
        ticket.content = row.content
        if ticket.state == State.PENDING:
            ticket.village = _place(county=row.county, household=row.household, village=village)
            ticket.county, ticket.household, ticket.category = (
                row.county,
                row.household,
                row.category,
            )
            ticket.received_at = row.received_at
            if before != _import_fields(ticket):
                _assign(ticket, row.received_at)
        if before == _import_fields(ticket):
            result.unchanged += 1
            continue
        _save(ticket)
        _step(ticket, TicketStep.Action.IMPORT, user, "12345导入更新")
        result.updated += 1
    return result


def _import_fields(ticket: Ticket) -> tuple[object, ...]:
    return (
        ticket.caller_name, ticket.caller_phone, ticket.content, ticket.county_id,
        ticket.household_id, ticket.village_id, ticket.category, ticket.received_at,
    )  # fmt: skip
