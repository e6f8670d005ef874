"""China's working days from the maintained calendar, checked against dates written here from the
State Council's 2023 notice (国庆中秋 9/29–10/6 off; Saturday 10/7 and Sunday 10/8 worked)."""

from __future__ import annotations

import datetime as dt

import pytest

from heating.workdays import add_working_days, is_working_day, known, working_days_between


def test_the_national_day_holiday_and_its_make_up_days() -> None:
    assert not is_working_day(dt.date(2023, 10, 2))  # a Monday off
    assert is_working_day(dt.date(2023, 10, 7))  # a Saturday worked
    assert add_working_days(dt.date(2023, 9, 28), 1) == dt.date(2023, 10, 7)
    assert add_working_days(dt.date(2023, 9, 22), 7) == dt.date(2023, 10, 9)
    assert working_days_between(dt.date(2023, 9, 28), dt.date(2023, 10, 9)) == 3


def test_an_ordinary_week() -> None:
    assert add_working_days(dt.date(2023, 6, 2), 1) == dt.date(2023, 6, 5)  # Friday → Monday
    assert add_working_days(dt.date(2023, 6, 5), 0) == dt.date(2023, 6, 5)
    with pytest.raises(ValueError):
        add_working_days(dt.date(2023, 6, 5), -1)


def test_a_year_the_package_does_not_know_counts_weekdays_and_says_so() -> None:
    far = dt.date(2099, 1, 2)  # a Friday
    assert not known(far)
    assert add_working_days(far, 1) == dt.date(2099, 1, 5)
    assert known(dt.date(2023, 10, 7))
