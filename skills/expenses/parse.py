"""One sentence → an expense claim draft: amount, currency, date, merchant, category; anything unclear is asked.

The sentence is read in passes over one cleaned copy, each pass masking what it used so later passes can't reuse it:
clock times, then dates ("yesterday", "on tuesday", "nov 3", "11/03", ISO), then distances ("84 miles"), head counts
("4 people", "with 3 clients") and counted things ("3 nights"); the numbers left are amount candidates, and the
characters around each one (symbols, codes, words like "quid", a "k", a sign) say its currency.

price-parser turns a number into a Decimal once we know which separator is the decimal one; on its own it reads
"1.2k" as 1.2, "-20" as 20, guesses "1.234" is 1234 even for a 3-decimal currency, doesn't know "quid" or "bucks",
returns "$" and "eur" instead of ISO codes, and on a whole sentence takes the first number (often the day of a date).
So we find the amount and its currency ourselves and decide the separators; it does the digit arithmetic.

Expenses are in the past: a date without a year is its most recent past occurrence and a future date is a problem.
Questions are for what is missing or ambiguous, problems for what is impossible; nothing is guessed silently, and
every reading that was a choice ("bucks" → USD, "yesterday" → a date, a mileage sum) leaves a note for the card.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from price_parser import Price

CATEGORIES = (
    "travel", "lodging", "meals", "transport", "mileage", "software", "equipment", "phone_internet", "other",
)  # fmt: skip

# ISO 4217 active codes (funds, metals and test codes left out): the currencies a claim can be in.
ISO_4217 = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF
    CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL
    HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL
    MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON
    RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
    UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
    """.split()
)
# ISO 4217 minor units where they are not 2.
_MINOR_UNITS = {
    **dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
}


@dataclass(frozen=True)
class ParsedExpense:
    """What an expense message says; questions and problems list what it leaves unclear or impossible."""

    amount: Decimal | None  # quantised to the currency's minor unit; kept when negative or zero (that's a problem)
    currency: str | None  # ISO 4217 code
    spent_on: date | None  # kept when in the future (that's a problem)
    merchant: str | None
    category: str | None  # one of CATEGORIES
    attendees: int | None  # everyone at a meal, the employee included when they write "with 3 clients"
    distance: Decimal | None  # as written, in distance_unit
    distance_unit: str | None  # "mi" or "km"
    description: str  # the sentence, cleaned of Slack markup and extra spaces
    questions: tuple[str, ...]  # what to ask, once, because it is missing or ambiguous
    problems: tuple[str, ...]  # what makes the claim impossible as written
    notes: tuple[str, ...]  # how something was read, for the confirmation card


# Claims are stored as Numeric(14, 2) and distances as Numeric(10, 2): larger figures are no real expense, and a
# Decimal that long can't even be rounded to cents in the default 28-digit context.
MAX_AMOUNT = Decimal(10) ** 12
MAX_DISTANCE = Decimal(10) ** 8


def minor_units(currency: str) -> int:
    """Decimal places of a currency's minor unit (ISO 4217): 2 for most, 0 for JPY, 3 for KWD."""
    return _MINOR_UNITS.get(currency, 2)


def parse_expense(
    text: str,
    *,
    today: date,
    default_currency: str | None = "USD",
    mileage_rate: Decimal = Decimal("0.67"),
    mileage_unit: str = "mi",
    known_currencies: Collection[str] = ISO_4217,
    date_order: str = "MDY",
) -> ParsedExpense:
    """Read one expense sentence as of the employee's local `today`; None as default currency means always ask."""
    if date_order not in ("MDY", "DMY"):
        raise ValueError(f"date_order is MDY or DMY, not {date_order!r}")
    if not 1900 <= today.year <= 2999:
        # The years a date can be written with; near date.min or date.max "tomorrow" would not even exist.
        raise ValueError(f"today is a day between 1900 and 2999, not {today}")
    if mileage_unit not in ("mi", "km"):
        raise ValueError(f"mileage_unit is mi or km, not {mileage_unit!r}")
    if default_currency is not None and not re.fullmatch(r"[A-Z]{3}", default_currency):
        raise ValueError(f"default_currency is an ISO 4217 code, not {default_currency!r}")
    if not mileage_rate.is_finite() or mileage_rate < 0:
        raise ValueError(f"mileage_rate is a non-negative amount, not {mileage_rate!r}")
    scan = _Scan(_clean(text), today, date_order, default_currency, frozenset(known_currencies))
    _mask(scan, _TIMES)
    spent_on = _read_date(scan)
    distance, distance_unit = _read_distance(scan)
    words = _words(scan.text)
    brands = _brands(scan.text)
    is_meal = any(_CUES.get(_singular(word.lower())) == "meals" for _, _, word in words) or any(
        category == "meals" for _, _, _, category in brands
    )
    attendees = _read_headcount(scan, meal=is_meal)
    _mask(scan, _QUANTITIES)
    candidates = _amount_candidates(scan)
    if is_meal and attendees is None:
        attendees = _headcount_after_for(scan, candidates)
    mileage = distance is not None and (not candidates or any(word.lower() in _DRIVING for _, _, word in words))
    category = "mileage" if mileage else _category(words, brands)
    merchant = _merchant(scan.text, category, brands)
    if category == "mileage":
        amount, currency = _mileage(scan, candidates, distance, distance_unit, mileage_rate, mileage_unit)
    else:
        amount, currency = _amount(scan, candidates)
    if category is None:
        scan.ask(_CATEGORY, "What kind of expense is it — " + ", ".join(c.replace("_", "/") for c in CATEGORIES) + "?")
    return ParsedExpense(
        amount=amount,
        currency=currency,
        spent_on=spent_on,
        merchant=merchant,
        category=category,
        attendees=attendees,
        distance=distance,
        distance_unit=distance_unit,
        description=scan.text,
        questions=scan.ordered(scan.questions),
        problems=scan.ordered(scan.problems),
        notes=scan.ordered(scan.notes),
    )


# ---------------------------------------------------------------------------------------------- the scan

# Ranks order the card's questions, problems and notes: amount first, as an approver reads a claim.
_AMOUNT, _CURRENCY, _DISTANCE, _DATE, _CATEGORY, _ATTENDEES = range(6)
_TRANSLATE = str.maketrans(
    {"\u2013": "-", "\u2014": "-", "\u2012": "-", "\u2212": "-", "\u2018": "'", "\u2019": "'", "\uff04": "$"}
)
_SLACK_MARKUP = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


@dataclass
class _Scan:
    text: str
    today: date
    date_order: str
    default_currency: str | None
    known: frozenset[str]
    taken: bytearray = field(init=False)
    questions: list[tuple[int, str]] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)
    notes: list[tuple[int, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.taken = bytearray(len(self.text))

    def masked(self) -> str:
        """The text with used characters turned into NULs, which no pattern treats as a digit, letter or space."""
        return "".join("\x00" if used else char for char, used in zip(self.text, self.taken, strict=True))

    def take(self, start: int, end: int) -> None:
        self.taken[start:end] = b"\x01" * (end - start)

    def ask(self, rank: int, message: str) -> None:
        self.questions.append((rank, message))

    def problem(self, rank: int, message: str) -> None:
        self.problems.append((rank, message))

    def note(self, rank: int, message: str) -> None:
        self.notes.append((rank, message))

    @staticmethod
    def ordered(items: list[tuple[int, str]]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(message for _, message in sorted(items, key=lambda item: item[0])))


def _clean(text: str) -> str:
    """Slack links and mentions to their labels, dashes and quotes to ASCII, one space between words."""
    text = _SLACK_MARKUP.sub(lambda match: match.group(2) or match.group(1), text.translate(_TRANSLATE))
    return " ".join(text.split())  # also turns no-break and thin spaces (thousands separators) into plain spaces


def _mask(scan: _Scan, pattern: re.Pattern[str]) -> None:
    for match in pattern.finditer(scan.masked()):
        scan.take(*match.span())


_TIMES = re.compile(
    r"(?<![\d.,:])\d{1,2}(?::\d{2})?\s?(?:am|pm|a\.m\.|p\.m\.)(?![a-z])|(?<![\d.,:])\d{1,2}:\d{2}(?!\d)", re.I
)
# Counted things, so "3 nights" or "12 months" is never an amount. Food words only in the plural: "12 coffee" is
# more likely twelve dollars of coffee than twelve coffees.
_COUNTED = (
    r"(?:nights?|days?|tickets?|hours?|hrs?|mins?|minutes?|items?|rides?|trips?|bags?|seats?|rooms?|months?|weeks?"
    r"|years?|yrs?|licen[cs]es?|users?|units?|pcs|pieces?|pages?|stops?|pairs?|boxes|coffees|drinks|beers|bottles"
    r"|meals|lunches|dinners|sandwiches)"
)
_QUANTITIES = re.compile(
    rf"(?<![\w.,])\d{{1,4}}\s?(?:x|{_COUNTED})(?![^\W\d_])|(?<![\w.,])\d+(?:[.,]\d+)?\s?%|\bx\s?\d+\b|#\d+", re.I
)


_WORD = re.compile(r"[^\W\d_](?:[\w'&-]*[^\W_])?")


def _words(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]


def _fmt(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def _money(amount: Decimal, currency: str | None) -> str:
    return f"{amount:,} {currency}" if currency else f"{amount:,}"


# ---------------------------------------------------------------------------------------------- dates

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?"
    r"|nov(?:ember)?|dec(?:ember)?)"
)
_MONTHS = {name: i for i, name in enumerate(("jan feb mar apr may jun jul aug sep oct nov dec").split(), start=1)}
_WEEKDAYS = {name: i for i, name in enumerate(calendar.day_name)}
_WEEKDAY_ABBREVIATIONS = {
    "mon": 0, "tue": 1, "tues": 1, "wed": 2, "weds": 2, "thu": 3, "thur": 3, "thurs": 3, "fri": 4, "sat": 5, "sun": 6,
}  # fmt: skip
_ORD = r"(?:st|nd|rd|th)?"
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
            rf"\b(?P<month>{_MONTH})\.?\s(?:the\s)?(?P<day>\d{{1,2}}){_ORD}(?:{_RANGE}(?P<day2>\d{{1,2}}){_ORD})?"
            rf"(?![\d.,]\d|[^\W\d_]){_YEAR}",
            re.I,
        ),
    ),
    (
        "day_month",
        re.compile(
            rf"(?<![\w.,$€£¥-])(?:the\s)?(?P<day>\d{{1,2}}){_ORD}(?:{_RANGE}(?P<day2>\d{{1,2}}){_ORD})?\s(?:of\s)?"
            rf"(?P<month>{_MONTH})\b\.?{_YEAR}",
            re.I,
        ),
    ),
    (
        "ordinal",
        re.compile(r"\b(?:on\s)?the\s(?P<day>\d{1,2})(?:st|nd|rd|th)\b|\bon\s(?P<day2>\d{1,2})(?:st|nd|rd|th)\b", re.I),
    ),
    (
        "relative",
        re.compile(
            r"\b(?:(?:the\s)?day\sbefore\syesterday|yesterday|last\snight|today|tonight|this\s(?:morning|afternoon|evening)"
            r"|tomorrow|(?P<count>\d{1,2}|a|an|one|two|three|four|five|six|seven|eight|nine|ten|a\scouple\sof|couple\sof)"
            r"\s(?P<unit>days?|weeks?)\sago)\b",
            re.I,
        ),
    ),
    (
        "weekday",
        re.compile(
            r"\b(?:(?P<mod>on|last|this\spast|past|this|next|coming|this\scoming)\s)?"
            r"(?P<weekday>monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tues?|weds?|thu|thurs?|fri|sat|sun)"
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


def _read_date(scan: _Scan) -> date | None:
    """The day of the expense, or None with a question or a problem saying why."""
    hits: list[_DateHit] = []
    unclear = False
    for kind, pattern in _DATE_PATTERNS:
        for match in pattern.finditer(scan.masked()):
            if kind in ("month_day", "day_month") and match.group("year") and _currency_follows(scan, match.end()):
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
                    scan.problem(_DATE, error.message)
                else:
                    scan.ask(_DATE, error.message)
                continue
            hits.append(hit)
    hits.sort(key=lambda hit: hit.start)
    hits = _join_ranges(hits, scan.text)
    days = list(dict.fromkeys(hit.day for hit in hits))
    if len(days) > 1:
        listed = " and ".join(_fmt(day) for day in days)
        scan.ask(_DATE, f"Which day should the claim carry? I found {listed}.")
        return None
    if not hits:
        if not unclear:
            scan.ask(_DATE, "When did you spend it?")
        return None
    if unclear:
        return None
    hit = hits[0]
    if hit.day > scan.today:
        scan.problem(_DATE, f"{_fmt(hit.day)} is in the future — an expense is claimed once it has been spent.")
    elif hit.first is not None:
        scan.note(_DATE, f'read "{hit.phrase}" as {_fmt(hit.first)} – {_fmt(hit.day)}, claimed on the last day')
    elif not hit.explicit:
        scan.note(_DATE, f'read "{hit.phrase}" as {_fmt(hit.day)}')
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


def _resolve(kind: str, match: re.Match[str], phrase: str, scan: _Scan) -> _DateHit:
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
        month = _MONTHS[groups["month"][:3].lower()]
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
    word = match.group().lower()
    if match.group("count"):
        count = _NUMBER_WORDS.get(" ".join(match.group("count").lower().split()))
        number = count if count is not None else int(match.group("count"))
        return -number * (7 if match.group("unit").lower().startswith("week") else 1)
    if "before" in word:
        return -2
    if word.startswith(("yesterday", "last")):
        return -1
    return 1 if word == "tomorrow" else 0


def _weekday(match: re.Match[str], today: date) -> date:
    """A weekday of the past: "tuesday" and "last tuesday" are the most recent Tuesday before today."""
    name = match.group("weekday").lower()
    weekday = _WEEKDAYS.get(name.capitalize(), _WEEKDAY_ABBREVIATIONS.get(name.rstrip("."), 0))
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
            f"Which {calendar.day_name[weekday]} — today ({_fmt(today)}) or {_fmt(today - timedelta(weeks=1))}?",
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


# ---------------------------------------------------------------------------------------------- amounts


@dataclass(frozen=True)
class _Marker:
    text: str  # as written
    codes: tuple[str, ...]  # possible ISO codes, the usual one first; () means the default currency
    settled: bool = True  # False when the codes are equally likely ("kr": SEK, NOK, DKK, ISK)
    scale: Decimal = Decimal(1)  # "grand" 1000, "cents" 0.01
    slang: bool = False  # always say how it was read
    unknown: bool = False  # looks like a currency we don't know ("zorkmids", "XYZ")
    weak: bool = False  # only a guess from an unfamiliar word after the number


_DOLLARS = ("USD", "CAD", "AUD", "NZD", "SGD", "HKD")


def _markers(
    keys: str, codes: str, *, settled: bool = True, slang: bool = False, scale: Decimal = Decimal(1)
) -> dict[str, _Marker]:
    return {key: _Marker(key, tuple(codes.split()), settled, scale, slang) for key in keys.split("|")}


# What a symbol or word before/after a number can mean, the usual currency first.
_MARKERS: dict[str, _Marker] = {}
for _table in (
    _markers("$", " ".join(_DOLLARS) + " MXN"),
    _markers("us$|usd$", "USD"),
    _markers("c$|ca$|can$", "CAD"),
    _markers("a$|au$", "AUD"),
    _markers("nz$", "NZD"),
    _markers("hk$", "HKD"),
    _markers("s$|sg$", "SGD"),
    _markers("r$", "BRL"),
    _markers("mx$", "MXN"),
    _markers("€|euro|euros", "EUR"),
    _markers("£|pound|pounds|sterling|british pounds", "GBP"),
    _markers("quid", "GBP", slang=True),
    _markers("¥|￥", "JPY CNY"),
    _markers("yen|円|japanese yen", "JPY"),
    _markers("cn¥|元|yuan|renminbi|rmb|chinese yuan", "CNY"),
    _markers("₹|rs|rs.|rupee|rupees", "INR PKR LKR NPR"),
    _markers("indian rupees", "INR"),
    _markers("₩|won", "KRW"),
    _markers("₽|ruble|rubles|rouble|roubles", "RUB"),
    _markers("₺|lira|liras|lire", "TRY"),
    _markers("₪|shekel|shekels", "ILS"),
    _markers("₱", "PHP"),
    _markers("₫|dong", "VND"),
    _markers("฿|baht", "THB"),
    _markers("₴|hryvnia|hryvnias", "UAH"),
    _markers("₦|naira", "NGN"),
    _markers("zł|zloty|złoty|zlotys|zlotych", "PLN"),
    _markers("kč|koruna|korun", "CZK"),
    _markers("forint|forints", "HUF"),
    _markers("rand", "ZAR"),
    _markers("reais", "BRL"),
    _markers("ringgit", "MYR"),
    _markers("rupiah", "IDR"),
    _markers("lei", "RON"),
    _markers("egyptian pounds", "EGP"),
    _markers("dirham|dirhams", "AED MAD"),
    _markers("riyal|riyals", "SAR QAR"),
    _markers("franc|francs|swiss francs", "CHF"),
    _markers("krona|kronor|swedish krona|swedish kronor", "SEK"),
    _markers("danish krone|danish kroner", "DKK"),
    _markers("norwegian krone|norwegian kroner", "NOK"),
    _markers("kr|kr.", "SEK NOK DKK ISK", settled=False),
    _markers("krone|kroner", "NOK DKK", settled=False),
    _markers("peso|pesos", "MXN ARS CLP COP PHP UYU", settled=False),
    _markers("mexican peso|mexican pesos", "MXN"),
    _markers("shilling|shillings", "KES UGX TZS", settled=False),
    _markers("dollar|dollars", " ".join(_DOLLARS)),
    _markers("buck|bucks", " ".join(_DOLLARS), slang=True),
    _markers("us dollars|us dollar|american dollars", "USD"),
    _markers("canadian dollars|canadian dollar", "CAD"),
    _markers("australian dollars|australian dollar|aussie dollars", "AUD"),
    _markers("nz dollars|new zealand dollars", "NZD"),
    _markers("singapore dollars|singapore dollar", "SGD"),
    _markers("hk dollars|hong kong dollars", "HKD"),
    _markers("grand", "", scale=Decimal(1000)),  # in the default currency
    _markers("cent|cents", "", scale=Decimal("0.01")),
):
    _MARKERS.update(_table)
# Lower-case codes are accepted only where they are no English word ("all", "top", "try", "cup" and "pen" are codes).
_LOWER_CODES = frozenset(
    "usd eur gbp jpy chf cad aud nzd sek nok dkk pln czk huf inr cny hkd sgd mxn brl zar krw rub ils thb aed sar "
    "isk ron bgn myr idr php vnd uah ngn kes egp".split()
)
# Markers that stand before a number: symbols, "kr 200", and (checked in code) any three-letter code.
_PREFIX_KEYS = sorted(
    (
        key
        for key in _MARKERS
        if " " not in key and (not key.isascii() or not key.isalpha() or key in ("kr", "rmb", "rs"))
    ),
    key=len,
    reverse=True,
)
_SYMBOL_RE = "|".join(re.escape(key) for key in _PREFIX_KEYS if not key.isalpha())
_MONEY_WORDS_RE = "|".join(re.escape(key) for key in sorted(_MARKERS, key=len, reverse=True) if key[0].isalpha())
_NUMBER = re.compile(
    r"(?<![\d.,'])(?:\d{1,3}(?:\s\d{3})+(?:[.,]\d{1,2})?(?![\d.,]?\d)|\d+(?:[.,']\d+)*|[.,]\d{1,2}(?![\d.,]))"
)
_APPROX = r"(?P<approx>(?:about|around|roughly|approximately|approx\.?|circa|ca\.|almost|nearly|like|maybe|~)\s?)?"
_MINUS = r"(?P<minus>minus\s|(?:(?<=[\s(:])|^)-)?"
_PREFIX = re.compile(
    rf"{_APPROX}{_MINUS}(?P<marker>(?<![^\W\d_])(?:{'|'.join(re.escape(k) for k in _PREFIX_KEYS)}|[^\W\d_]{{3}}))"
    r"\s?(?P<sign>-)?\Z",
    re.I,
)
_PREFIX_BARE = re.compile(rf"{_APPROX}{_MINUS}\Z", re.I)
_SUFFIX = re.compile(
    rf"(?P<k>\s?k(?![^\W\d_]))?(?P<ish>ish\b)?(?:(?P<space>\s?)(?P<marker>{_SYMBOL_RE}"
    r"|[^\W\d_]+\.?(?:\s[^\W\d_]+){0,2}))?",
    re.I,
)
_TENS = {word: 20 + 10 * i for i, word in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
_WORDS_AMOUNT = re.compile(
    rf"\b(?P<number>(?:a|one)\shundred|(?:{'|'.join(_TENS)})(?:[-\s](?:one|two|three|four|five|six|seven|eight|nine))?"
    r"|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen"
    rf"|seventeen|eighteen|nineteen)\s(?P<marker>{_MONEY_WORDS_RE})\b",
    re.I,
)
_VAGUE_AMOUNT = re.compile(
    r"\b(?:a\slot|lots|a\sbunch|some\smoney|a\sfew\s(?:bucks|quid|dollars|euros|pounds)|a\sfortune|too\smuch|a\sbit"
    r"|loads|a\scouple\sof\s(?:bucks|quid|dollars|euros|pounds))\b",
    re.I,
)


@dataclass
class _Candidate:
    start: int  # the span of the number and its markers, in the cleaned text
    end: int
    number: str  # the digits as written
    marker: _Marker | None
    k: bool = False
    negative: bool = False
    approx: str | None = None
    words: bool = False  # written in words: "twenty bucks"

    def phrase(self, text: str) -> str:
        return text[self.start : self.end].strip()


def _amount_candidates(scan: _Scan) -> list[_Candidate]:
    """Every number left after dates, distances and counts, with the currency markers and sign around it."""
    masked = scan.masked()
    candidates: list[_Candidate] = []
    position = 0
    while match := _NUMBER.search(masked, position):
        start, end = match.span()
        number = match.group()
        position = end
        offset = max(0, start - 24)
        before = masked[offset:start]
        prefix = _PREFIX.search(before)
        marker = _marker(prefix.group("marker"), scan, after=False) if prefix else None
        if prefix is None or marker is None:  # "for 12", "tip 5": a word before the number, not a currency code
            prefix = _PREFIX_BARE.search(before)
            assert prefix is not None  # every part of it is optional
        if start and masked[start - 1].isalpha() and marker is None:
            continue  # part of an identifier: "LH400", "i7", "A4"
        suffix = _SUFFIX.match(masked, end)
        assert suffix is not None  # every part of it is optional
        k = bool(suffix.group("k"))
        after, marker_end = _suffix_marker(suffix, scan)
        if after is None and suffix.group("marker") and not suffix.group("space") and not (k or suffix.group("ish")):
            continue  # letters glued to the digits: "3rd", "2x", "5ft"
        marker = _combined(scan, match.group(), marker, after)
        if marker is None and " " in number:
            # "3 230" without a currency is two numbers, not thousands grouped by a space
            number = number.split()[0]
            end = position = marker_end = start + len(number)
            k = False
        first = min((prefix.start(name) for name in ("minus", "marker") if prefix.groupdict().get(name)), default=None)
        approx = prefix.group("approx") or suffix.group("ish")
        candidates.append(
            _Candidate(
                start=offset + first if first is not None else start,
                end=max(end, marker_end),
                number=number,
                marker=marker,
                k=k,
                negative=bool(prefix.group("minus") or prefix.groupdict().get("sign")),
                approx=approx.strip() if approx else None,
            )
        )
    for match in _WORDS_AMOUNT.finditer(masked):
        marker = _MARKERS[match.group("marker").lower()]
        words = re.split(r"[\s-]", match.group("number").lower())
        value = 100 if words[-1] == "hundred" else sum(_TENS.get(word, _NUMBER_WORDS.get(word, 0)) for word in words)
        candidates.append(_Candidate(match.start(), match.end(), str(value), marker, words=True))
    candidates.sort(key=lambda candidate: candidate.start)
    return _with_cents(scan.text, candidates)


def _with_cents(text: str, candidates: list[_Candidate]) -> list[_Candidate]:
    """Join "12 dollars 50 cents" into one amount: 12.50 in the dollars' currency."""
    joined: list[_Candidate] = []
    for candidate in candidates:
        last = joined[-1] if joined else None
        cents = candidate.marker is not None and candidate.marker.scale == Decimal("0.01")
        if (
            cents
            and last is not None
            and last.marker is not None
            and last.marker.scale == 1
            and last.number.isdigit()
            and candidate.number.isdigit()
            and int(candidate.number) < 100
            and re.fullmatch(r"\s(?:and\s)?", text[last.end : candidate.start])
        ):
            number = f"{last.number}.{int(candidate.number):02d}"
            joined[-1] = _Candidate(last.start, candidate.end, number, last.marker, negative=last.negative, words=True)
            continue
        joined.append(candidate)
    return joined


def _combined(scan: _Scan, number: str, before: _Marker | None, after: _Marker | None) -> _Marker | None:
    """One marker from those before and after a number: "$45 USD" is USD; "$45 EUR" is a question."""
    if before is None or after is None:
        return before or after
    if after.weak:
        return before
    if set(before.codes) & set(after.codes):
        return before if len(before.codes) <= len(after.codes) else after
    scan.ask(_CURRENCY, f"Which currency is {number} in — {before.text} or {after.text}?")
    return before


def _suffix_marker(suffix: re.Match[str], scan: _Scan) -> tuple[_Marker | None, int]:
    """The currency after a number, trying "new zealand dollars" before "dollars"; the end of what was used."""
    number_end = suffix.end("k") if suffix.group("k") else suffix.start()
    raw = suffix.group("marker")
    for count in range(len(raw.split(" ")) if raw else 0, 0, -1):
        text = " ".join(raw.split(" ")[:count])
        marker = _marker(text, scan, after=True, first=count == 1)
        if marker is not None:
            return marker, suffix.start("marker") + len(text)
    return None, number_end


def _marker(text: str, scan: _Scan, *, after: bool, first: bool = True) -> _Marker | None:
    """What a symbol, code or word next to a number says about its currency; None when it says nothing."""
    key = text.lower()
    if key in _MARKERS:
        return _MARKERS[key]
    if len(text) == 3 and text.isalpha():
        code = text.upper()
        if (code in ISO_4217 or code in scan.known) and (text.isupper() or key in _LOWER_CODES):
            return _Marker(text, (code,))
        if text.isupper() and after:
            return _Marker(text, (), unknown=True)
    if len(text) == 1 and unicodedata.category(text) == "Sc":
        return _Marker(text, (), unknown=True)  # a currency symbol we have no code for
    if after and first and _looks_like_unknown_currency(text):
        return _Marker(text, (), unknown=True, weak=True)
    return None


_NOT_CURRENCIES = frozenset(
    """
    this thus less plus was has its his hers ours yours theirs yes perhaps always sometimes besides towards anyways
    afterwards onwards series thanks others folks tips tolls fees fares taxes charges supplies snacks groceries
    drinks sweets cakes pastries treats goods things items bits extras costs expenses receipts payments bills
    invoices refunds credits points miles kms stickers cards chargers cables adapters keyboards monitors headsets
    headphones earbuds mice apps licenses licences subscriptions seats tickets flights hotels taxis cabs rides
    trains buses lunches dinners breakfasts meals coffees beers wines pizzas sandwiches burgers tacos salads
    donuts doughnuts bagels cookies chips nuts flowers gifts books prints stamps clients colleagues people guests
    days nights weeks months years hours minutes pounds dollars euros cents bucks kroner kronor pesos
    """.split()
)


def _looks_like_unknown_currency(word: str) -> bool:
    """Whether a word after an amount is most likely a currency name: "50 zorkmids", a plural we don't know."""
    lower = word.lower()
    return (
        word.islower()
        and len(lower) >= 5
        and lower.endswith("s")
        and not lower.endswith(("ss", "us", "is", "ys"))
        and lower not in _NOT_CURRENCIES
        and _singular(lower) not in _CUES
        and _singular(lower) not in _DRIVING
    )


def _currency_follows(scan: _Scan, position: int) -> bool:
    match = _SUFFIX.match(scan.masked(), position)
    return match is not None and _suffix_marker(match, scan)[0] is not None


def _amount(scan: _Scan, candidates: list[_Candidate]) -> tuple[Decimal | None, str | None]:
    """The one amount of the claim and its currency, or None and a question."""
    strong = [c for c in candidates if c.marker is not None and not c.marker.weak]
    weak = [c for c in candidates if c.marker is not None and c.marker.weak]
    bare = [c for c in candidates if c.marker is None]
    chosen = strong or weak or bare
    if not chosen:
        vague = _VAGUE_AMOUNT.search(scan.text)
        if vague:
            scan.ask(_AMOUNT, f"How much was it exactly? “{vague.group()}” isn't an amount I can claim.")
        else:
            scan.ask(_AMOUNT, "How much was it? I couldn't find an amount.")
        return None, None
    if len(set(_reading(scan, candidate, quiet=True) for candidate in chosen)) > 1:
        listed = " and ".join(f"“{candidate.phrase(scan.text)}”" for candidate in chosen)
        scan.ask(_AMOUNT, f"How much should I claim? I found {listed} — one of them, or the total?")
        return None, None
    amount, currency = _reading(scan, chosen[0], quiet=False)
    return _checked(scan, chosen[0], amount, currency)


def _reading(scan: _Scan, candidate: _Candidate, *, quiet: bool) -> tuple[Decimal | None, str | None]:
    """The value and currency of one candidate; questions and notes only when it is the one being claimed."""
    sink = _Scan(scan.text, scan.today, scan.date_order, scan.default_currency, scan.known) if quiet else scan
    currency = _currency(sink, candidate)
    value = _value(sink, candidate, currency)
    return value, currency


def _currency(scan: _Scan, candidate: _Candidate) -> str | None:
    marker = candidate.marker
    phrase = candidate.phrase(scan.text)
    default = scan.default_currency
    if marker is None:
        if default is None:
            scan.ask(_CURRENCY, f"Which currency is “{phrase}” in?")
            return None
        return default  # _value notes it, with the amount
    if marker.unknown:
        scan.problem(_CURRENCY, f"I don't know the currency “{marker.text}”.")
        return None
    codes = marker.codes or ((default,) if default else ())
    if not codes:
        scan.ask(_CURRENCY, f"Which currency is “{phrase}” in?")
        return None
    if len(codes) == 1:
        code = codes[0]
    elif default in codes:
        code = default
    elif marker.settled:
        code = codes[0]
    else:
        scan.ask(_CURRENCY, f"Which currency do you mean by “{marker.text}” — {', '.join(codes)}?")
        return None
    if marker.slang or (len(codes) > 1 and code != default):
        scan.note(_CURRENCY, f'read "{marker.text}" as {code}')
    if code not in scan.known:
        scan.problem(_CURRENCY, f"{code} isn't a currency I can take claims in.")
    return code


def _value(scan: _Scan, candidate: _Candidate, currency: str | None) -> Decimal | None:
    """The number as a Decimal in the currency's minor unit, deciding which separator is the decimal one."""
    places = minor_units(currency or scan.default_currency or "USD")
    number = candidate.number
    phrase = candidate.phrase(scan.text)
    decimal_mark, group = _separators(number, k=candidate.k, places=places)
    if decimal_mark == "?":
        grouped = Decimal(re.sub(r"\D", "", number)).quantize(Decimal(1).scaleb(-places))
        label = f" {currency}" if currency else ""
        scan.ask(_AMOUNT, f"How much is “{phrase}” — {grouped:,}{label} or {number}{label}?")
        return None
    if decimal_mark == "!":
        scan.ask(_AMOUNT, f"How much is “{phrase}”? I can't read {number} as a number.")
        return None
    fraction = number.rsplit(decimal_mark, 1)[1] if decimal_mark else ""
    scale = (Decimal(1000) if candidate.k else Decimal(1)) * (candidate.marker.scale if candidate.marker else 1)
    if len(fraction) > places and scale == 1:
        unit = f"{currency} has" if currency else "amounts have"
        scan.ask(_AMOUNT, f"How much is “{phrase}”? {unit} {places} decimal places.")
        return None
    # The separators are decided; price-parser does the digit arithmetic (spaces, apostrophes, either mark).
    parsed = Price.fromstring(number, decimal_separator=decimal_mark or ".", digit_group_separator=group).amount
    if parsed is None:
        scan.ask(_AMOUNT, f"How much is “{phrase}”? I can't read {number} as a number.")
        return None
    if parsed * scale >= MAX_AMOUNT:
        scan.problem(_AMOUNT, f"The amount “{phrase}” is too large to claim.")
        return None
    value = (parsed * scale).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    signed = -value if candidate.negative else value
    if candidate.marker is None and currency is not None:
        scan.note(_AMOUNT, f'read "{phrase}" as {_money(signed, currency)}, your default currency')
    elif scale != 1 or group == "." or candidate.words:
        scan.note(_AMOUNT, f'read "{phrase}" as {_money(signed, currency)}')
    return signed


def _separators(number: str, *, k: bool, places: int) -> tuple[str | None, str | None]:
    """(decimal mark, group separator) of a number; "?" when truly ambiguous, "!" when it can't be a number."""
    if " " in number or "'" in number:
        group = " " if " " in number else "'"
        head, _, tail = number.partition(next((c for c in number if c in ".,"), "\x00"))
        grouped = re.fullmatch(rf"\d{{1,3}}(?:{re.escape(group)}\d{{3}})+", head)
        mark = number[len(head)] if tail else None
        return (mark, group) if grouped and (not tail or tail.isdigit()) else ("!", None)
    marks = [c for c in number if c in ".,"]
    if not marks:
        return None, None
    if len(set(marks)) == 2:
        mark = marks[-1]
        group = "," if mark == "." else "."
        if re.fullmatch(rf"\d{{1,3}}(?:{re.escape(group)}\d{{3}})*{re.escape(mark)}\d+", number):
            return mark, group
        if mark == "." and re.fullmatch(r"\d{1,2}(?:,\d{2})*,\d{3}\.\d+", number):
            return mark, group  # Indian grouping: 1,23,456.50
        return "!", None
    mark = marks[0]
    if len(marks) > 1:
        if re.fullmatch(rf"\d{{1,3}}(?:{re.escape(mark)}\d{{3}})+", number) or (
            mark == "," and re.fullmatch(r"\d{1,2}(?:,\d{2})+,\d{3}", number)
        ):
            return None, mark
        return "!", None
    head, tail = number.split(mark)
    if len(tail) == 3 and not k and head not in ("", "0") and len(head) <= 3:
        # "1,234" and "1.234" are a thousand and more unless the currency has three decimals (KWD, BHD): then ask.
        return ("?", None) if places == 3 else (None, mark)
    return mark, None


def _checked(
    scan: _Scan, candidate: _Candidate, amount: Decimal | None, currency: str | None
) -> tuple[Decimal | None, str | None]:
    if amount is None:
        return None, currency
    if amount < 0:
        scan.problem(_AMOUNT, f"The amount can't be negative ({_money(amount, currency)}) — claim what you paid.")
    elif amount == 0:
        scan.problem(_AMOUNT, "The amount is zero — there is nothing to claim.")
    elif candidate.approx:
        scan.ask(
            _AMOUNT,
            f"How much exactly? You wrote “{candidate.approx}” {_money(amount, currency)} — "
            "the claim needs the receipt's amount.",
        )
    return amount, currency


def _mileage(
    scan: _Scan,
    candidates: list[_Candidate],
    distance: Decimal | None,
    unit: str | None,
    rate: Decimal,
    rate_unit: str,
) -> tuple[Decimal | None, str | None]:
    """Distance × the mileage rate in the default currency; a written amount that disagrees is asked about."""
    currency = scan.default_currency
    written = [c for c in candidates if c.marker is not None and not c.marker.weak]
    if distance is None or unit is None:
        if not any(text.startswith("How far") for _, text in scan.questions):
            scan.ask(_DISTANCE, "How far did you drive?")
        # "mileage to the warehouse, $45": claim what was written, but the distance is still needed
        return _amount(scan, written) if written else (None, currency)
    if distance >= MAX_DISTANCE:
        return None, currency  # _read_distance has said why
    if currency is None:
        scan.ask(_CURRENCY, "Which currency is the mileage rate in?")
    places = minor_units(currency or "USD")
    if unit == rate_unit:
        exact, shown = distance * rate, f"{distance} {unit}"
    else:
        converted = distance / _KM_PER_MILE if rate_unit == "mi" else distance * _KM_PER_MILE
        exact = converted * rate
        shown = f"{distance} {unit} = {converted.quantize(Decimal('0.01'), ROUND_HALF_UP)} {rate_unit}"
    if exact >= MAX_AMOUNT:
        scan.problem(_AMOUNT, f"The amount for {shown} is too large to claim.")
        return None, currency
    amount = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    label = f" {currency}" if currency else ""
    scan.note(_DISTANCE, f"mileage: {shown} × {rate}{label} = {amount}{label}")
    if written:  # bare numbers are ignored: "84 miles, 2 stops" has no amount but the mileage
        stated, stated_currency = _reading(scan, written[0], quiet=True)
        if stated is not None and (stated, stated_currency) != (amount, currency):
            scan.ask(
                _AMOUNT,
                f"How much should I claim? {shown} × {rate}{label} = {amount}{label}, "
                f"but you wrote “{written[0].phrase(scan.text)}”.",
            )
            return None, currency
    if amount <= 0:
        scan.problem(_AMOUNT, f"The amount is {amount}{label} — there is nothing to claim.")
    return amount, currency


# ---------------------------------------------------------------------------------------------- distance and people

_DISTANCE_RE = re.compile(
    r"(?<![\w.,])(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?)\s?(?:-\s?)?"
    r"(?P<unit>miles?|mi|kilomet(?:er|re)s?|kms?)(?![^\W\d_])(?P<each>\s(?:each\sway|one\sway\seach))?",
    re.I,
)
_KM_PER_MILE = Decimal("1.609344")  # exact, by definition
_DRIVING = frozenset("drive drove driving driven mileage car personal own".split())


def _read_distance(scan: _Scan) -> tuple[Decimal | None, str | None]:
    """Miles or kilometres as written; "42 miles each way" is a round trip of 84."""
    found: list[tuple[Decimal, str]] = []
    for match in _DISTANCE_RE.finditer(scan.masked()):
        scan.take(*match.span())
        number = match.group("num")
        if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", number):
            number = number.replace(",", "")
        value = Decimal(number.replace(",", "."))  # a lone comma here is a decimal comma: "12,5 km"
        unit = "km" if match.group("unit").lower().startswith("k") else "mi"
        if match.group("each"):
            value *= 2
            scan.note(_DISTANCE, f'read "{match.group().strip()}" as a round trip of {value} {unit}')
        found.append((value, unit))
    distinct = list(dict.fromkeys(found))
    if len(distinct) > 1:
        listed = " and ".join(f"{value} {unit}" for value, unit in distinct)
        scan.ask(_DISTANCE, f"How far did you drive in all? I found {listed}.")
        return None, None
    if not distinct:
        return None, None
    value, unit = distinct[0]
    if value <= 0 or value >= MAX_DISTANCE:
        scan.problem(_DISTANCE, f"A distance of {value} {unit} can't be claimed.")
    return value, unit


_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "a couple of": 2, "couple of": 2,
}  # fmt: skip
_COUNT_WORDS = r"(?:a\scouple\sof|couple\sof|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve" \
    r"|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty)"  # fmt: skip
_PEOPLE_NOUNS = (
    r"(?:people|persons|ppl|pax|guests?|attendees?|diners|heads|covers|clients?|customers?|colleagues?|co-?workers?"
    r"|teammates?|team\smembers?|candidates?|partners?|vendors?|suppliers?|interns?|engineers?|managers?|prospects?"
    r"|friends?|visitors?|others|members?|investors?|contractors?|consultants?|execs?|executives?|folks|reports"
    r"|devs?|designers?|speakers?|hires?|new\shires?|staff)"
)
# "with" counts the employee too: "dinner with 3 clients" is 4 people at the table. A number before "people" or after
# "party of"/"table for" is already everyone.
_NUMBER_OR_WORD = rf"(?P<n>\d{{1,3}}|{_COUNT_WORDS})"
_HEADCOUNTS = (
    (1, rf"\bwith\s(?P<n>\d{{1,3}}|{_COUNT_WORDS}|a|an)\s(?!(?:few|lot|bunch|handful|number|group)\b)"
        rf"(?:[^\W\d_]+\s)?{_PEOPLE_NOUNS}\b"),
    (1, rf"\b(?:me|myself|i)\s(?:and|\+|plus)\s{_NUMBER_OR_WORD}\s(?:[^\W\d_]+\s)?{_PEOPLE_NOUNS}\b"),
    (0, rf"(?<![\w.,]){_NUMBER_OR_WORD}\s(?:other\s)?"
        r"(?:people|persons|ppl|pax|guests|attendees|diners|heads|covers|of\sus)\b"),
    (0, rf"\b(?:party|table|group)\s(?:of|for)\s{_NUMBER_OR_WORD}\b"),
)  # fmt: skip
_HEADCOUNT_RES = tuple((extra, re.compile(pattern, re.I)) for extra, pattern in _HEADCOUNTS)
# "team lunch for six": only about a meal, and not "for two nights" or "for twenty bucks"
_MEAL_FOR = re.compile(rf"\bfor\s(?P<n>{_COUNT_WORDS})\b(?!\s(?:{_MONEY_WORDS_RE}|{_COUNTED})\b)", re.I)


def _read_headcount(scan: _Scan, *, meal: bool) -> int | None:
    """Everyone at a meal (or named as people anywhere); "for six" counts only when the sentence is about a meal."""
    for extra, pattern in _HEADCOUNT_RES + (((0, _MEAL_FOR),) if meal else ()):
        match = pattern.search(scan.masked())
        if match is None:
            continue
        scan.take(*match.span())
        raw = " ".join(match.group("n").lower().split())
        count = int(raw) if raw.isdigit() else _NUMBER_WORDS[raw]
        if extra:
            who = scan.text[match.start("n") : match.end()]
            scan.note(_ATTENDEES, f'counted {count + extra} attendees: you and "{who}"')
        return count + extra
    return None


def _headcount_after_for(scan: _Scan, candidates: list[_Candidate]) -> int | None:
    """Read "lunch for 4, 86.50 EUR": a bare number after "for" is the head count when another one is the amount."""
    if len(candidates) < 2:
        return None
    for candidate in candidates:
        if candidate.marker is None and re.search(r"\bfor\s\Z", scan.text[: candidate.start], re.I):
            if candidate.number.isdigit() and 0 < int(candidate.number) <= 200:
                candidates.remove(candidate)
                return int(candidate.number)
    return None


# ---------------------------------------------------------------------------------------------- category and merchant

_CUES: dict[str, str] = {}
for _category_name, _cue_words in (
    ("transport", "taxi cab uber lyft train rail railway metro subway tube underground bus tram ferry rideshare "
     "parking toll fuel petrol gas diesel shuttle commute"),
    ("travel", "flight airfare airline plane baggage luggage visa"),
    ("lodging", "hotel motel airbnb hostel lodging accommodation accomodation resort"),
    ("meals", "lunch dinner breakfast brunch coffee meal snack drink food restaurant catering pizza sandwich takeout "
     "takeaway grocery groceries diner cafe café bistro pub"),
    ("mileage", "mileage"),
    ("software", "subscription license licence saas software app plugin hosting domain"),
    ("equipment", "keyboard mouse mice monitor headset headphones earbuds laptop webcam dock charger cable adapter "
     "adaptor chair desk ssd printer ipad tablet microphone mic phone hub"),
    ("phone_internet", "internet wifi wi-fi broadband hotspot roaming"),
    ("other", "other misc miscellaneous sundries conference registration training course books postage shipping "
     "printing stationery gift supplies pens notebooks notepads toner envelopes"),
):  # fmt: skip
    _CUES.update(dict.fromkeys(_cue_words.split(), _category_name))
_BIGRAMS = {
    ("phone", "bill"): "phone_internet", ("phone", "plan"): "phone_internet", ("phone", "contract"): "phone_internet",
    ("mobile", "bill"): "phone_internet", ("mobile", "plan"): "phone_internet", ("cell", "bill"): "phone_internet",
    ("data", "plan"): "phone_internet", ("sim", "card"): "phone_internet", ("car", "rental"): "transport",
    ("rental", "car"): "transport", ("car", "hire"): "transport", ("hire", "car"): "transport",
    ("checked", "bag"): "travel", ("per", "diem"): "meals", ("docking", "station"): "equipment",
    ("hard", "drive"): "equipment", ("annual", "plan"): "software",
}  # fmt: skip
# Words after which a cue names a place or a purpose, not what was bought: "dinner at the hotel", "taxi to lunch".
_PLACE_WORDS = frozenset("at to from in near into outside inside for after before during".split())
_DETERMINERS = frozenset("the a an my our his her their this that".split())

# Merchants we know by name (lower case → spelling, category); a few are common words and match only capitalised.
_BRANDS: dict[str, tuple[str, str | None]] = {}
for _category_or_none, _names in (
    ("transport", "Uber|Lyft|Amtrak|Eurostar|Trainline|Addison Lee|Hertz|Avis|Enterprise Rent-A-Car|Sixt|Zipcar"),
    ("travel", "Ryanair|easyJet|Lufthansa|British Airways|KLM|Air France|Delta|United Airlines|American Airlines"
     "|Southwest Airlines|JetBlue|Emirates|Qantas|Air Canada|Wizz Air|Iberia|Turkish Airlines|Expedia"),
    ("lodging", "Marriott|Hilton|Hyatt|Holiday Inn|Ibis|Premier Inn|Novotel|Sheraton|Westin|Radisson|Airbnb"
     "|Best Western|Booking.com"),
    ("meals", "Starbucks|Pret|Pret a Manger|Costa|McDonald's|McDonalds|Chipotle|Deliveroo|DoorDash|Grubhub"
     "|Uber Eats|Just Eat|Dunkin|Tim Hortons|Nando's|Wagamama|Five Guys|Greggs"),
    ("software", "GitHub|GitLab|Figma|Notion|Slack|Zoom|JetBrains|Adobe|Microsoft 365|Office 365|Dropbox|1Password"
     "|Miro|Canva|Atlassian|Jira|Confluence|ChatGPT|OpenAI|Heroku|Vercel|AWS|Google Workspace|Grammarly|Postman"),
    ("equipment", "Logitech|Dell|Lenovo|Apple Store|Best Buy|Currys|B&H|IKEA|Staples"),
    ("phone_internet", "Verizon|AT&T|T-Mobile|Vodafone|Comcast|Xfinity|Virgin Media|Sprint"),
    (None, "Amazon|Walmart|Target|Costco|eBay|Etsy|Apple|Google|Microsoft"),
):  # fmt: skip
    for _name in _names.split("|"):
        _BRANDS[_name.lower()] = (_name, _category_or_none)
_CAPITALISED_ONLY = frozenset({"delta", "notion", "slack", "zoom", "costa", "pret", "target", "sprint", "apple"})
_BRAND_RE = re.compile(
    r"(?<![\w&.-])(?P<name>"
    + "|".join(re.escape(name) for name in sorted(_BRANDS, key=len, reverse=True))
    + r")(?:\.com|\.co\.uk)?(?![\w&-]|\.\w)",  # "amazon.com" is Amazon; "slack.foo" is no brand
    re.I,
)


def _brands(text: str) -> list[tuple[int, int, str, str | None]]:
    """Known merchants in the text: (start, end, spelling, category)."""
    found = []
    for match in _BRAND_RE.finditer(text):
        key = match.group("name").lower()
        if key in _CAPITALISED_ONLY and not match.group()[0].isupper():
            continue
        name, category = _BRANDS[key]
        found.append((match.start(), match.end(), name, category))
    return found


def _singular(word: str) -> str:
    if word in _CUES or len(word) < 4 or not word.endswith("s"):
        return word
    for cut in ("es", "s"):
        if word.endswith(cut) and word[: -len(cut)] in _CUES:
            return word[: -len(cut)]
    return word


def _category(words: list[tuple[int, int, str]], brands: list[tuple[int, int, str, str | None]]) -> str | None:
    """The category of what was bought: the first cue that isn't a place or purpose; "hotel dinner" is a dinner."""
    hits: list[tuple[int, str, bool]] = []  # word index, category, demoted
    lowered = [word.lower() for _, _, word in words]

    def demoted(index: int) -> bool:
        before = index - 1
        while before >= 0 and lowered[before] in _DETERMINERS:
            before -= 1
        return before >= 0 and lowered[before] in _PLACE_WORDS

    skip: set[int] = set()
    for start, end, _name, brand_category in brands:
        inside = [i for i, (s, e, _) in enumerate(words) if s >= start and e <= end]
        skip.update(inside)
        if brand_category and inside:
            hits.append((inside[0], brand_category, demoted(inside[0])))
    for i, word in enumerate(lowered):
        if i in skip:
            continue
        pair = _BIGRAMS.get((word, lowered[i + 1])) if i + 1 < len(lowered) else None
        if pair:
            hits.append((i, pair, demoted(i)))
            skip.add(i + 1)
            continue
        category = _CUES.get(_singular(word))
        if category:
            hits.append((i, category, demoted(i)))
    if not hits:
        return None
    hits.sort()
    kept = [hit for hit in hits if not hit[2]] or hits
    index, category, _ = kept[0]
    for later_index, later_category, _ in kept[1:]:
        if later_index != index + 1:
            break
        index, category = later_index, later_category  # a noun compound names its last word: "hotel wifi"
    return category


_MERCHANT_STOPS = frozenset(
    """
    for on in with to and or yesterday today tonight last this by via during after before while because since when
    using paid spent cost costs was were is plus including incl inc but so then about around sept
    """.split()
    + [name.lower() for name in calendar.day_name]
    + [name.lower() for name in calendar.month_name if name]
    + list(_MONTHS)
)
_NOT_MERCHANTS = frozenset(
    """
    the a an my our your their his her this that work home office airport station hotel client clients customer site
    conference event night noon least all once first most some lunch dinner breakfast brunch
    house place venue team meeting
    """.split()
)
_AT_FROM = re.compile(r"\b(?P<word>at|from)\s", re.I)


def _merchant(text: str, category: str | None, brands: list[tuple[int, int, str, str | None]]) -> str | None:
    """Who was paid: the name after "at"/"from" ("at Joe's Diner"), else a merchant we know by name ("uber")."""
    for match in _AT_FROM.finditer(text):
        name = _name_after(text, match.end())
        if name is None:
            continue
        brand = next((spelling for start, _, spelling, _ in brands if start == match.end()), None)
        if brand is not None:
            return brand
        after = text[match.end() + len(name) :]
        if match.group("word").lower() == "from" and (
            category in ("travel", "transport", "mileage") or re.match(r"\s?(?:-|to\s)", after, re.I)
        ):
            continue  # "train from Leeds to York": a route, not a shop
        return name
    return brands[0][2] if brands else None


def _name_after(text: str, start: int) -> str | None:
    """Up to four words of a name, stopping at a date, a number, punctuation or a linking word."""
    names: list[tuple[int, int, str]] = []
    position = start
    while len(names) < 4:
        match = _WORD.match(text, position)
        if match is None:
            break
        word = match.group()
        if word.lower() in _MERCHANT_STOPS or (word.lower() == "the" and names):
            break
        names.append((match.start(), match.end(), word))
        position = match.end()
        if text[position : position + 1] != " ":
            break
        position += 1
    while names and names[-1][2].lower() in _NOT_MERCHANTS:
        names.pop()
    if not names:
        return None
    first = names[0][2]
    if first.lower() in _NOT_MERCHANTS and not (first == "The" and len(names) > 1 and names[1][2][0].isupper()):
        return None
    if all(_singular(word.lower()) in _CUES or word.lower() in _NOT_MERCHANTS for _, _, word in names):
        return None  # "at lunch", "from the office"
    return text[names[0][0] : names[-1][1]]


# ---------------------------------------------------------------------------------------------- corrections

# What a correction rules out: "64 not 46", "in euros, not dollars", "the 5th instead of the 4th".
_RULED_OUT = re.compile(r"\b(?:not|instead of|rather than)\b(?:\s+(?!but\b)[^\s,.;!?]+){1,3}", re.IGNORECASE)


@dataclass(frozen=True)
class Correction:
    """What a message that corrects a claim says it should be; None where it says nothing."""

    amount: Decimal | None
    currency: str | None
    spent_on: date | None


def parse_correction(
    text: str, *, today: date, known_currencies: Collection[str] = ISO_4217, date_order: str = "MDY"
) -> Correction:
    """Read "sorry, it's 64 not 46", "that was in euros", "wrong day, it was march 5": the values it gives, with
    the ones it rules out ("not 46") left out. An amount without a currency keeps the claim's currency."""
    said = _RULED_OUT.sub(" ", text)
    parsed = parse_expense(
        said, today=today, default_currency=None, known_currencies=known_currencies, date_order=date_order
    )
    amount = parsed.amount if parsed.amount is not None and parsed.amount > 0 else None
    currency = parsed.currency if amount is not None else currency_named(said, known_currencies)
    return Correction(amount=amount, currency=currency, spent_on=parsed.spent_on)


def currency_named(text: str, known: Collection[str] = ISO_4217) -> str | None:
    """The one currency a text names without an amount ("that was in euros", "make it GBP"); None when it names
    none, several, or only one whose code is unsure ("kr", "pesos")."""
    lowered = text.lower()
    codes: set[str] = set()
    for key, marker in _MARKERS.items():
        if not marker.codes or not marker.settled:
            continue
        if re.search(rf"(?<![\w'’]){re.escape(key)}(?![\w'’])", lowered):
            codes.add(marker.codes[0])
    codes.update(
        code
        for code in re.findall(r"\b[A-Za-z]{3}\b", text)
        if code.upper() in known and (code.isupper() or code in _LOWER_CODES)
    )
    codes = {code.upper() for code in codes if code.upper() in known}
    # "us dollars" also holds "dollars": both say USD.
    return codes.pop() if len(codes) == 1 else None
