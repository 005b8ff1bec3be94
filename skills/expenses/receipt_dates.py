"""Dates in a receipt's text: the forms they are printed in, the date order, and the date of the receipt."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from bot.date_words import MONTH_NUMBERS, ORDINAL_SUFFIX

# How an all-numeric date with a short year is read: 03/04/18 is 3 April 2018 (DMY), 4 March 2018 (MDY) or
# 4 April 2003 (YMD). Four-digit years first (2018-04-03) and month names (3 APR 2018) read the same in any order.
DateOrder = Literal["DMY", "MDY", "YMD"]
# Day first: the receipts this bot sees first are Malaysian (like British, European and most Asian ones).
DEFAULT_DATE_ORDER: DateOrder = "DMY"

# Month names as receipts print them: English, and Malay where it differs (MAC, MEI, OGOS, DIS …).
_MALAY_MONTHS = {
    "JANUARI": 1, "FEBRUARI": 2, "MAC": 3, "MEI": 5, "JULAI": 7, "OGOS": 8, "OKT": 10, "OKTOBER": 10, "DIS": 12,
    "DISEMBER": 12,
}  # fmt: skip
_MONTHS = {word.upper(): number for word, number in MONTH_NUMBERS.items()} | _MALAY_MONTHS
_MONTH = r"(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
# A four-digit year run into the time printed after it (25/12/20188:13:39PM, 05MAR201818:24: OCR lost the space).
_GLUED_TIME = r"(?<=(?:19|20)\d\d)(?=\d{1,2}:\d{2})"
_DAY_MONTH_YEAR = re.compile(
    rf"(?<![\dA-Z])(?P<d>\d{{1,2}}){ORDINAL_SUFFIX}?[\s\-/.,]*{_MONTH}[\s\-/.,']*(?P<y>\d{{4}}|\d{{2}})"
    rf"(?:(?!\d)|{_GLUED_TIME})",
    re.I,
)
_MONTH_DAY_YEAR = re.compile(
    rf"(?<![A-Z]){_MONTH}[\s\-/.]*(?P<d>\d{{1,2}}){ORDINAL_SUFFIX}?[,\s\-/.]+(?P<y>\d{{4}}|\d{{2}})(?!\d)", re.I
)
# Where a numeric date may start: not inside a number, a time or a code; right after a label's colon it may, as
# OCR often loses the space there ("Date:25/12/2018").
_START = r"(?:(?<![\w.,:/-])|(?<=[A-Za-z]:))"
_YEAR_FIRST = re.compile(_START + r"(?P<y>(?:19|20)\d{2})\s?[\-/.]\s?(?P<m>\d{1,2})\s?[\-/.]\s?(?P<d>\d{1,2})(?!\d)")
# Spaces are allowed only around slashes: "3-7 - 15" is a part number, "25 / 12 / 2018" a date.
_NUMERIC = re.compile(
    _START + r"(?P<a>\d{1,2})(?:(?P<sep>[-.])|\s?(?P<slash>/)\s?)(?P<b>\d{1,2})"
    rf"(?:(?P=sep)|\s?(?P=slash)\s?)(?P<y>\d{{4}}|\d{{2}})(?:(?![\d,/-]|\.\d)|{_GLUED_TIME})"
)
# A two-digit year run into a two-digit hour (18-11-1813:58 is 18-11-18 13:58); a one-digit hour would be ambiguous.
_SHORT_YEAR_GLUED = re.compile(
    _START + r"(?P<a>\d{1,2})(?P<sep>[-/.])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{2})(?=\d{2}:\d{2})"
)
_DATE_GLUED_TO_TIME = re.compile(
    r"\d{1,2}\s?[-/.]?\s?(?:\d{1,2}|[A-Z]{3,9})\s?[-/.]?\s?"
    rf"(?:\d{{4}}{_GLUED_TIME}|\d{{2}}(?=\d{{2}}:\d{{2}}))",
    re.I,
)
_COMPACT = re.compile(r"(?<!\d)(?P<n>\d{8})(?!\d)")
# A day-first date that lost one separator to OCR (2703/2018, 27/032018): only with a four-digit 19xx/20xx year.
_HALF_SEPARATED = re.compile(
    _START + r"(?P<d>\d{2})(?:(?P<m1>\d{2})\s?[-/.]\s?|\s?[-/.]\s?(?P<m2>\d{2}))(?P<y>(?:19|20)\d{2})(?![\d,/-]|\.\d)"
)
# OCR's slips on a till's date: a stray digit before the year (5/3/42018), spaces around dashes or dots when the
# time follows (18-10- 17 15:16, 12. 01-19 21:13).
_STRAY_DIGIT_YEAR = re.compile(
    _START + r"(?P<a>\d{1,2})\s?/\s?(?P<b>\d{1,2})\s?/\s?\d(?P<y>(?:19|20)\d{2})(?![\d,/-]|\.\d)"
)
_SPACED_BEFORE_TIME = re.compile(
    _START + r"(?P<a>\d{1,2})\s?[-.]\s?(?P<b>\d{1,2})\s?[-.]\s?(?P<y>\d{4}|\d{2})(?=\s+\d{1,2}[:.]\d{2}\b)"
)
_DATE_LABEL = re.compile(r"\bDATE\b|\bTARIKH\b|\bDT\b", re.I)
_TIME_AFTER = re.compile(r"^\W{0,3}\d{1,2}\s?[:.]\s?\d{2}\b")
_FIRST_YEAR = 1990


def _year(text: str) -> int:
    year = int(text)
    return year + 2000 if year < 100 else year  # two-digit years on receipts are this century


def _safe_date(year: int, month: int, day: int) -> date | None:
    # A receipt is not from the future (a year ahead allows for clocks and time zones): a later year is misread.
    if not _FIRST_YEAR <= year <= date.today().year + 1:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def dates_in(text: str, *, date_order: DateOrder, compact: bool) -> list[tuple[int, date]]:
    """Every date in text with its position; eight-digit runs (20180315, 15032018) only when compact."""
    found: list[tuple[int, date]] = []
    taken: list[tuple[int, int]] = []

    def add(match: re.Match[str], value: date | None) -> None:
        span = match.span()
        if value is None or any(s < span[1] and span[0] < e for s, e in taken):
            return
        taken.append(span)
        found.append((span[0], value))

    for match in _DAY_MONTH_YEAR.finditer(text):
        add(match, _safe_date(_year(match["y"]), _MONTHS[match["mon"].upper()], int(match["d"])))
    for match in _MONTH_DAY_YEAR.finditer(text):
        add(match, _safe_date(_year(match["y"]), _MONTHS[match["mon"].upper()], int(match["d"])))
    for match in _YEAR_FIRST.finditer(text):
        add(match, _safe_date(int(match["y"]), int(match["m"]), int(match["d"])))
    numeric = [
        *_NUMERIC.finditer(text),
        *_STRAY_DIGIT_YEAR.finditer(text),
        *_SPACED_BEFORE_TIME.finditer(text),
        *_SHORT_YEAR_GLUED.finditer(text),
    ]
    for match in numeric:
        a, b, year = int(match["a"]), int(match["b"]), _year(match["y"])
        if date_order == "MDY":
            add(match, _safe_date(year, a, b) or _safe_date(year, b, a))
        elif date_order == "DMY":
            add(match, _safe_date(year, b, a) or _safe_date(year, a, b))
        elif len(match["y"]) == 2:  # YMD: 18/03/15 is 15 March 2018
            add(match, _safe_date(_year(match["a"]), b, int(match["y"])))
        else:  # a four-digit year last cannot be read year first
            add(match, _safe_date(year, b, a) or _safe_date(year, a, b))
    if date_order != "MDY":
        for match in _HALF_SEPARATED.finditer(text):
            add(match, _safe_date(int(match["y"]), int(match["m1"] or match["m2"]), int(match["d"])))
    if compact:
        for match in _COMPACT.finditer(text):
            n = match["n"]
            add(
                match,
                _safe_date(int(n[:4]), int(n[4:6]), int(n[6:])) or _safe_date(int(n[4:]), int(n[2:4]), int(n[:2])),
            )
    found.sort()
    return found


def find_date(lines: list[str], *, date_order: DateOrder) -> tuple[date | None, int]:
    """The receipt's date and how firmly it was found: one on a line labelled DATE first, then one printed
    with a time (the till's timestamp), else the first date printed."""
    first: date | None = None
    timed: date | None = None
    for index, line in enumerate(lines):
        labelled = bool(_DATE_LABEL.search(line))
        dates = dates_in(line, date_order=date_order, compact=labelled)
        if not dates and labelled and index + 1 < len(lines):
            dates = dates_in(lines[index + 1], date_order=date_order, compact=False)
        if dates and labelled:
            return dates[0][1], 3
        for position, value in dates:
            first = first or value
            glued = _DATE_GLUED_TO_TIME.match(line, position)
            if timed is None and (glued or _TIME_AFTER.search(_after_date(line, position))):
                timed = value
    return (timed, 2) if timed else (first, 1 if first else 0)


def _after_date(line: str, position: int) -> str:
    """The text after the date starting at position (its first run of non-space characters skipped)."""
    return re.sub(r"^\S+(?:\s[A-Za-z]{3,9}\.?\s\d{2,4})?", "", line[position:], count=1)
