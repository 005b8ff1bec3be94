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

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from skills.expenses.amounts import amount_candidates, mileage_amount, read_amount
from skills.expenses.categories import CATEGORIES, CUES, brands_in, read_category, singular
from skills.expenses.currencies import ISO_4217, currency_named
from skills.expenses.dates import read_date
from skills.expenses.distances import DRIVING, read_distance
from skills.expenses.headcounts import headcount_after_for, read_headcount
from skills.expenses.merchants import read_merchant
from skills.expenses.scan import CATEGORY, COUNTED, WORD, Scan, clean, mask


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
    scan = Scan(clean(text), today, date_order, default_currency, frozenset(known_currencies))
    mask(scan, _TIMES)
    spent_on = read_date(scan)
    distance, distance_unit = read_distance(scan)
    words = _words(scan.text)
    brands = brands_in(scan.text)
    is_meal = any(CUES.get(singular(word.lower())) == "meals" for _, _, word in words) or any(
        category == "meals" for _, _, _, category in brands
    )
    attendees = read_headcount(scan, meal=is_meal)
    mask(scan, _QUANTITIES)
    candidates = amount_candidates(scan)
    if is_meal and attendees is None:
        attendees = headcount_after_for(scan, candidates)
    mileage = distance is not None and (not candidates or any(word.lower() in DRIVING for _, _, word in words))
    category = "mileage" if mileage else read_category(words, brands)
    merchant = read_merchant(scan.text, category, brands)
    if category == "mileage":
        amount, currency = mileage_amount(scan, candidates, distance, distance_unit, mileage_rate, mileage_unit)
    else:
        amount, currency = read_amount(scan, candidates)
    if category is None:
        scan.ask(CATEGORY, "What kind of expense is it — " + ", ".join(c.replace("_", "/") for c in CATEGORIES) + "?")
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


_TIMES = re.compile(
    r"(?<![\d.,:])\d{1,2}(?::\d{2})?\s?(?:am|pm|a\.m\.|p\.m\.)(?![a-z])|(?<![\d.,:])\d{1,2}:\d{2}(?!\d)", re.I
)
_QUANTITIES = re.compile(
    rf"(?<![\w.,])\d{{1,4}}\s?(?:x|{COUNTED})(?![^\W\d_])|(?<![\w.,])\d+(?:[.,]\d+)?\s?%|\bx\s?\d+\b|#\d+", re.I
)


def _words(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group()) for m in WORD.finditer(text)]


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
