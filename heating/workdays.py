"""China's working days: statutory holidays off, make-up working days (调休) on, from the
maintained `chinesecalendar` package (the State Council's notices, one release a year). A year the
package does not know yet counts Monday to Friday, and says so (`known`), so that a deadline far
ahead is shown as provisional rather than refused."""

from __future__ import annotations

import datetime as dt

import chinese_calendar

_DAY = dt.timedelta(days=1)


def known(day: dt.date) -> bool:
    """Whether the State Council's calendar for the day's year is in the package."""
    try:
        chinese_calendar.is_workday(day)
    except NotImplementedError:
        return False
    return True


def is_working_day(day: dt.date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def add_working_days(start: dt.date, days: int) -> dt.date:
    """The `days`-th working day after `start` (start itself not counted): a time limit of 1
    working day from a Friday ends on Monday, from 9/28/2023 on 10/7 (a make-up Saturday)."""
    if days < 0:
        raise ValueError("days must not be negative")
    day = start
    while days:
        day += _DAY
        if is_working_day(day):
            days -= 1
    return day


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days after `start` up to and including `end` (0 when end is not after start)."""
    count, day = 0, start
    while day < end:
        day += _DAY
        count += is_working_day(day)
    return count
