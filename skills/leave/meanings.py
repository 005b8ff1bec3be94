"""What a leave message tells without naming a leave type: illness, a death, a birth, and whether it is past."""

from __future__ import annotations

import re

# What a request means when it names no type: being ill (or a child being ill, a doctor's note), a death in the
# family, a birth or an adoption. Checked in this order; a key is used only when the company has that type.
_MEANINGS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "bereavement",
        re.compile(
            r"\b(passed away|passed on|died|death in the family|funeral|memorial service|lost my "
            r"(mom|mum|mother|dad|father|grand\w*|uncle|aunt|brother|sister|wife|husband|partner|son|daughter|cousin))\b",
            re.IGNORECASE,
        ),
    ),
    (
        "sick",
        re.compile(
            r"\b(fever|temperature|food poisoning|stomach bug|throwing up|vomiting|covid|flu|chicken ?pox|measles|"
            r"strep( throat)?|migraine|(a|the) (bad |nasty |horrible |terrible |heavy |head )?cold|"
            r"doctor'?s (orders|note)|doctor (told|says|said|signed|ordered)|"
            r"hospital|not feeling (well|good|great)|feel(ing)? (sick|ill|unwell|awful|terrible|rough)|"
            r"under the weather|signed (me )?off|sick (kid|child|son|daughter|baby))\b",
            re.IGNORECASE,
        ),
    ),
    ("parental", re.compile(r"\b(having a baby|baby is due|birth of|newborn|adopting|adoption)\b", re.IGNORECASE)),
)


def meant_type(text: str, keys: set[str]) -> str | None:
    for key, pattern in _MEANINGS:
        if key in keys and pattern.search(text):
            return key
    return None


_PAST = re.compile(
    r"\b(was|were)\b(?! (hoping|wondering|thinking|planning|going|gonna|wanting|looking|meaning|about|supposed))"
    r"|\b(missed|stayed home|called in sick|had to (stay|leave|go))\b",
    re.IGNORECASE,
)
_AHEAD = re.compile(
    r"\b(will|won'?t|going to|gonna|next|need|want|would like|plan|planning|can i|could i|may i|book)\b|'ll\b|'d like",
    re.IGNORECASE,
)


def told_in_past(text: str) -> bool:
    """The absence is told as something that happened ("I was sick on monday", "missed tuesday"), with nothing
    that looks ahead in the same message."""
    return bool(_PAST.search(text)) and not _AHEAD.search(text)


_DEATH = dict(_MEANINGS)["bereavement"]

_ILL = dict(_MEANINGS)["sick"]
_AWAY = re.compile(
    r"\b(not coming in|won'?t (be|make it) in|can'?t (come|make it) in|not (be )?in today|staying (at )?home|"
    r"stay (at )?home|off (today|tomorrow|sick)|out (today|tomorrow|sick)|calling in( sick)?|in bed|"
    r"(won'?t|can'?t|not) (be )?(able to )?work(ing)?)\b",
    re.IGNORECASE,
)


def tells_of_illness_and_absence(text: str) -> bool:
    """The message tells of being ill and away ("migraine, not coming in", "fever, staying home today")."""
    return bool(_ILL.search(text)) and bool(_AWAY.search(text))


def tells_of_a_death(text: str) -> bool:
    """The message tells of a death in the family ("my dad died last night", "lost my grandmother")."""
    return bool(_DEATH.search(text))
