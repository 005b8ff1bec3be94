"""Date expressions of a leave message pinned to calendar days, or what to ask when they can't be."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import dateparser

from bot.date_words import RELATIVE_DAYS, WEEKDAYS, fmt_day
from skills.leave.date_atoms import Expr, Piece
from skills.leave.tokens import Token, phrase_of


class UnclearDate(Exception):
    """A date that can't be used as written: `problem` when impossible, otherwise something to ask."""

    def __init__(self, message: str, *, problem: bool) -> None:
        super().__init__(message)
        self.message = message
        self.problem = problem


@dataclass
class Span:
    start: date | None
    end: date | None
    lo: int  # token indices of the words it was read from
    hi: int
    start_half: str | None = None
    end_half: str | None = None
    inferred: bool = True
    detail: str = ""
    first_half: str | None = None  # the raw half of a single day, "half" when morning/afternoon is unknown


@dataclass
class DateContext:
    today: date
    order: str
    year_shift: int | None = None  # "last year" → -1, "next year" → 1, "this year" → 0
    past: bool = False  # told in the past tense ("I was sick on monday"): a bare weekday is the one that has been
    questions: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------- calendar


def resolve_expr(expr: Expr, after: date | None, tokens: list[Token], text: str, ctx: DateContext) -> Span:
    """Pin an expression to days; `after` is the day a listed date follows ("friday and monday")."""
    lo, hi, today = expr.lo, expr.hi, ctx.today
    if expr.kind == "week":
        monday = today - timedelta(days=today.weekday()) + timedelta(weeks=expr.weeks)
        if expr.weeks == 0 and today.weekday() >= 5:
            monday += timedelta(weeks=1)  # "this week" said at the weekend means the coming one
        start = max(monday, today)
        return Span(_shifted(start, ctx), _shifted(monday + timedelta(days=4), ctx), lo, hi)
    assert expr.first is not None
    first = expr.first
    if expr.kind == "range":
        assert expr.second is not None
        second = expr.second
        start, end = _resolve_range(first, second, ctx)
        if "half" in (first.half, second.half):
            day = start if first.half == "half" else end
            phrase = phrase_of(tokens, text, lo, hi)
            raise UnclearDate(
                f"Morning or afternoon on {fmt_day(day)}? “{phrase}” doesn't say which half.", problem=False
            )
        start_half = "pm" if first.half == "pm" else None  # "from Monday morning" is the whole Monday
        end_half = "am" if second.half == "am" else None
        return Span(start, end, lo, hi, start_half, end_half, first.inferred or second.inferred)
    day = _resolve(first, after if expr.follows else None, ctx)
    if expr.kind == "week_of":
        monday = day - timedelta(days=day.weekday())
        return Span(monday, monday + timedelta(days=4), lo, hi)
    if expr.kind == "duration":
        end = _add_working_days(day, expr.count) if expr.unit == "day" else _weeks_end(day, expr.count)
        unit = "working day" if expr.unit == "day" else "week"
        return Span(day, end, lo, hi, detail=f" ({expr.count} {unit}{'s' if expr.count != 1 else ''})")
    if expr.kind == "open":
        return Span(day, None, lo, hi, inferred=first.inferred, first_half=first.half)
    if expr.kind == "until":
        return Span(None, day, lo, hi, inferred=first.inferred)
    if expr.kind == "back":
        # The day before they are back; a weekend in front of it is trimmed once the start is known.
        return Span(None, day - timedelta(days=1), lo, hi, detail=f" (back {fmt_day(day)})")
    return Span(day, day, lo, hi, inferred=first.inferred, first_half=first.half)


def _resolve_range(first: Piece, second: Piece, ctx: DateContext) -> tuple[date, date]:
    _read_numeric(first, ctx)
    _read_numeric(second, ctx)
    # The end lends what the start leaves out: "3-7 March", "Dec 22 to Jan 2 2027", "Mon-Wed next week".
    if first.month is None and first.day is not None and second.month is not None and second.day is not None:
        first.month, first.year = second.month, second.year
        if first.day > second.day:
            first.month -= 1
            if first.month == 0:
                first.month, first.year = 12, (first.year - 1 if first.year else None)
    if first.month is not None and first.year is None and second.month is not None and second.year is not None:
        assert first.day is not None and second.day is not None
        later = (first.month, first.day) > (second.month, second.day)
        first.year = second.year - 1 if later else second.year
    if first.weekday is not None and first.week is None and first.modifier is None and second.week is not None:
        first.week = second.week
    start = _resolve(first, None, ctx)
    end = _resolve(second, start, ctx)
    if end < start:
        raise UnclearDate(f"The end ({fmt_day(end)}) is before the start ({fmt_day(start)}).", problem=True)
    return start, end


def _resolve(piece: Piece, anchor: date | None, ctx: DateContext) -> date:
    """Pin a piece to a day; `anchor` is the start when the piece is the end of a range."""
    today = ctx.today
    _read_numeric(piece, ctx)
    if piece.kind in ("relative", "offset"):
        day = _relative(piece, today)
        return _shifted(day, ctx) if anchor is None else day
    if piece.weekday is not None:
        if anchor is not None and piece.modifier is None and piece.week is None:
            return anchor + timedelta(days=(piece.weekday - anchor.weekday()) % 7)  # "friday to monday"
        if ctx.past and piece.modifier is None and piece.week is None:
            piece.past = True  # "I was sick on monday": the Monday that has been
        day = _weekday(piece, today)
        return _shifted(day, ctx) if anchor is None else day
    assert piece.day is not None
    if piece.month is None:
        return _checked_weekday(piece, _day_of_month(piece, anchor, ctx))
    if piece.year is None:
        piece.year = _end_year(piece, anchor) if anchor is not None else _year(piece.month, piece.day, ctx)
    return _checked_weekday(piece, _existing(piece.year, piece.month, piece.day))


def _checked_weekday(piece: Piece, day: date) -> date:
    """The day, when it is the weekday written with it ("friday the 19th"); a question when it is not."""
    if piece.named_weekday is None or piece.named_weekday == day.weekday():
        return day
    named = WEEKDAYS[piece.named_weekday].capitalize()
    raise UnclearDate(f"{fmt_day(day)} is a {day:%A}, not a {named} — which day do you mean?", problem=False)


def _read_numeric(piece: Piece, ctx: DateContext) -> None:
    """Fill month/day/year from "3/14", "14.3.2027" or "2027-03-14" in the employee's date order."""
    if piece.kind not in ("numeric", "iso") or piece.month is not None:
        return
    parts = [int(part) for part in re.split(r"[-/.]", piece.canon) if part]
    if piece.kind == "iso":
        piece.year, piece.month, piece.day = parts
        piece.inferred = False
        if not 1 <= piece.month <= 12:
            raise UnclearDate(f"“{piece.phrase}” isn't a date — there's no month {piece.month}.", problem=True)
        return
    first, second = parts[0], parts[1]
    month, day = (first, second) if ctx.order == "MDY" else (second, first)
    if len(parts) > 2:
        piece.year = parts[2] + 2000 if parts[2] < 100 else parts[2]
    if not (1 <= month <= 12 and 1 <= day <= 31):
        if 1 <= day <= 12 and 1 <= month <= 31:
            # Written the other way round ("14/3" from a US employee): ask, the order could be a slip either way.
            order = "month/day" if ctx.order == "MDY" else "day/month"
            swapped = (
                f"{calendar.month_name[day]} {month}" if ctx.order == "DMY" else f"{month} {calendar.month_name[day]}"
            )
            raise UnclearDate(f"Did you mean {swapped}? I read “{piece.phrase}” as {order}.", problem=False)
        raise UnclearDate(f"“{piece.phrase}” isn't a date.", problem=True)
    piece.month, piece.day = month, day
    # "12/9" reads differently elsewhere, so the card says how it was taken.
    piece.inferred = piece.year is None or (first <= 12 and second <= 12 and first != second)


def _relative(piece: Piece, today: date) -> date:
    phrase = piece.canon
    if piece.kind == "relative":  # "this morning" and "this afternoon" are today too
        return today + timedelta(days=RELATIVE_DAYS.get(phrase.removeprefix("the "), 0))
    # "in three days", "in a fortnight", "2 weeks from now": dateparser knows the number words and units.
    offset = (
        re.sub(r"^(.*) from (?:now|today)$", r"in \1", phrase).replace("a couple of", "2").replace("couple of", "2")
    )
    base = datetime(today.year, today.month, today.day)
    parsed: datetime | None = dateparser.parse(offset, languages=["en"], settings={"RELATIVE_BASE": base})
    if parsed is None:
        raise UnclearDate(f"Which day is “{piece.phrase}”? Please give the date.", problem=False)
    return parsed.date()


def _weekday(piece: Piece, today: date) -> date:
    assert piece.weekday is not None
    monday = today - timedelta(days=today.weekday())
    if piece.week is not None:  # "friday next week"
        return monday + timedelta(weeks=piece.week, days=piece.weekday)
    if piece.modifier == "next":
        return today + timedelta(days=(piece.weekday - today.weekday()) % 7 or 7)  # first one strictly after today
    if piece.modifier == "last" or piece.past:
        behind = (today.weekday() - piece.weekday) % 7
        return today - timedelta(days=behind or (0 if piece.past else 7))
    if piece.modifier == "this":
        day = monday + timedelta(days=piece.weekday)
        return day if day >= today else day + timedelta(weeks=1)
    return today + timedelta(days=(piece.weekday - today.weekday()) % 7)


def _day_of_month(piece: Piece, anchor: date | None, ctx: DateContext) -> date:
    """A bare day ("the 9th"): this month while still ahead (or the start's month), else the next month with it."""
    assert piece.day is not None
    if not 1 <= piece.day <= 31:
        raise UnclearDate(f"“{piece.phrase}” isn't a day of the month.", problem=True)
    base = anchor or ctx.today
    year, month = base.year, base.month
    if piece.day < base.day:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    while piece.day > calendar.monthrange(year, month)[1]:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    if anchor is None and ctx.year_shift:
        year += ctx.year_shift
    return _existing(year, month, piece.day)


def _year(month: int, day: int, ctx: DateContext) -> int:
    """The next occurrence that is not in the past, except that the last 30 days stay where they are."""
    if ctx.year_shift is not None:
        return ctx.today.year + ctx.year_shift
    cutoff = ctx.today - timedelta(days=30)
    return cutoff.year if (month, day) >= (cutoff.month, cutoff.day) else cutoff.year + 1


def _end_year(piece: Piece, anchor: date) -> int:
    """The end of a range written without a year: the start's year, or the next one when it crosses New Year."""
    assert piece.month is not None and piece.day is not None
    if (piece.month, piece.day) >= (anchor.month, anchor.day):
        return anchor.year
    rolled = date(anchor.year + 1, piece.month, min(piece.day, 28))
    # "Dec 22 to Jan 2" rolls over; "Mar 18 to Mar 14" is a slip, not an absence of a year.
    return anchor.year + 1 if (rolled - anchor).days <= 183 else anchor.year


def _existing(year: int, month: int, day: int) -> date:
    """The date, or a problem saying why it doesn't exist (Feb 30 is not quietly moved to March 2)."""
    if not 1 <= month <= 12:
        raise UnclearDate(f"There is no month {month}.", problem=True)
    if not 1900 <= year <= 2999:
        raise UnclearDate(f"{year} isn't a year I can book.", problem=True)
    name = calendar.month_name[month]
    length = calendar.monthrange(year, month)[1]
    if 1 <= day <= length:
        return date(year, month, day)
    if month == 2 and day == 29:
        raise UnclearDate(f"February 29, {year} doesn't exist — {year} isn't a leap year.", problem=True)
    if month != 2 and day == 31:
        raise UnclearDate(f"{name} 31 doesn't exist — {name} has {length} days.", problem=True)
    raise UnclearDate(f"{name} {day} doesn't exist.", problem=True)


def _shifted(day: date, ctx: DateContext) -> date:
    """Move a day by the text's "last year"/"next year", keeping its weekday (52 weeks)."""
    return day + timedelta(weeks=52 * ctx.year_shift) if ctx.year_shift else day


def _add_working_days(start: date, count: int) -> date:
    """The day on which `count` weekdays from start are used up; public holidays are counted later, per country."""
    day, counted = start, 0
    while True:
        if day.weekday() < 5:
            counted += 1
            if counted >= count:
                return day
        day += timedelta(days=1)


def _weeks_end(start: date, weeks: int) -> date:
    end = start + timedelta(weeks=weeks, days=-1)
    while end.weekday() >= 5 and end > start:
        end -= timedelta(days=1)  # a trailing weekend costs nothing, so the card ends on the Friday
    return end
