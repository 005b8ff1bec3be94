"""How many people a meal was for, read from an expense sentence."""

from __future__ import annotations

import re

from skills.expenses.amounts import MONEY_WORDS_RE, Candidate
from skills.expenses.scan import ATTENDEES, COUNTED, NUMBER_WORDS, Scan

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
_MEAL_FOR = re.compile(rf"\bfor\s(?P<n>{_COUNT_WORDS})\b(?!\s(?:{MONEY_WORDS_RE}|{COUNTED})\b)", re.I)


def read_headcount(scan: Scan, *, meal: bool) -> int | None:
    """Everyone at a meal (or named as people anywhere); "for six" counts only when the sentence is about a meal."""
    for extra, pattern in _HEADCOUNT_RES + (((0, _MEAL_FOR),) if meal else ()):
        match = pattern.search(scan.masked())
        if match is None:
            continue
        scan.take(*match.span())
        raw = " ".join(match.group("n").lower().split())
        count = int(raw) if raw.isdigit() else NUMBER_WORDS[raw]
        if extra:
            who = scan.text[match.start("n") : match.end()]
            scan.note(ATTENDEES, f'counted {count + extra} attendees: you and "{who}"')
        return count + extra
    return None


def headcount_after_for(scan: Scan, candidates: list[Candidate]) -> int | None:
    """Read "lunch for 4, 86.50 EUR": a bare number after "for" is the head count when another one is the amount."""
    if len(candidates) < 2:
        return None
    for candidate in candidates:
        if candidate.marker is None and re.search(r"\bfor\s\Z", scan.text[: candidate.start], re.I):
            if candidate.number.isdigit() and 0 < int(candidate.number) <= 200:
                candidates.remove(candidate)
                return int(candidate.number)
    return None
