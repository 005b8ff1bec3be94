"""A leave message as tokens (abbreviations expanded, typos of date words fixed) and the leave type it names."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from bot.date_words import ABBREVIATIONS, MONTHS, WEEKDAYS

# Month and weekday abbreviations ("sept", "thurs"), then the shorthand of leave messages.
_ABBREVIATIONS = ABBREVIATIONS | {
    "tmrw": "tomorrow", "tmr": "tomorrow", "tmw": "tomorrow", "tomo": "tomorrow", "tomorrows": "tomorrow",
    "tdy": "today", "thru": "through", "til": "until", "till": "until", "untill": "until", "arvo": "afternoon",
    "midday": "noon", "onward": "onwards", "im": "i'm",
}  # fmt: skip
# Words a typo is corrected to. "may" is left out: a three-letter target makes "mary" and "man" months.
_TYPO_TARGETS = tuple(m for m in MONTHS if m != "may") + WEEKDAYS + (
    "today", "tomorrow", "yesterday", "morning", "afternoon", "through", "between", "starting", "until",
    "fortnight", "beginning", "returning",
)  # fmt: skip
# Real words one letter away from a date word; correcting them would invent dates.
_NOT_TYPOS = frozenset({"mourning", "toady", "monthly", "mondays", "sundae", "wedding", "martha", "augusta"})

_GENERIC_ALIASES = frozenset({"off", "leave", "time off", "day off", "days off"})
# Words that can stand before "leave" without naming a kind of leave ("my leave", "take leave").
_NOT_LEAVE_KINDS = frozenset(
    "a an the my our some any more extra this that next last on of for to take taking took request requesting "
    "book booking apply applying need needs want use using go going be will i i'm can could please approve "
    "approved start starting day days week weeks half full and or your his her their planned cancel like love get "
    "have put log file register record submit me you u pls plz wanted needed would".split()
)

_KNOWN_WORDS = frozenset({"today", "tomorrow", "yesterday", "noon", "am", "pm", "week", "weeks", "next", "this"})

_TOKENS = re.compile(
    r"(?P<iso>\d{4}[-/.]\d{1,2}[-/.]\d{1,2})(?!\d)"
    r"|(?P<halfnum>1/2)(?=\s*days?\b)"
    r"|(?P<numeric>\d{1,2}/\d{1,2}(?:/\d{2,4})?|\d{1,2}\.\d{1,2}\.(?:\d{2,4})?)(?![\d/])"
    r"|(?P<time>\d{1,2}(?::\d{2})?\s?[ap]\.?m\.?)(?![a-z])"
    r"|(?P<number>\d+(?:st|nd|rd|th)?)"
    r"|(?P<word>[^\W\d_]+(?:['’][^\W\d_]+)*)"
    r"|(?P<punct>\S)",
    re.IGNORECASE,
)
_DASHES = str.maketrans({"–": "-", "—": "-", "‒": "-", "−": "-", "’": "'"})


@dataclass
class Token:
    text: str  # canonical, lower case
    start: int  # offsets into the original text
    end: int


def generic_type(norm: str, index: AliasIndex) -> str | None:
    """The type that only a generic word ("off", "out", "leave") of the text names, if that is all it names."""
    if index.pattern is None:
        return None
    found = {" ".join(m.group().split()) for m in index.pattern.finditer(norm)}
    if found and found <= _GENERIC_ALIASES | {"out", "ooo", "out of office"}:
        types = {index.aliases[alias] for alias in found if alias in index.aliases}
        return types.pop() if len(types) == 1 else None
    return None


@dataclass(frozen=True)
class AliasIndex:
    aliases: dict[str, str]
    pattern: re.Pattern[str] | None  # every alias, longest first
    words: frozenset[str]
    typo_targets: tuple[str, ...]


@lru_cache(maxsize=16)
def alias_index(items: tuple[tuple[str, str], ...]) -> AliasIndex:
    ordered = sorted(items, key=lambda item: (-len(item[0]), item[0]))
    # Aliases are matched on the canonical token text, where "time-off" reads "time - off".
    alternatives = [r" (?:- )?".join(re.escape(word) for word in alias.split()) for alias, _ in ordered]
    pattern = re.compile("(?<!\\S)(?:" + "|".join(alternatives) + ")(?!\\S)") if alternatives else None
    words = frozenset(word for alias, _ in items for word in alias.split())
    targets = tuple(alias for alias, _ in items if " " not in alias and len(alias) >= 6)
    return AliasIndex(dict(items), pattern, words, targets)


def tokenize(text: str, index: AliasIndex) -> list[Token]:
    tokens: list[Token] = []
    for match in _TOKENS.finditer(text.translate(_DASHES)):
        kind, raw = match.lastgroup, match.group()
        if kind == "word":
            canon = _canonical_word(raw.lower().replace("’", "'"), index)
        elif kind == "time":
            canon = _time_token(raw.lower())
        elif kind == "halfnum":
            canon = "half"
        elif kind == "punct" and raw == "." and tokens and tokens[-1].text in MONTHS + WEEKDAYS:
            continue  # "Dec. 22": the dot of an abbreviation
        else:
            canon = raw.lower()
        tokens.append(Token(canon, match.start(), match.end()))
    return tokens


def _time_token(raw: str) -> str:
    """A time becomes "@14" (2pm), so "from 2pm" can mean the afternoon off and "2" is never read as a day."""
    digits = re.match(r"\d{1,2}", raw)
    hour = int(digits.group()) if digits else 0
    if "p" in raw and hour < 12:
        hour += 12
    return f"@{hour}"


def _canonical_word(word: str, index: AliasIndex) -> str:
    if word in _ABBREVIATIONS:
        return _ABBREVIATIONS[word]
    if word in index.words or len(word) < 4 or word in _NOT_TYPOS:
        return word
    return _corrected(word, index.typo_targets)


@lru_cache(maxsize=4096)
def _corrected(word: str, alias_targets: tuple[str, ...]) -> str:
    if word in _TYPO_TARGETS or word in _KNOWN_WORDS:
        return word
    close = difflib.get_close_matches(word, _TYPO_TARGETS, n=1, cutoff=0.8)
    if close:
        return close[0]
    # Type words are stricter (0.85): "parents" is 0.8 from "parental" and must stay part of a reason.
    close = difflib.get_close_matches(word, alias_targets, n=1, cutoff=0.85)
    return close[0] if close else word


def joined(tokens: Sequence[Token]) -> tuple[str, dict[int, int], dict[int, int]]:
    """The canonical text, and maps from its character offsets to token indices (starts and ends)."""
    starts: dict[int, int] = {}
    ends: dict[int, int] = {}
    offset = 0
    for i, token in enumerate(tokens):
        starts[offset] = i
        offset += len(token.text)
        ends[offset] = i + 1
        offset += 1
    return " ".join(token.text for token in tokens), starts, ends


def named_leave_type(
    norm: str,
    starts: dict[int, int],
    ends: dict[int, int],
    tokens: list[Token],
    index: AliasIndex,
    consumed: set[int],
) -> tuple[str | None, str | None]:
    """The type named by the longest alias (a specific one beats "off"/"leave"), and an unknown "X leave"."""
    matches: list[tuple[int, int, str]] = []
    if index.pattern is not None:
        for match in index.pattern.finditer(norm):
            alias = " ".join(part for part in match.group().split() if part != "-")
            matches.append((starts[match.start()], ends[match.end()], alias))
    inside = {i for lo, hi, alias in matches if alias != "leave" for i in range(lo, hi)}
    unknown: str | None = None
    for k, token in enumerate(tokens):
        if token.text != "leave" or k in inside:
            continue
        words: list[str] = []
        i = k - 1
        while i >= 0 and len(words) < 2 and tokens[i].text.isalpha() and not _is_known(tokens[i].text, index):
            words.insert(0, tokens[i].text)
            i -= 1
        if words:
            unknown = " ".join(words)
            consumed.update(range(i + 1, k + 1))
            # "sabbatical leave" is not vacation just because "leave" alone is one of its aliases.
            matches = [m for m in matches if m[2] not in _GENERIC_ALIASES]
            break
    for lo, hi, _ in matches:
        consumed.update(range(lo, hi))
    if not matches:
        return None, unknown
    specific = [m for m in matches if m[2] not in _GENERIC_ALIASES] or matches
    best = max(specific, key=lambda m: (len(m[2]), -m[0]))
    return index.aliases[best[2]], unknown


def _is_known(word: str, index: AliasIndex) -> bool:
    return word in _NOT_LEAVE_KINDS or word in index.words or word in _TYPO_TARGETS or word in _KNOWN_WORDS


def phrase_of(tokens: list[Token], text: str, lo: int, hi: int) -> str:
    return text[tokens[lo].start : tokens[hi - 1].end] if hi > lo else ""
