"""How the insights measure a period: UTC bounds, epoch seconds worked out in SQL, medians and percentiles."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.elements import ColumnElement


@dataclass(frozen=True)
class Durations:
    """How long something took, over `count` cases, in seconds."""

    count: int
    median_seconds: float | None
    p90_seconds: float | None


def utc_bounds(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    # SQLite compares datetimes as text without their offset, so every bound is turned into UTC first.
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("the period must be given as timezone-aware datetimes")
    return start.astimezone(UTC), end.astimezone(UTC)


def within(
    column: InstrumentedAttribute[datetime] | InstrumentedAttribute[datetime | None], start: datetime, end: datetime
) -> ColumnElement[bool]:
    return (column >= start) & (column < end)


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The q-th quantile (0..1) by linear interpolation between the closest ranks (numpy's default)."""
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def durations(seconds: Iterable[float]) -> Durations:
    """Median and 90th percentile of the given durations (None when there are none)."""
    values = sorted(seconds)
    return Durations(count=len(values), median_seconds=percentile(values, 0.5), p90_seconds=percentile(values, 0.9))


def share_of(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def epoch_seconds(
    session: Session, column: InstrumentedAttribute[datetime] | InstrumentedAttribute[datetime | None]
) -> Any:
    """Seconds since 1970 (UTC) of a timestamp column, worked out by the database: for 10k rows this is
    several times cheaper than building timezone-aware datetimes in Python (PostgreSQL especially)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", column)
    return (func.julianday(column) - 2440587.5) * 86400.0  # SQLite stores UTC; julianday keeps milliseconds


def rounded_seconds(value: object) -> float | None:
    # Rounded to the millisecond: SQLite's julianday arithmetic carries float noise well below that.
    return None if value is None else round(float(value), 3)  # type: ignore[arg-type]


def utc_day(session: Session, column: InstrumentedAttribute[datetime]) -> ColumnElement[object]:
    # PostgreSQL's date() of a timestamptz uses the session's time zone; the chart's days are UTC days.
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)
