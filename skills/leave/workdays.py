"""Working days between two dates: weekends and the employee's public holidays left out, half days counted."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache

import holidays

log = logging.getLogger(__name__)

HALVES = ("am", "pm")
_HALF = Decimal("0.5")
_ONE = Decimal(1)


@dataclass(frozen=True)
class WorkingDays:
    """How many working days a date range costs, and what was left out."""

    days: Decimal  # a half day counts Decimal("0.5")
    dates: tuple[date, ...]  # the working dates in the range, half days included
    holidays: tuple[tuple[date, str], ...]  # public holidays on weekdays that were left out
    weekend_days: int

    def excluded_text(self) -> str:
        """The holidays left out, as a short sentence for the confirmation card ("" when none)."""
        if not self.holidays:
            return ""
        if len(self.holidays) == 1:
            day, name = self.holidays[0]
            return f"{_short(day)} is a holiday ({name})"
        days = [_short(day) for day, _ in self.holidays]
        return f"{', '.join(days[:-1])} and {days[-1]} are holidays"


def _short(day: date) -> str:
    return f"{day:%b} {day.day}"


def holiday_calendar(country: str, years: Iterable[int], subdivision: str | None = None) -> holidays.HolidayBase:
    """The public holidays of a country (and subdivision) in the given years, as that country observes them."""
    return _calendar(country.upper(), subdivision, tuple(sorted(set(years))))


@lru_cache(maxsize=256)
def _calendar(country: str, subdivision: str | None, years: tuple[int, ...]) -> holidays.HolidayBase:
    # Building a calendar costs a few milliseconds per year and requests are counted again on every
    # balance check, so one calendar per (country, subdivision, years) is kept.
    try:
        if country not in _countries():
            # holidays looks a code up as an attribute of its module: "MON" (a weekday constant) would be called.
            raise NotImplementedError(f"no holidays for {country!r}")
        return holidays.country_holidays(country, subdiv=subdivision, years=years, observed=True)
    except NotImplementedError:
        if subdivision is not None:
            log.warning(
                "unknown holiday subdivision %s-%s; using the country's national holidays", country, subdivision
            )
            return _calendar(country, None, years)
        # A missing calendar must not block a leave request; weekends still count, and the warning
        # tells an admin to fix the employee's country code.
        log.warning("no public holiday calendar for country %r; counting weekends only", country)
        return holidays.HolidayBase(years=years)


@lru_cache(maxsize=1)
def _countries() -> frozenset[str]:
    return frozenset(holidays.list_supported_countries())


def working_days(
    start: date,
    end: date,
    *,
    country: str,
    subdivision: str | None = None,
    start_half: str | None = None,
    end_half: str | None = None,
) -> WorkingDays:
    """Count the working days from start to end inclusive; a half on the first or last day counts 0.5."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    for half in (start_half, end_half):
        if half is not None and half not in HALVES:
            raise ValueError(f"a half day is 'am' or 'pm', not {half!r}")
    calendar = holiday_calendar(country, range(start.year, end.year + 1), subdivision)
    total = Decimal(0)
    dates: list[date] = []
    left_out: list[tuple[date, str]] = []
    weekend_days = 0
    day = start
    while day <= end:
        if day.weekday() in calendar.weekend:
            weekend_days += 1
        elif day in calendar:
            left_out.append((day, str(calendar.get(day))))
        else:
            dates.append(day)
            # A single day with any half is half a day; in a range only the edge days can be halves.
            is_half = (day == start and start_half is not None) or (day == end and end_half is not None)
            total += _HALF if is_half else _ONE
        day += timedelta(days=1)
    return WorkingDays(days=total, dates=tuple(dates), holidays=tuple(left_out), weekend_days=weekend_days)


def is_working_day(day: date, *, country: str, subdivision: str | None = None) -> bool:
    """True when the day is neither a weekend day nor a public holiday there."""
    calendar = holiday_calendar(country, (day.year,), subdivision)
    return day.weekday() not in calendar.weekend and day not in calendar


def working_days_until(today: date, start: date, *, country: str, subdivision: str | None = None) -> int:
    """Working days strictly after today and strictly before start: the notice an employee gave."""
    if start <= today + timedelta(days=1):
        return 0
    return len(
        working_days(
            today + timedelta(days=1), start - timedelta(days=1), country=country, subdivision=subdivision
        ).dates
    )
