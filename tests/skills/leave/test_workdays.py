"""Working days: weekends and public holidays left out, observed holidays, half days, notice counting."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

import pytest

from skills.leave.workdays import holiday_calendar, is_working_day, working_days, working_days_until

pytestmark = pytest.mark.calendar  # `make test-dates` runs these at odd moments

XMAS_START = date(2026, 12, 22)
XMAS_END = date(2027, 1, 2)


def test_us_christmas_to_new_year_is_seven_working_days() -> None:
    result = working_days(XMAS_START, XMAS_END, country="US")

    assert result.days == Decimal(7)
    assert result.dates == (
        date(2026, 12, 22),
        date(2026, 12, 23),
        date(2026, 12, 24),
        date(2026, 12, 28),
        date(2026, 12, 29),
        date(2026, 12, 30),
        date(2026, 12, 31),
    )
    assert result.holidays == ((date(2026, 12, 25), "Christmas Day"), (date(2027, 1, 1), "New Year's Day"))
    assert result.weekend_days == 3
    assert result.excluded_text() == "Dec 25 and Jan 1 are holidays"


def test_gb_boxing_day_on_saturday_is_given_on_monday() -> None:
    result = working_days(XMAS_START, XMAS_END, country="GB")

    # Boxing Day 2026 is a Saturday; the library moves it to Monday Dec 28 as England observes it.
    assert [day for day, _ in result.holidays] == [date(2026, 12, 25), date(2026, 12, 28), date(2027, 1, 1)]
    assert result.holidays[1][1] == "Boxing Day (observed)"
    assert result.days == Decimal(6)
    assert result.excluded_text() == "Dec 25, Dec 28 and Jan 1 are holidays"


@pytest.mark.parametrize("country", ["DE", "IT"])
def test_germany_and_italy_do_not_move_a_saturday_holiday(country: str) -> None:
    result = working_days(XMAS_START, XMAS_END, country=country)

    # The second Christmas holiday (Dec 26) is a Saturday there and is simply lost.
    assert [day for day, _ in result.holidays] == [date(2026, 12, 25), date(2027, 1, 1)]
    assert result.days == Decimal(7)


def test_us_christmas_2027_on_saturday_is_observed_on_friday() -> None:
    result = working_days(date(2027, 12, 20), date(2027, 12, 24), country="US")

    assert result.holidays == ((date(2027, 12, 24), "Christmas Day (observed)"),)
    assert result.days == Decimal(4)
    assert result.excluded_text() == "Dec 24 is a holiday (Christmas Day (observed))"
    assert not is_working_day(date(2027, 12, 24), country="US")
    assert is_working_day(date(2027, 12, 23), country="US")


def test_subdivision_holidays_count() -> None:
    # Epiphany (Jan 6) is a holiday in Bavaria but not in Berlin.
    assert not is_working_day(date(2027, 1, 6), country="DE", subdivision="BY")
    assert is_working_day(date(2027, 1, 6), country="DE", subdivision="BE")


@pytest.mark.parametrize(
    ("start", "end", "start_half", "end_half", "expected"),
    [
        (date(2026, 11, 23), date(2026, 11, 23), "pm", None, Decimal("0.5")),
        (date(2026, 11, 23), date(2026, 11, 23), None, "am", Decimal("0.5")),
        (date(2026, 11, 23), date(2026, 11, 25), "pm", None, Decimal("2.5")),
        (date(2026, 11, 23), date(2026, 11, 25), None, "am", Decimal("2.5")),
        (date(2026, 11, 23), date(2026, 11, 25), "pm", "am", Decimal(2)),
        (date(2026, 11, 22), date(2026, 11, 22), "pm", None, Decimal(0)),  # a Sunday costs nothing
        (date(2026, 11, 21), date(2026, 11, 24), "pm", "am", Decimal("1.5")),  # Sat pm .. Tue am
        (date(2026, 12, 25), date(2026, 12, 28), "pm", None, Decimal(1)),  # the half falls on Christmas
    ],
)
def test_half_days(start: date, end: date, start_half: str | None, end_half: str | None, expected: Decimal) -> None:
    result = working_days(start, end, country="US", start_half=start_half, end_half=end_half)

    assert result.days == expected


def test_bad_half_and_reversed_range_are_refused() -> None:
    with pytest.raises(ValueError, match="half day"):
        working_days(date(2026, 11, 23), date(2026, 11, 23), country="US", start_half="noon")
    with pytest.raises(ValueError, match="before start"):
        working_days(date(2026, 11, 24), date(2026, 11, 23), country="US")


def test_unknown_country_counts_weekends_only(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="skills.leave.workdays"):
        result = working_days(XMAS_START, XMAS_END, country="ZZ")

    assert result.days == Decimal(9)
    assert result.holidays == ()
    assert result.excluded_text() == ""
    assert "ZZ" in caplog.text


def test_unknown_subdivision_falls_back_to_the_country(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="skills.leave.workdays"):
        assert not is_working_day(date(2026, 12, 25), country="US", subdivision="QQ")
    assert "QQ" in caplog.text


def test_weekend_follows_the_country() -> None:
    # Israel rests on Friday and Saturday.
    assert not is_working_day(date(2026, 11, 20), country="IL")
    assert is_working_day(date(2026, 11, 22), country="IL")


def test_calendar_is_cached_per_country_and_years() -> None:
    first = holiday_calendar("US", [2027, 2026])
    assert holiday_calendar("us", (2026, 2027)) is first
    assert holiday_calendar("US", [2026]) is not first


@pytest.mark.parametrize(
    ("today", "start", "expected"),
    [
        (date(2026, 11, 22), date(2026, 11, 23), 0),  # Sunday → Monday: no working day in between
        (date(2026, 11, 23), date(2026, 11, 26), 2),  # Mon → Thu: Tue and Wed
        (date(2026, 11, 20), date(2026, 11, 25), 2),  # Fri → Wed: Mon and Tue
        (date(2026, 12, 23), date(2026, 12, 29), 2),  # Christmas on Friday: Dec 24 and 28
        (date(2026, 11, 23), date(2026, 11, 23), 0),
        (date(2026, 11, 23), date(2026, 11, 20), 0),  # start already past
    ],
)
def test_working_days_until(today: date, start: date, expected: int) -> None:
    assert working_days_until(today, start, country="US") == expected
