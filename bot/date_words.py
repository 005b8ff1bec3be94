"""Date words shared by the date readers and replies: month and weekday names, ordinals, number words, formats."""

from __future__ import annotations

import calendar
from datetime import date, datetime

# Lower case, January first and Monday first (calendar's order, as `date.month - 1` and `date.weekday()` index).
MONTHS = tuple(calendar.month_name[i].lower() for i in range(1, 13))
WEEKDAYS = tuple(calendar.day_name[i].lower() for i in range(7))

# Every way a month or a weekday is written, lower case, to its number (months 1-12, weekdays 0 = Monday).
# The abbreviations are calendar's three letters plus the longer ones people write ("sept", "tues", "thurs").
MONTH_NUMBERS: dict[str, int] = {
    **{name: number for number, name in enumerate(MONTHS, start=1)},
    **{calendar.month_abbr[number].lower(): number for number in range(1, 13)},
    "sept": 9,
}
WEEKDAY_NUMBERS: dict[str, int] = {
    **{name: number for number, name in enumerate(WEEKDAYS)},
    **{calendar.day_abbr[number].lower(): number for number in range(7)},
    "tues": 1,
    "weds": 2,
    "thur": 3,
    "thurs": 3,
}
# Abbreviation → full name ("sept" → "september", "thurs" → "thursday"), for readers that canonicalise words.
ABBREVIATIONS: dict[str, str] = {
    **{word: MONTHS[number - 1] for word, number in MONTH_NUMBERS.items() if word not in MONTHS},
    **{word: WEEKDAYS[number] for word, number in WEEKDAY_NUMBERS.items() if word not in WEEKDAYS},
}

# Regular-expression fragments (no groups, no flags: the caller compiles them, case-insensitive where it wants).
MONTH_NAME = "(?:" + "|".join(MONTHS) + ")"  # full names only, for text whose abbreviations were expanded
WEEKDAY_NAME = "(?:" + "|".join(WEEKDAYS) + ")"
# A month as written, full or abbreviated. Written out rather than joined from MONTH_NUMBERS because this is the
# exact pattern the expense reader has always used ("sept?(?:ember)?"); tests/bot/test_date_words.py checks it takes
# every key of MONTH_NUMBERS.
MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?"
    r"|nov(?:ember)?|dec(?:ember)?)"
)
# A weekday as written, longest first so that a shorter word never cuts a longer one ("thu" in "thursday").
WEEKDAY = "(?:" + "|".join(sorted(WEEKDAY_NUMBERS, key=lambda word: (-len(word), word))) + ")"
ORDINAL_SUFFIX = "(?:st|nd|rd|th)"  # "1st", "22nd", "3rd", "9th"

# Counts written as words ("three days ago", "for a couple of weeks").
NUMBER_WORDS: dict[str, int] = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "a couple of": 2, "couple of": 2,
}  # fmt: skip


def number_words(highest: int, *, space: str = " ") -> str:
    """A fragment matching the count words up to `highest` ("a couple of|couple of|a|an|one|two|…"); `space` is
    what stands between the words of "a couple of" (a regex: " " or r"\\s")."""
    phrases = [word for word in NUMBER_WORDS if " " in word]
    words = [word for word, value in NUMBER_WORDS.items() if " " not in word and value <= highest]
    return "|".join([phrase.replace(" ", space) for phrase in phrases] + words)


# Days named relative to today, in days from it.
RELATIVE_DAYS: dict[str, int] = {
    "day before yesterday": -2,
    "yesterday": -1,
    "today": 0,
    "tomorrow": 1,
    "day after tomorrow": 2,
}


def fmt_day(day: date | None, *, year: bool = True) -> str:
    """A day as the replies write it: "Tue 10 Mar 2026" ("Tue 10 Mar" without the year); "" for None."""
    if day is None:
        return ""
    return f"{day:%a} {day.day} {day:%b %Y}" if year else f"{day:%a} {day.day} {day:%b}"


def fmt_moment(at: datetime) -> str:
    """A moment as the staff console lists it: "2026-03-10 14:05" (in the zone it is given in)."""
    return f"{at:%Y-%m-%d %H:%M}"
