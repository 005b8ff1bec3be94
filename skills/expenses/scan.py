"""An expense sentence being read (text, characters used, questions, problems, notes), shared words, claim limits."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

# Counts written as words, shared with the date readers; amounts.py and headcounts.py import them from here.
from bot.date_words import NUMBER_WORDS as NUMBER_WORDS

# Claims are stored as Numeric(14, 2) and distances as Numeric(10, 2): larger figures are no real expense, and a
# Decimal that long can't even be rounded to cents in the default 28-digit context.
MAX_AMOUNT = Decimal(10) ** 12
MAX_DISTANCE = Decimal(10) ** 8

# Ranks order the card's questions, problems and notes: amount first, as an approver reads a claim.
AMOUNT, CURRENCY, DISTANCE, DATE, CATEGORY, ATTENDEES = range(6)
_TRANSLATE = str.maketrans(
    {"\u2013": "-", "\u2014": "-", "\u2012": "-", "\u2212": "-", "\u2018": "'", "\u2019": "'", "\uff04": "$"}
)
_SLACK_MARKUP = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


@dataclass
class Scan:
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


def clean(text: str) -> str:
    """Slack links and mentions to their labels, dashes and quotes to ASCII, one space between words."""
    text = _SLACK_MARKUP.sub(lambda match: match.group(2) or match.group(1), text.translate(_TRANSLATE))
    return " ".join(text.split())  # also turns no-break and thin spaces (thousands separators) into plain spaces


def mask(scan: Scan, pattern: re.Pattern[str]) -> None:
    for match in pattern.finditer(scan.masked()):
        scan.take(*match.span())


# Counted things, so "3 nights" or "12 months" is never an amount. Food words only in the plural: "12 coffee" is
# more likely twelve dollars of coffee than twelve coffees.
COUNTED = (
    r"(?:nights?|days?|tickets?|hours?|hrs?|mins?|minutes?|items?|rides?|trips?|bags?|seats?|rooms?|months?|weeks?"
    r"|years?|yrs?|licen[cs]es?|users?|units?|pcs|pieces?|pages?|stops?|pairs?|boxes|coffees|drinks|beers|bottles"
    r"|meals|lunches|dinners|sandwiches)"
)

WORD = re.compile(r"[^\W\d_](?:[\w'&-]*[^\W_])?")
