"""The heating season (采暖季) tickets are counted in: the plan year's (heating.PlanYear's
heating_season, set by the bureau), else November 1 to March 31 (the season of 2023 runs
2023-11-01 to 2024-03-31)."""

from __future__ import annotations

import datetime as dt

from heating.models import PlanYear


def season_dates(year: int) -> tuple[dt.date, dt.date]:
    """The first and last day of the heating season that starts in `year`."""
    plan_year = PlanYear.objects.filter(year=year).first()
    if plan_year is not None:
        season = plan_year.heating_season()
        return season.start, season.end
    return dt.date(year, 11, 1), dt.date(year + 1, 3, 31)


def season_of(day: dt.date) -> int:
    """The heating season a day belongs to, or the one that comes next (by its starting year)."""
    return day.year if day.month >= 4 else day.year - 1
