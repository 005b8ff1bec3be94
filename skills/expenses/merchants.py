"""Who was paid, read from an expense sentence: the name after "at" or "from", else a merchant known by name."""

from __future__ import annotations

import re

from bot.date_words import MONTH_NUMBERS, WEEKDAYS
from skills.expenses.categories import CUES, singular
from skills.expenses.scan import WORD

_MERCHANT_STOPS = frozenset(
    """
    for on in with to and or yesterday today tonight last this by via during after before while because since when
    using paid spent cost costs was were is plus including incl inc but so then about around
    """.split()
    # Weekdays only in full: "Sun Hing" and "Sat Nam" are names.
    + list(WEEKDAYS)
    + list(MONTH_NUMBERS)
)
_NOT_MERCHANTS = frozenset(
    """
    the a an my our your their his her this that work home office airport station hotel client clients customer site
    conference event night noon least all once first most some lunch dinner breakfast brunch
    house place venue team meeting
    """.split()
)
_AT_FROM = re.compile(r"\b(?P<word>at|from)\s", re.I)


def read_merchant(text: str, category: str | None, brands: list[tuple[int, int, str, str | None]]) -> str | None:
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
        match = WORD.match(text, position)
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
    if all(singular(word.lower()) in CUES or word.lower() in _NOT_MERCHANTS for _, _, word in names):
        return None  # "at lunch", "from the office"
    return text[names[0][0] : names[-1][1]]
