"""Time limits (时限) of a ticket, as the 12345 hotline counts them: in working days (China's
statutory holidays off, make-up working days on: heating/workdays.py), a deadline falling at the
end of its working day (24:00, Asia/Shanghai); 燃气安全 in hours, round the clock.

- 签收: within 1 working day of reaching the county.
- 退回 (wrongly assigned): within 2 working days of reaching the county.
- 办结: the category's limit (LIMITS), from reaching the county, again from a reopening;
  one extension (延期) adds the category's limit once more.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from django.utils import timezone

from aftercare.models import Category, State, Ticket
from heating.workdays import add_working_days


@dataclass(frozen=True)
class Limit:
    working_days: int = 0
    hours: int = 0

    def __str__(self) -> str:
        return f"{self.hours}小时" if self.hours else f"{self.working_days}个工作日"


ACCEPT_LIMIT = Limit(working_days=1)
RETURN_LIMIT = Limit(working_days=2)
# 办结 by category: what keeps people warm first.
LIMITS: dict[str, Limit] = {
    Category.COLD: Limit(working_days=3),
    Category.FAULT: Limit(working_days=3),
    Category.VOLTAGE: Limit(working_days=2),
    Category.GAS_SAFETY: Limit(hours=24),
    Category.SUBSIDY: Limit(working_days=15),
    Category.EARLY_REMOVAL: Limit(working_days=5),
    Category.PRICE: Limit(working_days=10),
    Category.OTHER: Limit(working_days=10),
}
AT_RISK_SHARE = 0.25  # less than a quarter of the time left


def due(start: dt.datetime, limit: Limit) -> dt.datetime:
    """The moment a time limit running from `start` ends."""
    if limit.hours:
        return start + dt.timedelta(hours=limit.hours)
    last = add_working_days(timezone.localtime(start).date(), limit.working_days)
    return timezone.make_aware(dt.datetime.combine(last + dt.timedelta(days=1), dt.time()))


def close_due(start: dt.datetime, category: str, *, extended: bool = False) -> dt.datetime:
    limit = LIMITS[category]
    end = due(start, limit)
    if not extended:
        return end
    # An extension runs on from the end of the first limit (the last day of it, for days).
    return due(end if limit.hours else end - dt.timedelta(days=1), limit)


class Standing(enum.StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    ON_TIME = "on_time"  # closed within its limit
    LATE = "late"  # closed after its limit
    WITH_BUREAU = "with_bureau"  # returned, awaiting the bureau's reassignment


LABELS = {
    Standing.ON_TRACK: "正常",
    Standing.AT_RISK: "临期",
    Standing.BREACHED: "超时",
    Standing.ON_TIME: "按时办结",
    Standing.LATE: "超时办结",
    Standing.WITH_BUREAU: "待重新派单",
}
CSS = {
    Standing.ON_TRACK: "status-ok",
    Standing.AT_RISK: "status-risk",
    Standing.BREACHED: "status-late",
    Standing.ON_TIME: "status-ok",
    Standing.LATE: "status-late",
    Standing.WITH_BUREAU: "status-risk",
}


@dataclass(frozen=True)
class Clock:
    standing: Standing
    due: dt.datetime | None  # the running limit's end
    what: str  # 签收 or 办结

    @property
    def label(self) -> str:
        return LABELS[self.standing]

    @property
    def css(self) -> str:
        return CSS[self.standing]


def clock(ticket: Ticket, now: dt.datetime | None = None) -> Clock:
    """Where a ticket stands against its running time limit."""
    now = now or timezone.now()
    if ticket.state == State.RETURNED:
        return Clock(Standing.WITH_BUREAU, None, "")
    if ticket.state in (State.CLOSED, State.VISITED):
        late = ticket.closed_at is not None and ticket.closed_at > ticket.close_due
        return Clock(Standing.LATE if late else Standing.ON_TIME, ticket.close_due, "办结")
    if ticket.state == State.PENDING:
        start, end, what = ticket.assigned_at, ticket.accept_due, "签收"
    else:
        start, end, what = ticket.clock_from, ticket.close_due, "办结"
    return Clock(standing_at(start, end, now), end, what)


def standing_at(start: dt.datetime, end: dt.datetime, now: dt.datetime) -> Standing:
    if now > end:
        return Standing.BREACHED
    if (end - now) < (end - start) * AT_RISK_SHARE:
        return Standing.AT_RISK
    return Standing.ON_TRACK
