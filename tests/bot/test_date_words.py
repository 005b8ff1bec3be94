"""The shared date words: the tables agree with their regex fragments, and the day formats replies use."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from bot.date_words import (
    ABBREVIATIONS,
    MONTH,
    MONTH_NAME,
    MONTH_NUMBERS,
    MONTHS,
    NUMBER_WORDS,
    ORDINAL_SUFFIX,
    RELATIVE_DAYS,
    WEEKDAY,
    WEEKDAY_NAME,
    WEEKDAY_NUMBERS,
    WEEKDAYS,
    fmt_day,
    fmt_moment,
    number_words,
)


def test_names_follow_the_calendar() -> None:
    assert MONTHS[0] == "january" and MONTHS[8] == "september" and len(MONTHS) == 12
    assert WEEKDAYS[date(2026, 3, 10).weekday()] == "tuesday" and len(WEEKDAYS) == 7
    assert MONTH_NUMBERS["sept"] == MONTH_NUMBERS["sep"] == MONTH_NUMBERS["september"] == 9
    assert WEEKDAY_NUMBERS["tue"] == WEEKDAY_NUMBERS["tues"] == 1
    assert WEEKDAY_NUMBERS["thur"] == WEEKDAY_NUMBERS["thurs"] == WEEKDAY_NUMBERS["thu"] == 3
    assert ABBREVIATIONS["sept"] == "september" and ABBREVIATIONS["weds"] == "wednesday"
    assert "may" not in ABBREVIATIONS and "monday" not in ABBREVIATIONS


def test_fragments_take_every_word_of_their_tables() -> None:
    for word in MONTH_NUMBERS:
        assert re.fullmatch(MONTH, word), word
    for word in WEEKDAY_NUMBERS:
        assert re.fullmatch(WEEKDAY, word), word
    assert all(re.fullmatch(MONTH_NAME, name) for name in MONTHS)
    assert all(re.fullmatch(WEEKDAY_NAME, name) for name in WEEKDAYS)
    assert not re.fullmatch(MONTH_NAME, "sept") and not re.fullmatch(WEEKDAY_NAME, "thurs")
    # A longer weekday is never cut short by a shorter one.
    assert re.match(WEEKDAY, "thursday").group() == "thursday"  # type: ignore[union-attr]
    assert [m.group() for m in re.finditer(rf"\d+{ORDINAL_SUFFIX}", "1st 22nd 3rd 9th 4")] == [
        "1st",
        "22nd",
        "3rd",
        "9th",
    ]


@pytest.mark.parametrize(("highest", "words"), [(10, "ten"), (12, "twelve")])
def test_number_words_up_to(highest: int, words: str) -> None:
    pattern = number_words(highest)
    assert pattern.split("|")[-1] == words
    assert all(NUMBER_WORDS[word] <= highest for word in pattern.split("|"))
    assert re.fullmatch(number_words(3, space=r"\s"), "a couple\tof")


def test_relative_days() -> None:
    assert [RELATIVE_DAYS[w] for w in ("day before yesterday", "yesterday", "today", "tomorrow")] == [-2, -1, 0, 1]
    assert RELATIVE_DAYS["day after tomorrow"] == 2


def test_formats() -> None:
    assert fmt_day(date(2026, 3, 1)) == "Sun 1 Mar 2026"
    assert fmt_day(date(2026, 12, 30), year=False) == "Wed 30 Dec"
    assert fmt_day(None) == ""
    assert fmt_moment(datetime(2026, 3, 10, 9, 5, tzinfo=UTC)) == "2026-03-10 09:05"
