"""The day an expense was spent, read from its sentence: a date, a weekday or a relative day, in the past."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from bot.date_words import (
    MONTH,
    MONTH_NUMBERS,
    NUMBER_WORDS,
    ORDINAL_SUFFIX,
    RELATIVE_DAYS,
    WEEKDAY,
    WEEKDAY_NUMBERS,
    fmt_day,
    number_words,
)
from skills.expenses.amounts import currency_follows
from skills.expenses.scan import DATE, Scan

_ORD = f"{ORDINAL_SUFFIX}?"
_COUNT = number_words(10, space=r"\s")  # "3 days ago", "a couple of weeks ago"
_RANGE = r"(?:-|\s(?:to|through|thru|until|till)\s)\s?"
_YEAR = r"(?:,?\s(?P<year>(?:19|20)\d{2}))?(?!\d)"
_DATE_PATTERNS = (
    ("iso", re.compile(r"(?<![\w.,/])(?P<year>\d{4})([-/.])(?P<a>\d{1,2})\2(?P<b>\d{1,2})(?!\d|[.,]\d)")),
    (
        "numeric",
        re.compile(r"(?<![\w.,/$€£¥-])(?P<a>\d{1,2})/(?P<b>\d{1,2})(?:/(?P<year>\d{4}|\d{2}))?(?![\d/]|[.,]\d)"),
    ),
    ("numeric", re.compile(r"(?<![\w.,/$€£¥-])(?P<a>\d{1,2})\.(?P<b>\d{1,2})\.(?P<year>\d{4}|\d{2})(?!\d|[.,]\d)")),
    (
        "month_day",
        re.compile(
            rf"\b(?P<month>{MONTH})\.?\s(?:the\s)?(?P<day>\d{{1,2}}){_ORD}(?:{_RANGE}(?P<day2>\d{{1,2}}){_ORD})?"
            rf"(?![\d.,]\d|[^\W\d_]){_YEAR}",
            re.I,
        ),
    ),
    (
        "day_month",
        re.compile(
            rf"(?<![\w.,$€£¥-])(?:the\s)?(?P<day>\d{{1,2}}){_ORD}(?:{_RANGE}(?P<day2>\d{{1,2}}){_ORD})?\s(?:of\s)?"
            rf"(?P<month>{MONTH})\b\.?{_YEAR}",
            re.I,
        ),
    ),
    (
        "ordinal",
        re.compile(
            rf"\b(?:on\s)?the\s(?P<day>\d{{1,2}}){ORDINAL_SUFFIX}\b|\bon\s(?P<day2>\d{{1,2}}){ORDINAL_SUFFIX}\b", re.I
        ),
    ),
    (
        "relative",
        re.compile(
            r"\b(?:(?:the\s)?day\sbefore\syesterday|yesterday|last\snight|today|tonight|this\s(?:morning|afternoon|evening)"
            rf"|tomorrow|(?P<count>\d{{1,2}}|{_COUNT})\s(?P<unit>days?|weeks?)\sago)\b",
            re.I,
        ),
    ),
    (
        "weekday",
        re.compile(
            r"\b(?:(?P<mod>on|last|this\spast|past|this|next|coming|this\scoming)\s)?"
            rf"(?P<weekday>{WEEKDAY})"
            r"\b\.?(?:\s(?:morning|afternoon|evening|night))?(?:\s(?:of\s)?(?P<week>last|this|next)\sweek)?",
            re.I,
        ),
    ),
    (
        "vague",
        re.compile(
            r"\b(?:last|this\spast|past|earlier\sthis|this|next)\s(?:week(?:end)?|month)\b|\b(?:recently|the\sother\sday)\b",
            re.I,
        ),
    ),
)


class _Unclear(Exception):
    """A date that can't be used as written: `problem` when impossible, otherwise something to ask."""

    def __init__(self, message: str, *, problem: bool) -> None:
        super().__init__(message)
        self.message = message
        self.problem = problem


@dataclass
class _DateHit:
    start: int
    end: int
    phrase: str
    day: date
    first: date | None = None  # the first day of a range ("nov 3-5")
    explicit: bool = False  # written with its year: nothing was inferred, so no note


def read_date(scan: Scan) -> date | None:
    """The day of the expense, or None with a question or a problem saying why."""
    hits: list[_DateHit] = []
    unclear = False
    for kind, pattern in _DATE_PATTERNS:
        for match in pattern.finditer(scan.masked()):
            if kind in ("month_day", "day_month") and match.group("year") and currency_follows(scan, match.end()):
                # "nov 3 2000 EUR": the number is an amount, not a year
                cut = pattern.match(scan.masked()[: match.start("year")].rstrip(", "), match.start())
                match = cut or match
            if kind == "weekday" and not _is_weekday(match):
                continue
            scan.take(*match.span())
            phrase = re.sub(r"^on\s", "", match.group().strip(" ,."), flags=re.I)
            try:
                hit = _resolve(kind, match, phrase, scan)
            except _Unclear as error:
                unclear = True
                if error.problem:
                    scan.problem(DATE, error.message)
                else:
                    scan.ask(DATE, error.message)
                continue
            hits.append(hit)
    hits.sort(key=lambda hit: hit.start)
    hits = _join_ranges(hits, scan.text)
    days = list(dict.fromkeys(hit.day for hit in hits))
    if len(days) > 1:
        listed = " and ".join(fmt_day(day) for day in days)
        scan.ask(DATE, f"Which day should the claim carry? I found {listed}.")
        return None
    if not hits:
        if not unclear:
            scan.ask(DATE, "When did you spend it?")
        return None
    if unclear:
        return None
    hit = hits[0]
    if hit.day > scan.today:
        scan.problem(DATE, f"{fmt_day(hit.day)} is in the future — an expense is claimed once it has been spent.")
    elif hit.first is not None:
        scan.note(DATE, f'read "{hit.phrase}" as {fmt_day(hit.first)} – {fmt_day(hit.day)}, claimed on the last day')
    elif not hit.explicit:
        scan.note(DATE, f'read "{hit.phrase}" as {fmt_day(hit.day)}')
    return hit.day


def _is_weekday(match: re.Match[str]) -> bool:
    """Whether a weekday match is one: "sat" and "sun" are words too, so only after "on", "last" and the like."""
    return match.group("weekday").lower() not in ("sat", "sun") or match.group("mod") is not None


def _join_ranges(hits: list[_DateHit], text: str) -> list[_DateHit]:
    """Join "nov 3 to nov 5" into one stay, claimed on its last day."""
    joined: list[_DateHit] = []
    for hit in hits:
        last = joined[-1] if joined else None
        if last is not None and re.fullmatch(rf"\s?{_RANGE}", text[last.end : hit.start], re.I) and last.day < hit.day:
            phrase = text[last.start : hit.end].strip(" ,.")
            joined[-1] = _DateHit(last.start, hit.end, phrase, hit.day, last.first or last.day, hit.explicit)
        else:
            joined.append(hit)
    return joined


def _resolve(kind: str, match: re.Match[str], phrase: str, scan: Scan) -> _DateHit:
    today = scan.today
    start, end = match.span()
    groups = match.groupdict()
    year = int(groups["year"]) if groups.get("year") else None
    if year is not None and year < 100:
        year += 2000
    if kind == "iso":
        assert year is not None
        return _DateHit(start, end, phrase, _existing(year, int(groups["a"]), int(groups["b"])), explicit=True)
    if kind == "numeric":
        a, b = int(groups["a"]), int(groups["b"])
        month, day = (a, b) if scan.date_order == "MDY" else (b, a)
        if month > 12 and day <= 12:
            order = "month/day" if scan.date_order == "MDY" else "day/month"
            raise _Unclear(
                f"When was it? “{phrase}” isn't a {order} date — did you mean {month} {calendar.month_name[day]}?",
                problem=False,
            )
        if month > 12 or day > 31 or not month or not day:
            raise _Unclear(f"“{phrase}” isn't a date.", problem=True)
        if year is not None:
            return _DateHit(start, end, phrase, _existing(year, month, day), explicit=True)
        return _DateHit(start, end, phrase, _most_recent(month, day, today))
    if kind in ("month_day", "day_month"):
        month = MONTH_NUMBERS[groups["month"][:3].lower()]
        day, day2 = int(groups["day"]), groups.get("day2")
        last = int(day2) if day2 else day
        if year is not None:
            first, end_day = _existing(year, month, day), _existing(year, month, last)
            explicit = True
        else:
            # A stay is anchored on its first night: "nov 20-25" said on the 22nd ends in the future, not in 2025.
            first, explicit = _most_recent(month, day, today), False
            end_day = _existing(first.year, month, last)
        if first > end_day:
            raise _Unclear(f"“{phrase}” ends before it starts.", problem=True)
        return _DateHit(start, end, phrase, end_day, first if first != end_day else None, explicit)
    if kind == "ordinal":
        day = int(groups["day"] or groups["day2"])
        if not 1 <= day <= 31:
            raise _Unclear(f"“{phrase}” isn't a day of the month.", problem=True)
        year, month = today.year, today.month
        while day > _length(year, month) or date(year, month, day) > today:
            year, month = (year - 1, 12) if month == 1 else (year, month - 1)  # back to the last month that has it
        return _DateHit(start, end, phrase, date(year, month, day))
    if kind == "relative":
        return _DateHit(start, end, phrase, today + timedelta(days=_relative_offset(match)))
    if kind == "weekday":
        return _DateHit(start, end, phrase, _weekday(match, today))
    if phrase.lower().startswith("next"):
        raise _Unclear(f"“{phrase}” is in the future — an expense is claimed once it has been spent.", problem=True)
    raise _Unclear(f"Which day {phrase.lower()}? Please give the date.", problem=False)


def _relative_offset(match: re.Match[str]) -> int:
    if match.group("count"):
        count = NUMBER_WORDS.get(" ".join(match.group("count").lower().split()))
        number = count if count is not None else int(match.group("count"))
        return -number * (7 if match.group("unit").lower().startswith("week") else 1)
    words = " ".join(match.group().lower().split()).removeprefix("the ")
    # "last night" is yesterday's; "tonight" and "this morning" are today's.
    return RELATIVE_DAYS.get(words, -1 if words == "last night" else 0)


def _weekday(match: re.Match[str], today: date) -> date:
    """A weekday of the past: "tuesday" and "last tuesday" are the most recent Tuesday before today."""
    name = match.group("weekday").lower()
    weekday = WEEKDAY_NUMBERS[name]
    modifier = " ".join((match.group("mod") or "").lower().split())
    monday = today - timedelta(days=today.weekday())
    week = (match.group("week") or "").lower()
    if week:
        return monday + timedelta(weeks={"last": -1, "this": 0, "next": 1}[week], days=weekday)
    if modifier in ("next", "coming", "this coming"):
        return today + timedelta(days=(weekday - today.weekday()) % 7 or 7)
    behind = (today.weekday() - weekday) % 7
    if behind == 0 and modifier not in ("last", "past", "this past"):
        # Said on that very weekday it could be today or a week ago; people mostly say "today" for today, but
        # a wrong week is a wrong claim, so ask.
        raise _Unclear(
            f"Which {calendar.day_name[weekday]} — today ({fmt_day(today)}) or {fmt_day(today - timedelta(weeks=1))}?",
            problem=False,
        )
    return today - timedelta(days=behind or 7)


def _most_recent(month: int, day: int, today: date) -> date:
    """The latest date with this month and day that is not after today (Feb 29 goes back to a leap year)."""
    if not 1 <= month <= 12:
        raise _Unclear(f"There is no month {month}.", problem=True)
    longest = 29 if month == 2 else _length(2001, month)
    if not 1 <= day <= longest:
        raise _Unclear(_missing_day(month, day, longest), problem=True)
    year = today.year
    while day > _length(year, month) or date(year, month, day) > today:
        year -= 1
    return date(year, month, day)


def _existing(year: int, month: int, day: int) -> date:
    """The date, or a problem saying why it doesn't exist (Feb 30 is not quietly moved to March 2)."""
    if not 1 <= month <= 12:
        raise _Unclear(f"There is no month {month}.", problem=True)
    if not 1900 <= year <= 2999:
        raise _Unclear(f"{year} isn't a year I can claim for.", problem=True)
    length = _length(year, month)
    if 1 <= day <= length:
        return date(year, month, day)
    if month == 2 and day == 29:
        raise _Unclear(f"February 29, {year} doesn't exist — {year} isn't a leap year.", problem=True)
    raise _Unclear(_missing_day(month, day, length), problem=True)


def _missing_day(month: int, day: int, length: int) -> str:
    name = calendar.month_name[month]
    return f"{name} {day} doesn't exist — {name} has {length} days." if day <= 31 else f"{name} {day} doesn't exist."


def _length(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]
