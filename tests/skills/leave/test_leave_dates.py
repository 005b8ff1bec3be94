"""Free-text leave requests: one table of phrasings with the type, days, halves and reason each must give."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import yaml

from skills.leave.dates import days_named, parse_leave

pytestmark = pytest.mark.calendar  # `make test-dates` runs these at odd moments

TODAY = date(2026, 11, 22)  # a Sunday
LEAVE_TYPES = Path(__file__).resolve().parents[3] / "skills" / "leave" / "leave_types.yml"


def _aliases() -> dict[str, str]:
    # BaseLoader keeps every scalar a string: YAML 1.1 would read the bare alias `off` as the boolean False.
    config = yaml.load(LEAVE_TYPES.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    return {alias.lower(): key for key, spec in config["types"].items() for alias in spec["aliases"]}


ALIASES = _aliases()
OUT = ALIASES.get("out")  # "out" is whatever the configuration makes of it (today: not an alias)


@dataclass(frozen=True)
class Row:
    text: str
    leave_type: str | None
    start: date | None
    end: date | None
    start_half: str | None = None
    end_half: str | None = None
    reason: str | None = None
    expect: str = ""  # "question", "problem" or "" for a clean parse
    today: date = TODAY
    order: str = "MDY"


def d(month: int, day: int, year: int = 2026) -> date:
    return date(year, month, day)


ROWS = [
    # the examples of the issue
    Row("can I take next friday off", "vacation", d(11, 27), d(11, 27)),
    Row("vacation Dec 22 to Jan 2", "vacation", d(12, 22), d(1, 2, 2027)),
    Row(
        "PTO 3/14-3/18 for my sister's wedding",
        "vacation",
        d(3, 14, 2027),
        d(3, 18, 2027),
        reason="my sister's wedding",
    ),
    Row("sick today", "sick", d(11, 22), d(11, 22)),
    Row("out tomorrow afternoon, dentist", OUT, d(11, 23), d(11, 23), "pm", reason="dentist"),
    Row("half day on the 9th", None, d(12, 9), d(12, 9), expect="question"),
    Row("parental leave starting March 1st", "parental", d(3, 1, 2027), None, expect="question"),
    # relative days and weeks
    Row("sick yesterday", "sick", d(11, 21), d(11, 21)),
    Row("off the day after tomorrow", "vacation", d(11, 24), d(11, 24)),
    Row("vacation on friday", "vacation", d(11, 27), d(11, 27)),
    Row("this friday off please", "vacation", d(11, 27), d(11, 27)),  # Fri 20 is past → the next one
    Row("was ill last monday", "sick", d(11, 16), d(11, 16)),
    Row("pto next week", "vacation", d(11, 23), d(11, 27)),
    Row("vacation this week", "vacation", d(11, 23), d(11, 27)),  # said on a Sunday: the coming week
    Row("annual leave the week of Jan 5", "vacation", d(1, 4, 2027), d(1, 8, 2027)),
    Row("Mon-Wed next week off", "vacation", d(11, 23), d(11, 25)),
    Row("off in a fortnight", "vacation", d(12, 6), d(12, 6)),
    Row("for 3 days starting Monday", None, d(11, 23), d(11, 25)),
    Row("vacay starting monday for 2 weeks", "vacation", d(11, 23), d(12, 4)),
    Row("2 weeks from Jan 4", None, d(1, 4, 2027), d(1, 15, 2027)),
    Row("need 3 days off starting the 14th", "vacation", d(12, 14), d(12, 16)),
    # weekday words against a mid-week today (Wed 25 Nov)
    Row("next friday", None, d(11, 27), d(11, 27), today=d(11, 25)),
    Row("friday next week", None, d(12, 4), d(12, 4), today=d(11, 25)),
    Row("this friday", None, d(11, 27), d(11, 27), today=d(11, 25)),
    Row("last monday", None, d(11, 23), d(11, 23), today=d(11, 25)),
    Row("wednesday", None, d(11, 25), d(11, 25), today=d(11, 25)),
    # ranges across months and years
    Row("Dec 22 - Jan 2", None, d(12, 22), d(1, 2, 2027)),
    Row("December 22nd through January 2nd", None, d(12, 22), d(1, 2, 2027)),
    Row("22 Dec – 2 Jan", None, d(12, 22), d(1, 2, 2027), order="DMY"),
    Row("3/14 to 3/18", None, d(3, 14, 2027), d(3, 18, 2027)),
    Row("2027-03-14 to 2027-03-18", None, d(3, 14, 2027), d(3, 18, 2027)),
    Row("March 3-7", None, d(3, 3, 2027), d(3, 7, 2027)),
    Row("3-7 March", None, d(3, 3, 2027), d(3, 7, 2027), order="DMY"),
    Row("28-3 March", None, d(2, 28, 2027), d(3, 3, 2027), order="DMY"),
    Row("from the 3rd to the 7th", None, d(12, 3), d(12, 7)),
    Row("between Dec 1 and Dec 5", None, d(12, 1), d(12, 5)),
    Row("Dec 22, 2026 to Jan 4, 2027", None, d(12, 22), d(1, 4, 2027)),
    Row("vacation 12/28/26-1/4/27", "vacation", d(12, 28), d(1, 4, 2027)),
    Row("vacation 22/12 to 2/1", "vacation", d(12, 22), d(1, 2, 2027), order="DMY"),
    Row("Monday afternoon to Wednesday morning", None, d(11, 23), d(11, 25), "pm", "am"),
    Row("off friday and monday", "vacation", d(11, 27), d(11, 30)),  # only the weekend between
    Row("monday, tuesday and wednesday", None, d(11, 23), d(11, 25)),
    Row("sick today and tomorrow", "sick", d(11, 22), d(11, 23)),
    Row("I need next Thursday and Friday off", "vacation", d(11, 26), d(11, 27)),
    Row("off Dec 24 & 25", "vacation", d(12, 24), d(12, 25)),  # the bare 25 borrows December
    Row("annual leave 24 and 25 December", "vacation", d(12, 24), d(12, 25), order="DMY"),
    Row("off from monday, back on the 7th", "vacation", d(11, 23), d(12, 4)),
    Row("Jan 2 to Jan 4", None, d(1, 2, 2027), d(1, 4, 2027), today=d(12, 30)),
    # single days
    Row("the 9th", None, d(12, 9), d(12, 9)),
    Row("day off on the 30th", "vacation", d(11, 30), d(11, 30)),
    Row("Dec 9", None, d(12, 9), d(12, 9)),
    Row("9 December", None, d(12, 9), d(12, 9), order="DMY"),
    Row("12/9", None, d(12, 9), d(12, 9)),
    Row("12/9", None, d(9, 12, 2027), d(9, 12, 2027), order="DMY"),  # 12 Sep 2026 is long gone
    Row("14.03.2027", None, d(3, 14, 2027), d(3, 14, 2027), order="DMY"),
    Row("out Friday the 27th", OUT, d(11, 27), d(11, 27)),
    # year inference: the last 30 days stay, older dates mean next year, written years are kept
    Row("sick Nov 20", "sick", d(11, 20), d(11, 20)),
    Row("Oct 1", None, d(10, 1, 2027), d(10, 1, 2027)),
    Row("Dec 20", None, d(12, 20), d(12, 20), today=date(2027, 1, 10)),
    Row("vacation on Jan 5 2025", "vacation", d(1, 5, 2025), d(1, 5, 2025)),
    Row("from friday to monday last year", None, d(11, 28, 2025), d(12, 1, 2025)),
    # the employee's own date: in Tokyo it is already Monday 00:30 while UTC is still on Sunday
    Row("sick tomorrow", "sick", d(11, 24), d(11, 24), today=d(11, 23)),
    # half days
    Row("tomorrow afternoon", None, d(11, 23), d(11, 23), "pm"),
    Row("friday morning", None, d(11, 27), d(11, 27), "am"),
    Row("half day friday afternoon", None, d(11, 27), d(11, 27), "pm"),
    Row("the afternoon of Dec 9", None, d(12, 9), d(12, 9), "pm"),
    Row("sick this afternoon", "sick", d(11, 22), d(11, 22), "pm"),
    Row("leaving at 2pm on friday", None, d(11, 27), d(11, 27), "pm"),
    Row("off until noon tomorrow", "vacation", d(11, 23), d(11, 23), "am"),
    Row("I am off friday", "vacation", d(11, 27), d(11, 27)),  # "am" here is no half day
    Row("half day tomorrow", None, d(11, 23), d(11, 23), expect="question"),
    # typos
    Row("off tomorow", "vacation", d(11, 23), d(11, 23)),
    Row("decmber 22", None, d(12, 22), d(12, 22)),
    Row("firday off", "vacation", d(11, 27), d(11, 27)),
    Row("vacaton dec 22 to jan 2", "vacation", d(12, 22), d(1, 2, 2027)),
    Row("out wendsday", OUT, d(11, 25), d(11, 25)),
    Row("bereavment leave on thursday", "bereavement", d(11, 26), d(11, 26)),
    # types: the longest alias wins, and a specific one beats "off"/"leave"
    Row("floating holiday on Dec 24", "floating", d(12, 24), d(12, 24)),
    Row("sick leave yesterday", "sick", d(11, 21), d(11, 21)),
    Row("day off sick yesterday", "sick", d(11, 21), d(11, 21)),
    Row("maternity leave from 2027-02-01 to 2027-05-21", "parental", d(2, 1, 2027), d(5, 21, 2027)),
    Row("sabbatical leave next week", None, d(11, 23), d(11, 27)),
    # reasons
    Row("Dec 22 to Jan 2 - family trip to Lisbon", None, d(12, 22), d(1, 2, 2027), reason="family trip to Lisbon"),
    Row(
        "vacation next week because we are moving house", "vacation", d(11, 23), d(11, 27), reason="we are moving house"
    ),
    Row(
        "For my sister's wedding, I need 3/14-3/18 off",
        "vacation",
        d(3, 14, 2027),
        d(3, 18, 2027),
        reason="my sister's wedding",
    ),
    Row("I'll be out monday (doctor's appointment)", OUT, d(11, 23), d(11, 23), reason="doctor's appointment"),
    Row("Hi, can I take friday off?", "vacation", d(11, 27), d(11, 27)),
    Row("I'm sick, won't be in today", "sick", d(11, 22), d(11, 22)),
    Row("off friday - because of a family emergency", "vacation", d(11, 27), d(11, 27), reason="family emergency"),
    # unclear: a question, never a guess
    Row("monday and thursday", None, None, None, expect="question"),
    Row("can I have the 24th and 26th off?", "vacation", None, None, expect="question"),
    Row("vacation", "vacation", None, None, expect="question"),
    Row("some time in december", None, None, None, expect="question"),
    Row("vacation in may", "vacation", None, None, expect="question"),
    Row("3 days off next week", "vacation", None, None, expect="question"),
    Row("for 3 days", None, None, None, expect="question"),
    Row("off until friday", "vacation", None, d(11, 27), expect="question"),
    Row("sick since monday", "sick", d(11, 16), None, expect="question"),
    Row("14/3", None, None, None, expect="question"),  # day/month from a month/day employee
    Row("3/14", None, None, None, expect="question", order="DMY"),
    # impossible: a problem
    Row("Feb 30", None, None, None, expect="problem"),
    Row("2027-03-18 to 2027-03-14", None, None, None, expect="problem"),
    Row("31 April", None, None, None, expect="problem", order="DMY"),
    Row("pto 2027-02-29", "vacation", None, None, expect="problem"),
    Row("13/45", None, None, None, expect="problem"),
    Row("Mar 18 to Mar 14", None, None, None, expect="problem"),
]


@pytest.mark.parametrize("row", [pytest.param(row, id=f"{row.text}|{row.order}|{row.today}") for row in ROWS])
def test_phrasing(row: Row) -> None:
    parsed = parse_leave(row.text, today=row.today, aliases=ALIASES, date_order=row.order)

    assert (parsed.leave_type, parsed.start, parsed.end) == (row.leave_type, row.start, row.end)
    assert (parsed.start_half, parsed.end_half) == (row.start_half, row.end_half)
    assert parsed.reason == row.reason
    assert bool(parsed.questions) == (row.expect == "question"), parsed.questions
    assert bool(parsed.problems) == (row.expect == "problem"), parsed.problems


def test_table_is_big_enough() -> None:
    assert len(ROWS) >= 60


def test_relative_phrases_are_explained_on_the_card() -> None:
    parsed = parse_leave("can I take next friday off", today=TODAY, aliases=ALIASES)

    assert parsed.notes == ('read "next friday" as Fri 27 Nov 2026',)


def test_year_crossing_range_is_explained() -> None:
    parsed = parse_leave("vacation Dec 22 to Jan 2", today=TODAY, aliases=ALIASES)

    assert parsed.notes == ('read "Dec 22 to Jan 2" as Tue 22 Dec 2026 – Sat 2 Jan 2027',)


def test_fully_written_dates_need_no_note() -> None:
    assert parse_leave("2027-03-14 to 2027-03-18", today=TODAY, aliases=ALIASES).notes == ()


@pytest.mark.parametrize(
    ("text", "unknown"),
    [("sabbatical leave next week", "sabbatical"), ("jury leave", "jury"), ("unpaid leave on the 9th", "unpaid")],
)
def test_unknown_leave_kind_is_named_not_booked_as_vacation(text: str, unknown: str) -> None:
    parsed = parse_leave(text, today=TODAY, aliases=ALIASES)

    assert parsed.unknown_type == unknown
    assert parsed.leave_type is None


@pytest.mark.parametrize("text", ["my leave next week", "parental leave next week", "I need to leave early friday"])
def test_ordinary_leave_words_are_no_unknown_kind(text: str) -> None:
    assert parse_leave(text, today=TODAY, aliases=ALIASES).unknown_type is None


@pytest.mark.parametrize(
    ("text", "order", "message"),
    [
        ("Feb 30", "MDY", "February 30 doesn't exist."),
        ("31 April", "DMY", "April 31 doesn't exist — April has 30 days."),
        ("2027-02-29", "MDY", "February 29, 2027 doesn't exist — 2027 isn't a leap year."),
        ("2027-03-18 to 2027-03-14", "MDY", "The end (Sun 14 Mar 2027) is before the start (Thu 18 Mar 2027)."),
        ("13/45", "MDY", "“13/45” isn't a date."),
    ],
)
def test_problems_say_what_is_wrong(text: str, order: str, message: str) -> None:
    assert parse_leave(text, today=TODAY, aliases=ALIASES, date_order=order).problems == (message,)


@pytest.mark.parametrize(
    ("text", "order", "words"),
    [
        ("half day on the 9th", "MDY", ["Morning or afternoon", "half day on the 9th"]),
        ("parental leave starting March 1st", "MDY", ["Until when?", "starting March 1st"]),
        ("monday and thursday", "MDY", ["“monday”", "“thursday”", "separate requests"]),
        ("vacation", "MDY", ["Which dates"]),
        ("some time in december", "MDY", ["some time in december"]),
        ("14/3", "MDY", ["14 March", "month/day"]),
    ],
)
def test_questions_name_the_phrase(text: str, order: str, words: list[str]) -> None:
    (question,) = parse_leave(text, today=TODAY, aliases=ALIASES, date_order=order).questions

    for word in words:
        assert word in question


def test_unknown_date_order_is_refused() -> None:
    with pytest.raises(ValueError, match="date_order"):
        parse_leave("tomorrow", today=TODAY, aliases=ALIASES, date_order="YMD")


def test_parsing_is_fast() -> None:
    parse_leave("in a fortnight", today=TODAY, aliases=ALIASES)  # dateparser loads its language data once
    started = time.perf_counter()
    for row in ROWS:
        parse_leave(row.text, today=row.today, aliases=ALIASES, date_order=row.order)
    per_parse = (time.perf_counter() - started) / len(ROWS)

    assert per_parse < 0.02


@pytest.mark.parametrize(
    ("text", "leave_type", "start", "end"),
    [
        ("my son is running a fever, staying home with him tomorrow", "sick", d(11, 23), d(11, 23)),
        ("doctor signed me off today and tomorrow", "sick", d(11, 22), d(11, 23)),
        ("food poisoning, not coming in today", "sick", d(11, 22), d(11, 22)),
        ("my grandfather passed away, I need monday off", "bereavement", d(11, 23), d(11, 23)),
        ("lost my aunt last week, could I have friday off for the service", "bereavement", d(11, 27), d(11, 27)),
        ("we're adopting! off from dec 1 to dec 4", "parental", d(12, 1), d(12, 4)),
        # A type named outright wins; an appointment is not being ill.
        ("vacation friday, the anniversary of the day my dad passed away", "vacation", d(11, 27), d(11, 27)),
        ("out friday for a doctor's appointment", OUT, d(11, 27), d(11, 27)),
    ],
)
def test_what_a_request_means_when_it_names_no_type(text: str, leave_type: str | None, start: date, end: date) -> None:
    parsed = parse_leave(text, today=TODAY, aliases=ALIASES, date_order="MDY")
    assert (parsed.leave_type, parsed.start, parsed.end) == (leave_type, start, end)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        # A weekday written with its date is one day, checked against the calendar.
        ("day off on friday 19th", date(2027, 3, 19), date(2027, 3, 19)),
        ("pto friday 19th through monday 22nd", date(2027, 3, 19), date(2027, 3, 22)),
        ("can you book pto thu 18 and fri 19 march", date(2027, 3, 18), date(2027, 3, 19)),
        # Two weekdays share the week named after the second.
        ("taking thu + fri next week as pto", date(2027, 3, 18), date(2027, 3, 19)),
        ("I need Wed and Thu of next week off", date(2027, 3, 17), date(2027, 3, 18)),
        # Told in the past: the Monday that has been.
        ("was sick on monday, can you log it", date(2027, 3, 8), date(2027, 3, 8)),
        ("I was hoping to take friday off", date(2027, 3, 12), date(2027, 3, 12)),
        # A date of what happened is not a day asked off.
        (
            "my grandmother passed away on sunday. could i have thursday and friday this week off",
            date(2027, 3, 11),
            date(2027, 3, 12),
        ),
    ],
)
def test_weekdays_with_dates_lists_tense_and_events(text: str, start: date, end: date) -> None:
    parsed = parse_leave(text, today=date(2027, 3, 9), aliases=ALIASES)  # a Tuesday
    assert (parsed.start, parsed.end, parsed.questions) == (start, end, ())


def test_a_weekday_that_is_not_that_date_and_one_day_of_a_week_are_asked() -> None:
    (wrong,) = parse_leave("friday the 18th", today=date(2027, 3, 9), aliases=ALIASES).questions
    assert "is a Thursday, not a Friday" in wrong
    (which,) = parse_leave("I'd like a day off next week", today=date(2027, 3, 9), aliases=ALIASES).questions
    assert "Which day of “next week”" in which
    answered = parse_leave("I'd like a day off next week wednesday", today=date(2027, 3, 9), aliases=ALIASES)
    assert (answered.start, answered.end) == (date(2027, 3, 17), date(2027, 3, 17))


def test_days_named_reads_each_date_of_a_change_on_its_own() -> None:
    today = date(2027, 3, 9)
    assert days_named("end it on tuesday the 16th instead? only need 2 days", today=today, aliases=ALIASES) == [
        (date(2027, 3, 16), date(2027, 3, 16))
    ]
    # A weekday alone is the one nearest the request it changes.
    assert days_named("end it on tuesday", today=today, aliases=ALIASES, near=date(2027, 3, 22)) == [
        (date(2027, 3, 23), date(2027, 3, 23))
    ]
    assert days_named("actually make it sick leave", today=today, aliases=ALIASES) == []
