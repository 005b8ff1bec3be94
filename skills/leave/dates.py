"""Free-text leave requests → type, dates, half days and reason; anything unclear becomes a question, never a guess.

The text is split into tokens (typos of month and weekday names fixed with difflib), date "atoms" are found with
regular expressions ("Dec 22", "3/14", "next friday", "the 9th", "for 3 days"), and the words between atoms decide
how they combine ("to" makes a range, "starting" an open start, "and" a list). dateparser only reads relative
offsets ("in a fortnight"): on whole sentences it rolls recent dates into next year and reads "may" as a month.
"""

from __future__ import annotations

import calendar
import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache

import dateparser


@dataclass(frozen=True)
class ParsedLeave:
    """What a leave request message says; questions and problems list what it leaves unclear or impossible."""

    leave_type: str | None  # canonical key (a value of `aliases`); None when the text names no type
    unknown_type: str | None  # a type-looking phrase we don't know ("sabbatical" from "sabbatical leave")
    start: date | None
    end: date | None  # same as start for a single day; None when open-ended or unknown
    start_half: str | None  # "am" = morning off only, "pm" = afternoon off only; a single day sets only this
    end_half: str | None
    reason: str | None
    questions: tuple[str, ...]  # what to ask because it is missing or ambiguous
    problems: tuple[str, ...]  # what makes the text impossible (a date that doesn't exist, end before start)
    notes: tuple[str, ...]  # how relative phrases were read, for the confirmation card
    type_named: bool = False  # the text names a leave type itself ("sick", "bereavement"), not only "off" / "out"


MONTHS = tuple(calendar.month_name[i].lower() for i in range(1, 13))
WEEKDAYS = tuple(calendar.day_name[i].lower() for i in range(7))
_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a couple of": 2, "couple of": 2,
}  # fmt: skip
_ABBREVIATIONS = {
    "jan": "january", "feb": "february", "mar": "march", "apr": "april", "jun": "june", "jul": "july",
    "aug": "august", "sep": "september", "sept": "september", "oct": "october", "nov": "november",
    "dec": "december", "mon": "monday", "tue": "tuesday", "tues": "tuesday", "wed": "wednesday",
    "weds": "wednesday", "thu": "thursday", "thur": "thursday", "thurs": "thursday", "fri": "friday",
    "sat": "saturday", "sun": "sunday", "tmrw": "tomorrow", "tmr": "tomorrow", "tmw": "tomorrow",
    "tomo": "tomorrow", "tomorrows": "tomorrow", "tdy": "today", "thru": "through", "til": "until",
    "till": "until", "untill": "until", "arvo": "afternoon", "midday": "noon", "onward": "onwards", "im": "i'm",
}  # fmt: skip
# Words a typo is corrected to. "may" is left out: a three-letter target makes "mary" and "man" months.
_TYPO_TARGETS = tuple(m for m in MONTHS if m != "may") + WEEKDAYS + (
    "today", "tomorrow", "yesterday", "morning", "afternoon", "through", "between", "starting", "until",
    "fortnight", "beginning", "returning",
)  # fmt: skip
# Real words one letter away from a date word; correcting them would invent dates.
_NOT_TYPOS = frozenset({"mourning", "toady", "monthly", "mondays", "sundae", "wedding", "martha", "augusta"})
HALVES = ("am", "pm")
_GENERIC_ALIASES = frozenset({"off", "leave", "time off", "day off", "days off"})
# Words that can stand before "leave" without naming a kind of leave ("my leave", "take leave").
_NOT_LEAVE_KINDS = frozenset(
    "a an the my our some any more extra this that next last on of for to take taking took request requesting "
    "book booking apply applying need needs want use using go going be will i i'm can could please approve "
    "approved start starting day days week weeks half full and or your his her their planned cancel like love get "
    "have put log file register record submit me you u pls plz wanted needed would".split()
)
_FILLER = frozenset(
    "please pls i i'm i'll will be am is are taking take out away on the a me off like would need want going "
    "gone".split()
)
_KNOWN_WORDS = frozenset({"today", "tomorrow", "yesterday", "noon", "am", "pm", "week", "weeks", "next", "this"})
_REASON_MARKERS = frozenset({"for", "because", "cause", "cuz", "bc", "due", "as", "since", ",", ":", ";", "(", "-"})
_REASON_LEADS = frozenset({"a", "an", "the", "of", "to", "for", "because", "due", "as", "since", "cause"})
_PUNCTUATION_MARKERS = frozenset({",", ":", ";", "(", "-"})
_REASON_STOPS = frozenset({",", ".", "!", "?", ";", ")", "(", ":"})
# A run of these words is politeness or the request itself, not a reason ("thanks", "can I take").
_NOT_REASONS = frozenset(
    "i i'm i'd i'll me it please pls thanks thank you thx that this ok okay if possible the a an off work now day days "
    "approve approval leave my can could would like to take have get book request want need go going be will am is "
    "are hi hello hey there team so just also may we you u log record mark enter file submit put down plz".split()
)
_MARKERS = frozenset(
    "from starting start beginning commencing effective since as of between until through back returning return "
    "on the week onwards".split()
)

_MONTH = "(?:" + "|".join(MONTHS) + ")"
_WEEKDAY = "(?:" + "|".join(WEEKDAYS) + ")"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_COUNT = r"(?:\d{1,3}|a couple of|couple of|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_ATOMS = re.compile(
    "(?<!\\S)(?:"
    + "|".join(
        f"(?P<{name}>{pattern})"
        for name, pattern in (
            (
                "offset",
                rf"in (?!(?:a|an|one) day\b){_COUNT} (?:days?|weeks?)|in {_COUNT} fortnights?|in a fortnight"
                rf"|{_COUNT} (?:days?|weeks?) from (?:now|today)",
            ),
            (
                "relative",
                r"(?:the )?day after tomorrow|(?:the )?day before yesterday|this morning|this afternoon"
                r"|today|tomorrow|yesterday",
            ),
            (
                "half",
                r"(?:in )?(?:the )?(?:morning|afternoon)|half (?:- )?days?|half a day|(?:the )?first half"
                r"|(?:the )?second half|after lunch|before lunch|(?:until|before) (?:noon|lunch|@(?:\d|1[0-3]))"
                r"|(?:from|after|at) (?:noon|@(?:1[2-9]|2[0-3]))|am|pm",
            ),
            (
                "week",
                r"(?:the )?rest of (?:the|this) week|(?:the )?week after next"
                r"|(?:the )?(?:next|this|following|coming) week",
            ),
            (
                "weekday",
                rf"(?:(?:this coming|coming|next|this|last|past) )?{_WEEKDAY}"
                r"(?: (?:of )?(?:next|this|last|the following|following) week)?",
            ),
            ("iso", r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"),
            ("numeric", r"\d{1,2}/\d{1,2}(?:/\d{2,4})?|\d{1,2}\.\d{1,2}\.(?:\d{2,4})?"),
            ("month_day", rf"{_MONTH} (?:the )?{_DAY}(?:(?: ,)? \d{{4}})?"),
            ("day_month", rf"(?:the )?{_DAY} (?:of )?{_MONTH}(?:(?: ,)? \d{{4}})?"),
            (
                "duration",
                rf"(?:for )?(?:the next )?{_COUNT} (?:full )?(?:working |business |work )?(?:days?|weeks?)"
                r"|(?:for )?a fortnight",
            ),
            ("ordinal", r"(?:the )?\d{1,2}(?:st|nd|rd|th)|the \d{1,2}"),
            ("bare", r"\d{1,2}"),
            (
                "vague",
                rf"(?:(?:some time|sometime) )?(?:in|during) (?:early |mid |late |the middle of |the end of )?"
                rf"{_MONTH}(?! (?:the )?{_DAY}(?!\S))(?: \d{{4}})?|(?:early|mid|late) (?:- )?{_MONTH}|{_MONTH} \d{{4}}"
                rf"|(?:the )?(?:end|beginning|start|middle) of {_MONTH}|(?:(?:some time|sometime) )?(?:next|this) month"
                r"|some time|sometime",
            ),
            ("year", r"(?:last|next|this) year"),
        )
    )
    + ")(?!\\S)"
)
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


class _Unclear(Exception):
    """A date that can't be used as written: `problem` when impossible, otherwise something to ask."""

    def __init__(self, message: str, *, problem: bool) -> None:
        super().__init__(message)
        self.message = message
        self.problem = problem


@dataclass
class _Token:
    text: str  # canonical, lower case
    start: int  # offsets into the original text
    end: int


@dataclass
class _Atom:
    kind: str
    lo: int  # token indices, hi exclusive
    hi: int
    text: str  # canonical text
    half: str | None = None  # am / pm / half, from an attached "morning", "afternoon", "half day"
    ext_lo: int = 0  # lo/hi widened by attached half-day words
    ext_hi: int = 0
    named_weekday: int | None = None  # "friday the 19th": the weekday written with the date, checked against it


@dataclass
class _Piece:
    """One end of a date expression before it is pinned to a calendar day."""

    kind: str  # the atom kind it came from
    canon: str  # canonical text of the atom
    phrase: str  # as the employee wrote it, for messages
    year: int | None = None
    month: int | None = None
    day: int | None = None
    weekday: int | None = None
    modifier: str | None = None  # next / this / last (of a weekday)
    week: int | None = None  # weeks from the current one: "friday next week" → 1
    half: str | None = None
    past: bool = False  # "since monday" means the Monday that has been
    inferred: bool = True
    named_weekday: int | None = None  # "friday the 19th": the 19th must be a Friday


@dataclass
class _Expr:
    kind: str  # single, range, open, until, back, week, week_of, duration, lone_duration
    lo: int
    hi: int
    first: _Piece | None = None
    second: _Piece | None = None
    count: int = 0
    unit: str = ""
    weeks: int = 0  # for kind "week": weeks from the current one
    follows: bool = False  # listed after another date ("friday and monday"): read it after that one


@dataclass
class _Span:
    start: date | None
    end: date | None
    lo: int  # token indices of the words it was read from
    hi: int
    start_half: str | None = None
    end_half: str | None = None
    inferred: bool = True
    detail: str = ""
    first_half: str | None = None  # the raw half of a single day, "half" when morning/afternoon is unknown


@dataclass
class _Context:
    today: date
    order: str
    year_shift: int | None = None  # "last year" → -1, "next year" → 1, "this year" → 0
    past: bool = False  # told in the past tense ("I was sick on monday"): a bare weekday is the one that has been
    questions: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class _Reading:
    """A text's tokens, the leave type it names and its date expressions, before they are pinned to days."""

    tokens: list[_Token]
    norm: str
    index: _AliasIndex
    consumed: set[int]
    leave_type: str | None
    unknown_type: str | None
    atoms: list[_Atom]
    loose_halves: list[str]
    exprs: list[_Expr]
    ctx: _Context


def _read(text: str, *, today: date, aliases: Mapping[str, str], date_order: str) -> _Reading:
    if date_order not in ("MDY", "DMY"):
        raise ValueError(f"date_order is MDY or DMY, not {date_order!r}")
    if not 1900 <= today.year <= 2999:
        # The years a date can be written with; near date.min or date.max "tomorrow" would not even exist.
        raise ValueError(f"today is a day between 1900 and 2999, not {today}")
    index = _alias_index(tuple(sorted((" ".join(alias.lower().split()), key) for alias, key in aliases.items())))
    tokens = _tokenize(text, index)
    norm, starts, ends = _joined(tokens)
    consumed: set[int] = set()
    leave_type, unknown_type = _leave_type(norm, starts, ends, tokens, index, consumed)
    ctx = _Context(today=today, order=date_order, past=told_in_past(text))
    atoms = _atoms(norm, starts, ends)
    for atom in atoms:
        if atom.kind in ("year", "vague"):
            consumed.update(range(atom.lo, atom.hi))
        if atom.kind == "year":
            ctx.year_shift = {"last": -1, "next": 1, "this": 0}[atom.text.split()[0]]
    loose_halves = _attach_halves(atoms, tokens, consumed)
    items = _with_weekdays([atom for atom in atoms if atom.kind not in ("half", "year", "vague")], tokens, consumed)
    exprs = _without_events(_group(items, tokens, text, consumed), tokens)
    return _Reading(tokens, norm, index, consumed, leave_type, unknown_type, atoms, loose_halves, exprs, ctx)


def parse_leave(text: str, *, today: date, aliases: Mapping[str, str], date_order: str = "MDY") -> ParsedLeave:
    """Read a free-text leave request as of the employee's local `today`; never guesses what the text leaves open."""
    reading = _read(text, today=today, aliases=aliases, date_order=date_order)
    tokens, norm, index, consumed, ctx = reading.tokens, reading.norm, reading.index, reading.consumed, reading.ctx
    atoms, loose_halves, exprs = reading.atoms, reading.loose_halves, reading.exprs
    leave_type, unknown_type = reading.leave_type, reading.unknown_type
    type_named = leave_type is not None and leave_type != _generic_type(norm, index)
    if not type_named:
        # No type named, or only "off" / "out": what the words mean ("a fever", "my dad died"), when the
        # company has that type.
        leave_type = _meant_type(text, set(aliases.values())) or leave_type

    spans: list[_Span] = []
    for expr in exprs:
        if expr.kind == "lone_duration":
            continue
        try:
            spans.append(_resolve_expr(expr, spans[-1].end if spans else None, tokens, text, ctx))
        except _Unclear as unclear:
            (ctx.problems if unclear.problem else ctx.questions).append(unclear.message)
    vague = [_phrase(tokens, text, atom.lo, atom.hi) for atom in atoms if atom.kind == "vague"]
    lone = [expr for expr in exprs if expr.kind == "lone_duration"]
    span = _assemble(spans, lone, vague, loose_halves, tokens, text, ctx)
    start, end = (span.start, span.end) if span is not None else (None, None)
    start_half = end_half = None
    if span is not None and (start == end or end is None):
        start_half = span.first_half if span.first_half in HALVES else None
    elif span is not None and not ctx.questions:
        start_half, end_half = span.start_half, span.end_half
    notes: tuple[str, ...] = ()
    if span is not None and start is not None and span.inferred:
        notes = (_note(span, tokens, text),)
    return ParsedLeave(
        leave_type=leave_type,
        unknown_type=unknown_type,
        start=start,
        end=end,
        start_half=start_half,
        end_half=end_half,
        reason=_reason(tokens, text, consumed, min((expr.lo for expr in exprs), default=len(tokens))),
        questions=tuple(dict.fromkeys(ctx.questions)),
        problems=tuple(dict.fromkeys(ctx.problems)),
        notes=notes,
        type_named=type_named or leave_type != _generic_type(norm, index),
    )


def days_named(
    text: str, *, today: date, aliases: Mapping[str, str], date_order: str = "MDY", near: date | None = None
) -> list[tuple[date | None, date | None]]:
    """Each date a text names, pinned to days on its own and in the order written: (start, end), with None for the
    open end of "from monday" or "until friday". For reading a change to a request ("end it on tuesday the 16th",
    "make it thursday instead"), where the dates need not make one stretch of days; a weekday named alone is the
    one nearest `near` (the request's first day: "end it on tuesday" means that week's Tuesday)."""
    reading = _read(text, today=today, aliases=aliases, date_order=date_order)
    found: list[tuple[date | None, date | None]] = []
    for expr in reading.exprs:
        if expr.kind == "lone_duration":
            continue
        try:
            span = _resolve_expr(expr, found[-1][1] if found else None, reading.tokens, text, reading.ctx)
        except _Unclear:
            continue
        first = expr.first
        if (
            near is not None
            and expr.kind == "single"
            and first is not None
            and first.kind == "weekday"
            and first.modifier is None
            and first.week is None
            and span.start is not None
        ):
            day = min((span.start + timedelta(weeks=k) for k in (-1, 0, 1, 2)), key=lambda d: abs((d - near).days))
            span = _Span(day, day, span.lo, span.hi)
        found.append((span.start, span.end))
    return found


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


def _meant_type(text: str, keys: set[str]) -> str | None:
    for key, pattern in _MEANINGS:
        if key in keys and pattern.search(text):
            return key
    return None


def _generic_type(norm: str, index: _AliasIndex) -> str | None:
    """The type that only a generic word ("off", "out", "leave") of the text names, if that is all it names."""
    if index.pattern is None:
        return None
    found = {" ".join(m.group().split()) for m in index.pattern.finditer(norm)}
    if found and found <= _GENERIC_ALIASES | {"out", "ooo", "out of office"}:
        types = {index.aliases[alias] for alias in found if alias in index.aliases}
        return types.pop() if len(types) == 1 else None
    return None


# ---------------------------------------------------------------------------------------------- tokens and types


@dataclass(frozen=True)
class _AliasIndex:
    aliases: dict[str, str]
    pattern: re.Pattern[str] | None  # every alias, longest first
    words: frozenset[str]
    typo_targets: tuple[str, ...]


@lru_cache(maxsize=16)
def _alias_index(items: tuple[tuple[str, str], ...]) -> _AliasIndex:
    ordered = sorted(items, key=lambda item: (-len(item[0]), item[0]))
    # Aliases are matched on the canonical token text, where "time-off" reads "time - off".
    alternatives = [r" (?:- )?".join(re.escape(word) for word in alias.split()) for alias, _ in ordered]
    pattern = re.compile("(?<!\\S)(?:" + "|".join(alternatives) + ")(?!\\S)") if alternatives else None
    words = frozenset(word for alias, _ in items for word in alias.split())
    targets = tuple(alias for alias, _ in items if " " not in alias and len(alias) >= 6)
    return _AliasIndex(dict(items), pattern, words, targets)


def _tokenize(text: str, index: _AliasIndex) -> list[_Token]:
    tokens: list[_Token] = []
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
        tokens.append(_Token(canon, match.start(), match.end()))
    return tokens


def _time_token(raw: str) -> str:
    """A time becomes "@14" (2pm), so "from 2pm" can mean the afternoon off and "2" is never read as a day."""
    digits = re.match(r"\d{1,2}", raw)
    hour = int(digits.group()) if digits else 0
    if "p" in raw and hour < 12:
        hour += 12
    return f"@{hour}"


def _canonical_word(word: str, index: _AliasIndex) -> str:
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


def _joined(tokens: Sequence[_Token]) -> tuple[str, dict[int, int], dict[int, int]]:
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


def _leave_type(
    norm: str,
    starts: dict[int, int],
    ends: dict[int, int],
    tokens: list[_Token],
    index: _AliasIndex,
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


def _is_known(word: str, index: _AliasIndex) -> bool:
    return word in _NOT_LEAVE_KINDS or word in index.words or word in _TYPO_TARGETS or word in _KNOWN_WORDS


# ---------------------------------------------------------------------------------------------- atoms and groups


def _atoms(norm: str, starts: dict[int, int], ends: dict[int, int]) -> list[_Atom]:
    atoms = []
    for match in _ATOMS.finditer(norm):
        assert match.lastgroup is not None
        lo, hi = starts[match.start()], ends[match.end()]
        atoms.append(_Atom(match.lastgroup, lo, hi, match.group(), ext_lo=lo, ext_hi=hi))
    return atoms


_DATED = frozenset({"offset", "relative", "weekday", "iso", "numeric", "month_day", "day_month", "ordinal"})


def _half_kind(text: str) -> str:
    """Which half a phrase means: "am", "pm", or "half" when it doesn't say ("half day")."""
    words = set(text.split())
    if "half" in words and not words & {"first", "second"}:
        return "half"
    return "am" if words & {"morning", "first", "before", "until", "am"} else "pm"


def _attach_halves(atoms: list[_Atom], tokens: list[_Token], consumed: set[int]) -> list[str]:
    """Give "morning"/"afternoon"/"half day" to the date they belong to; return the halves that belong to none."""
    loose: list[str] = []
    for k, atom in enumerate(atoms):
        if atom.kind != "half":
            continue
        kind = _half_kind(atom.text)
        bare_ampm = atom.text in ("am", "pm")
        before = atoms[k - 1] if k > 0 else None
        after = atoms[k + 1] if k + 1 < len(atoms) else None
        target = None
        if before is not None and before.kind in _DATED and before.ext_hi == atom.lo:
            target = before  # "friday morning", "tomorrow in the afternoon"
        elif not bare_ampm and after is not None and after.kind in _DATED:
            if all(t.text in ("on", "of", "for", "the") for t in tokens[atom.hi : after.lo]):
                target = after  # "half day on the 9th", "afternoon of Dec 9"
        if target is None:
            if not bare_ampm:  # "I am off friday" has no half day in it
                loose.append(kind)
                consumed.update(range(atom.lo, atom.hi))
            continue
        target.half = _merge_half(target.half, kind)
        target.ext_lo, target.ext_hi = min(target.ext_lo, atom.lo), max(target.ext_hi, atom.hi)
        consumed.update(range(atom.lo, atom.hi))
    return loose


def _merge_half(old: str | None, new: str) -> str:
    if old is None or old == "half":
        return new
    if new == "half" or new == old:
        return old
    return "half"  # "morning" and "afternoon" of one day: ask rather than pick one


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


def _with_weekdays(items: list[_Atom], tokens: list[_Token], consumed: set[int]) -> list[_Atom]:
    """A weekday written right before a day of the month ("friday the 19th", "thu 18 march") is one date, whose
    weekday is checked against the calendar, not a second day."""
    result: list[_Atom] = []
    for item in items:
        last = result[-1] if result else None
        if (
            last is not None
            and last.kind == "weekday"
            and last.text in WEEKDAYS
            and item.kind in ("ordinal", "bare", "month_day", "day_month")
            and _gap(tokens, last.ext_hi, item.ext_lo, consumed) in ([], [","])
        ):
            kind = "ordinal" if item.kind == "bare" else item.kind
            result[-1] = _Atom(
                kind,
                item.lo,
                item.hi,
                item.text,
                item.half or last.half,
                last.ext_lo,
                item.ext_hi,
                named_weekday=WEEKDAYS.index(last.text),
            )
            continue
        result.append(item)
    return result


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


# A date told as what happened ("my grandmother passed away on sunday") is not a day asked off.
_EVENT_WORDS = frozenset({"passed", "away", "died", "happened", "occurred", "born"})


def _without_events(exprs: list[_Expr], tokens: list[_Token]) -> list[_Expr]:
    """Leave out dates that come right after what happened, when other dates remain for the time off."""
    dated = [expr for expr in exprs if expr.kind != "lone_duration"]
    events = [expr for expr in dated if _EVENT_WORDS & {t.text for t in tokens[max(0, expr.lo - 3) : expr.lo]}]
    if not events or len(events) == len(dated):
        return exprs
    return [expr for expr in exprs if expr not in events]


def _gap(tokens: list[_Token], lo: int, hi: int, consumed: set[int]) -> list[str]:
    """The words between two atoms that decide how they join (type words and filler left out)."""
    return [
        tokens[i].text
        for i in range(lo, hi)
        if tokens[i].text not in _FILLER and (i not in consumed or tokens[i].text in ("-", "to", "and"))
    ]


_RANGE_WORDS = (["-"], ["to"], ["through"], ["until"], ["up", "to"], ["-", "to"], ["to", "-"])
_START_WORDS = frozenset({"from", "starting", "start", "beginning", "commencing", "effective", "since"})
_DURATION_JOINS: tuple[list[str], ...] = (
    [],
    ["starting"],
    ["from"],
    ["starting", "from"],
    ["beginning"],
    ["as", "of"],
    ["commencing"],
)
_LIST_WORDS = ([","], ["and"], [",", "and"], ["&"], ["+"])
_BACK_TAIL = frozenset({"back", "returning", "return", "in", "at", "to", "work", "office", "the"})


def _group(items: list[_Atom], tokens: list[_Token], text: str, consumed: set[int]) -> list[_Expr]:
    """Join date atoms into expressions by the words between them ("to", "starting", "and", "the week of")."""
    exprs: list[_Expr] = []
    i = 0
    while i < len(items):
        item = items[i]
        nxt = items[i + 1] if i + 1 < len(items) else None
        prefix = _gap(tokens, items[i - 1].ext_hi if i else 0, item.ext_lo, consumed)
        between = _gap(tokens, item.ext_hi, nxt.ext_lo, consumed) if nxt is not None else []

        if item.kind == "duration":
            count, unit = _duration(item.text)
            last = exprs[-1] if exprs else None
            if (count, unit) == (1, "day") and not any(other.kind == "week" for other in items):
                consumed.update(range(item.lo, item.hi))  # "take a day off tomorrow": the date says it all
                i += 1
                continue
            if nxt is not None and nxt.kind in _DATED and between in _DURATION_JOINS:
                # "for 3 days starting Monday", "2 weeks from Jan 4"
                exprs.append(_Expr("duration", item.lo, nxt.ext_hi, _piece(nxt, tokens, text), count=count, unit=unit))
                consumed.update(range(item.lo, nxt.ext_hi))
                i += 2
                continue
            if last is not None and last.kind in ("single", "open") and last.hi == item.lo:
                # "starting Monday for 3 days"
                exprs[-1] = _Expr("duration", last.lo, item.hi, last.first, count=count, unit=unit)
            else:
                exprs.append(_Expr("lone_duration", item.lo, item.hi, count=count, unit=unit))
            consumed.update(range(item.lo, item.hi))
            i += 1
            continue

        if item.kind == "week":
            if nxt is not None and nxt.kind == "weekday" and not between and not nxt.text.endswith("week"):
                piece = _piece(nxt, tokens, text)  # "next week friday"
                piece.week = _week_offset(item.text)
                exprs.append(_Expr("single", item.lo, nxt.ext_hi, piece))
                consumed.update(range(item.lo, nxt.ext_hi))
                i += 2
                continue
            exprs.append(_Expr("week", item.lo, item.hi, weeks=_week_offset(item.text)))
            consumed.update(range(_marker_start(tokens, item.lo), item.hi))
            i += 1
            continue

        # "friday and monday" lists days in order, so the Monday is the one after that Friday.
        follows = bool(exprs) and exprs[-1].hi <= item.ext_lo and prefix in _LIST_WORDS
        joins = between in _RANGE_WORDS or (between == ["and"] and prefix[-1:] == ["between"])
        if nxt is not None and (nxt.kind in _DATED or nxt.kind == "bare") and joins:
            first, second = _piece(item, tokens, text), _piece(nxt, tokens, text)
            lo = _marker_start(tokens, item.ext_lo)
            exprs.append(_Expr("range", lo, nxt.ext_hi, first, second, follows=follows))
            consumed.update(range(lo, nxt.ext_hi))
            i += 2
            continue
        piece = _piece(item, tokens, text)
        if item.kind == "weekday" and piece.week is None and piece.modifier is None:
            piece.week = _listed_week(items, i, tokens, text, consumed)
        if item.kind in ("bare", "ordinal"):
            borrowed = _listed_month(items, i, exprs, prefix, tokens, text, consumed)
            if borrowed is not None:
                piece.month, piece.year = borrowed
            elif item.kind == "bare":
                i += 1  # a number on its own is not a date
                continue
        onwards = item.ext_hi < len(tokens) and tokens[item.ext_hi].text == "onwards"
        back_at = max((j for j, word in enumerate(prefix) if word in ("back", "returning", "return")), default=-1)
        if prefix[-2:] in (["week", "of"], ["week", "starting"], ["week", "beginning"]) or prefix[-3:] == [
            "w",
            "/",
            "c",
        ]:
            kind = "week_of"
        elif back_at >= 0 and all(word in _BACK_TAIL for word in prefix[back_at:]):
            kind = "back"
        elif prefix[-1:] in (["until"], ["through"]) or prefix[-2:] == ["up", "to"]:
            kind = "until"
        elif prefix[-1:] and prefix[-1] in _START_WORDS or prefix[-2:] == ["as", "of"] or onwards:
            kind = "open"
            piece.past = prefix[-1:] == ["since"]
        else:
            kind = "single"
        lo = _marker_start(tokens, item.ext_lo)
        exprs.append(_Expr(kind, lo, item.ext_hi + onwards, piece, follows=follows))
        consumed.update(range(lo, item.ext_hi + onwards))
        i += 1
    return exprs


def _listed_week(items: list[_Atom], i: int, tokens: list[_Token], text: str, consumed: set[int]) -> int | None:
    """The week a weekday borrows from the weekdays listed after it: "thu + fri next week", "wed and thu of next
    week" name two days of next week (not this Thursday and next week's Friday)."""
    j = i
    while j + 1 < len(items) and items[j + 1].kind == "weekday":
        if _gap(tokens, items[j].ext_hi, items[j + 1].ext_lo, consumed) not in _LIST_WORDS:
            return None
        j += 1
        listed = _piece(items[j], tokens, text)
        if listed.week is not None or listed.modifier is not None:
            return listed.week
    return None


def _listed_month(
    items: list[_Atom],
    i: int,
    exprs: list[_Expr],
    prefix: list[str],
    tokens: list[_Token],
    text: str,
    consumed: set[int],
) -> tuple[int, int | None] | None:
    """The month a bare day borrows from the dates it is listed with: "Dec 24 & 25", "24 and 25 December"."""
    if exprs and prefix in _LIST_WORDS:
        last = exprs[-1].second or exprs[-1].first
        if last is not None and last.month is not None:
            return last.month, last.year
    j = i
    # A month has at most 31 days to list; looking further would make a long run of numbers quadratic.
    while (
        j + 1 < min(len(items), i + 32) and _gap(tokens, items[j].ext_hi, items[j + 1].ext_lo, consumed) in _LIST_WORDS
    ):
        j += 1
        if items[j].kind in ("month_day", "day_month"):
            listed = _piece(items[j], tokens, text)
            return (listed.month, listed.year) if listed.month is not None else None
        if items[j].kind not in ("bare", "ordinal"):
            break
    return None


def _marker_start(tokens: list[_Token], lo: int) -> int:
    """Walk back over the words that introduce a date ("starting from", "the week of") so no reason keeps them."""
    while lo > 0 and tokens[lo - 1].text in _MARKERS:
        lo -= 1
    return lo


def _week_offset(text: str) -> int:
    if "after next" in text:
        return 2
    if "this" in text or "rest" in text:
        return 0
    if "last" in text:
        return -1
    return 1


def _duration(text: str) -> tuple[int, str]:
    words = text.removeprefix("for ").removeprefix("the next ")
    if "fortnight" in words:
        return 2, "week"
    unit = "week" if "week" in words else "day"
    number = re.match(r"\d+|a couple of|couple of|\w+", words)
    count = number.group() if number else "1"
    return (int(count) if count.isdigit() else _NUMBER_WORDS.get(count, 1)), unit


def _phrase(tokens: list[_Token], text: str, lo: int, hi: int) -> str:
    return text[tokens[lo].start : tokens[hi - 1].end] if hi > lo else ""


def _piece(atom: _Atom, tokens: list[_Token], text: str) -> _Piece:
    """What an atom says about a day, before the calendar is consulted."""
    words = atom.text.split()
    piece = _Piece(atom.kind, atom.text, _phrase(tokens, text, atom.lo, atom.hi), half=atom.half)
    piece.named_weekday = atom.named_weekday
    if atom.kind == "relative" and words[0] == "this":  # "this morning", "this afternoon"
        piece.half = _merge_half(piece.half, _half_kind(words[1]))
    elif atom.kind == "weekday":
        piece.weekday = next(WEEKDAYS.index(word) for word in words if word in WEEKDAYS)
        if words[0] in ("next", "coming") or atom.text.startswith("this coming"):
            piece.modifier = "next"
        elif words[0] in ("last", "past"):
            piece.modifier = "last"
        elif words[0] == "this":
            piece.modifier = "this"
        if words[-1] == "week":
            piece.week = _week_offset(words[-2])
    elif atom.kind in ("month_day", "day_month"):
        piece.month = next(MONTHS.index(word) + 1 for word in words if word in MONTHS)
        numbers = [word for word in words if word[0].isdigit()]
        piece.day = int(re.sub(r"\D", "", numbers[0]))
        if len(numbers) > 1:
            piece.year = int(numbers[1])
            piece.inferred = False
    elif atom.kind in ("ordinal", "bare"):
        piece.day = int(re.sub(r"\D", "", words[-1]))
    return piece


# ---------------------------------------------------------------------------------------------- calendar


def _resolve_expr(expr: _Expr, after: date | None, tokens: list[_Token], text: str, ctx: _Context) -> _Span:
    """Pin an expression to days; `after` is the day a listed date follows ("friday and monday")."""
    lo, hi, today = expr.lo, expr.hi, ctx.today
    if expr.kind == "week":
        monday = today - timedelta(days=today.weekday()) + timedelta(weeks=expr.weeks)
        if expr.weeks == 0 and today.weekday() >= 5:
            monday += timedelta(weeks=1)  # "this week" said at the weekend means the coming one
        start = max(monday, today)
        return _Span(_shifted(start, ctx), _shifted(monday + timedelta(days=4), ctx), lo, hi)
    assert expr.first is not None
    first = expr.first
    if expr.kind == "range":
        assert expr.second is not None
        second = expr.second
        start, end = _resolve_range(first, second, ctx)
        if "half" in (first.half, second.half):
            day = start if first.half == "half" else end
            phrase = _phrase(tokens, text, lo, hi)
            raise _Unclear(f"Morning or afternoon on {_fmt(day)}? “{phrase}” doesn't say which half.", problem=False)
        start_half = "pm" if first.half == "pm" else None  # "from Monday morning" is the whole Monday
        end_half = "am" if second.half == "am" else None
        return _Span(start, end, lo, hi, start_half, end_half, first.inferred or second.inferred)
    day = _resolve(first, after if expr.follows else None, ctx)
    if expr.kind == "week_of":
        monday = day - timedelta(days=day.weekday())
        return _Span(monday, monday + timedelta(days=4), lo, hi)
    if expr.kind == "duration":
        end = _add_working_days(day, expr.count) if expr.unit == "day" else _weeks_end(day, expr.count)
        unit = "working day" if expr.unit == "day" else "week"
        return _Span(day, end, lo, hi, detail=f" ({expr.count} {unit}{'s' if expr.count != 1 else ''})")
    if expr.kind == "open":
        return _Span(day, None, lo, hi, inferred=first.inferred, first_half=first.half)
    if expr.kind == "until":
        return _Span(None, day, lo, hi, inferred=first.inferred)
    if expr.kind == "back":
        # The day before they are back; a weekend in front of it is trimmed once the start is known.
        return _Span(None, day - timedelta(days=1), lo, hi, detail=f" (back {_fmt(day)})")
    return _Span(day, day, lo, hi, inferred=first.inferred, first_half=first.half)


def _resolve_range(first: _Piece, second: _Piece, ctx: _Context) -> tuple[date, date]:
    _read_numeric(first, ctx)
    _read_numeric(second, ctx)
    # The end lends what the start leaves out: "3-7 March", "Dec 22 to Jan 2 2027", "Mon-Wed next week".
    if first.month is None and first.day is not None and second.month is not None and second.day is not None:
        first.month, first.year = second.month, second.year
        if first.day > second.day:
            first.month -= 1
            if first.month == 0:
                first.month, first.year = 12, (first.year - 1 if first.year else None)
    if first.month is not None and first.year is None and second.month is not None and second.year is not None:
        assert first.day is not None and second.day is not None
        later = (first.month, first.day) > (second.month, second.day)
        first.year = second.year - 1 if later else second.year
    if first.weekday is not None and first.week is None and first.modifier is None and second.week is not None:
        first.week = second.week
    start = _resolve(first, None, ctx)
    end = _resolve(second, start, ctx)
    if end < start:
        raise _Unclear(f"The end ({_fmt(end)}) is before the start ({_fmt(start)}).", problem=True)
    return start, end


def _resolve(piece: _Piece, anchor: date | None, ctx: _Context) -> date:
    """Pin a piece to a day; `anchor` is the start when the piece is the end of a range."""
    today = ctx.today
    _read_numeric(piece, ctx)
    if piece.kind in ("relative", "offset"):
        day = _relative(piece, today)
        return _shifted(day, ctx) if anchor is None else day
    if piece.weekday is not None:
        if anchor is not None and piece.modifier is None and piece.week is None:
            return anchor + timedelta(days=(piece.weekday - anchor.weekday()) % 7)  # "friday to monday"
        if ctx.past and piece.modifier is None and piece.week is None:
            piece.past = True  # "I was sick on monday": the Monday that has been
        day = _weekday(piece, today)
        return _shifted(day, ctx) if anchor is None else day
    assert piece.day is not None
    if piece.month is None:
        return _checked_weekday(piece, _day_of_month(piece, anchor, ctx))
    if piece.year is None:
        piece.year = _end_year(piece, anchor) if anchor is not None else _year(piece.month, piece.day, ctx)
    return _checked_weekday(piece, _existing(piece.year, piece.month, piece.day))


def _checked_weekday(piece: _Piece, day: date) -> date:
    """The day, when it is the weekday written with it ("friday the 19th"); a question when it is not."""
    if piece.named_weekday is None or piece.named_weekday == day.weekday():
        return day
    named = WEEKDAYS[piece.named_weekday].capitalize()
    raise _Unclear(f"{_fmt(day)} is a {day:%A}, not a {named} — which day do you mean?", problem=False)


def _read_numeric(piece: _Piece, ctx: _Context) -> None:
    """Fill month/day/year from "3/14", "14.3.2027" or "2027-03-14" in the employee's date order."""
    if piece.kind not in ("numeric", "iso") or piece.month is not None:
        return
    parts = [int(part) for part in re.split(r"[-/.]", piece.canon) if part]
    if piece.kind == "iso":
        piece.year, piece.month, piece.day = parts
        piece.inferred = False
        if not 1 <= piece.month <= 12:
            raise _Unclear(f"“{piece.phrase}” isn't a date — there's no month {piece.month}.", problem=True)
        return
    first, second = parts[0], parts[1]
    month, day = (first, second) if ctx.order == "MDY" else (second, first)
    if len(parts) > 2:
        piece.year = parts[2] + 2000 if parts[2] < 100 else parts[2]
    if not (1 <= month <= 12 and 1 <= day <= 31):
        if 1 <= day <= 12 and 1 <= month <= 31:
            # Written the other way round ("14/3" from a US employee): ask, the order could be a slip either way.
            order = "month/day" if ctx.order == "MDY" else "day/month"
            swapped = (
                f"{calendar.month_name[day]} {month}" if ctx.order == "DMY" else f"{month} {calendar.month_name[day]}"
            )
            raise _Unclear(f"Did you mean {swapped}? I read “{piece.phrase}” as {order}.", problem=False)
        raise _Unclear(f"“{piece.phrase}” isn't a date.", problem=True)
    piece.month, piece.day = month, day
    # "12/9" reads differently elsewhere, so the card says how it was taken.
    piece.inferred = piece.year is None or (first <= 12 and second <= 12 and first != second)


def _relative(piece: _Piece, today: date) -> date:
    phrase = piece.canon
    if "after tomorrow" in phrase:
        return today + timedelta(days=2)
    if "before yesterday" in phrase:
        return today - timedelta(days=2)
    if "tomorrow" in phrase:
        return today + timedelta(days=1)
    if "yesterday" in phrase:
        return today - timedelta(days=1)
    if piece.kind == "relative":  # today, this morning, this afternoon
        return today
    # "in three days", "in a fortnight", "2 weeks from now": dateparser knows the number words and units.
    offset = (
        re.sub(r"^(.*) from (?:now|today)$", r"in \1", phrase).replace("a couple of", "2").replace("couple of", "2")
    )
    base = datetime(today.year, today.month, today.day)
    parsed: datetime | None = dateparser.parse(offset, languages=["en"], settings={"RELATIVE_BASE": base})
    if parsed is None:
        raise _Unclear(f"Which day is “{piece.phrase}”? Please give the date.", problem=False)
    return parsed.date()


def _weekday(piece: _Piece, today: date) -> date:
    assert piece.weekday is not None
    monday = today - timedelta(days=today.weekday())
    if piece.week is not None:  # "friday next week"
        return monday + timedelta(weeks=piece.week, days=piece.weekday)
    if piece.modifier == "next":
        return today + timedelta(days=(piece.weekday - today.weekday()) % 7 or 7)  # first one strictly after today
    if piece.modifier == "last" or piece.past:
        behind = (today.weekday() - piece.weekday) % 7
        return today - timedelta(days=behind or (0 if piece.past else 7))
    if piece.modifier == "this":
        day = monday + timedelta(days=piece.weekday)
        return day if day >= today else day + timedelta(weeks=1)
    return today + timedelta(days=(piece.weekday - today.weekday()) % 7)


def _day_of_month(piece: _Piece, anchor: date | None, ctx: _Context) -> date:
    """A bare day ("the 9th"): this month while still ahead (or the start's month), else the next month with it."""
    assert piece.day is not None
    if not 1 <= piece.day <= 31:
        raise _Unclear(f"“{piece.phrase}” isn't a day of the month.", problem=True)
    base = anchor or ctx.today
    year, month = base.year, base.month
    if piece.day < base.day:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    while piece.day > calendar.monthrange(year, month)[1]:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    if anchor is None and ctx.year_shift:
        year += ctx.year_shift
    return _existing(year, month, piece.day)


def _year(month: int, day: int, ctx: _Context) -> int:
    """The next occurrence that is not in the past, except that the last 30 days stay where they are."""
    if ctx.year_shift is not None:
        return ctx.today.year + ctx.year_shift
    cutoff = ctx.today - timedelta(days=30)
    return cutoff.year if (month, day) >= (cutoff.month, cutoff.day) else cutoff.year + 1


def _end_year(piece: _Piece, anchor: date) -> int:
    """The end of a range written without a year: the start's year, or the next one when it crosses New Year."""
    assert piece.month is not None and piece.day is not None
    if (piece.month, piece.day) >= (anchor.month, anchor.day):
        return anchor.year
    rolled = date(anchor.year + 1, piece.month, min(piece.day, 28))
    # "Dec 22 to Jan 2" rolls over; "Mar 18 to Mar 14" is a slip, not an absence of a year.
    return anchor.year + 1 if (rolled - anchor).days <= 183 else anchor.year


def _existing(year: int, month: int, day: int) -> date:
    """The date, or a problem saying why it doesn't exist (Feb 30 is not quietly moved to March 2)."""
    if not 1 <= month <= 12:
        raise _Unclear(f"There is no month {month}.", problem=True)
    if not 1900 <= year <= 2999:
        raise _Unclear(f"{year} isn't a year I can book.", problem=True)
    name = calendar.month_name[month]
    length = calendar.monthrange(year, month)[1]
    if 1 <= day <= length:
        return date(year, month, day)
    if month == 2 and day == 29:
        raise _Unclear(f"February 29, {year} doesn't exist — {year} isn't a leap year.", problem=True)
    if month != 2 and day == 31:
        raise _Unclear(f"{name} 31 doesn't exist — {name} has {length} days.", problem=True)
    raise _Unclear(f"{name} {day} doesn't exist.", problem=True)


def _shifted(day: date, ctx: _Context) -> date:
    """Move a day by the text's "last year"/"next year", keeping its weekday (52 weeks)."""
    return day + timedelta(weeks=52 * ctx.year_shift) if ctx.year_shift else day


def _add_working_days(start: date, count: int) -> date:
    """The day on which `count` weekdays from start are used up; public holidays are counted later, per country."""
    day, counted = start, 0
    while True:
        if day.weekday() < 5:
            counted += 1
            if counted >= count:
                return day
        day += timedelta(days=1)


def _weeks_end(start: date, weeks: int) -> date:
    end = start + timedelta(weeks=weeks, days=-1)
    while end.weekday() >= 5 and end > start:
        end -= timedelta(days=1)  # a trailing weekend costs nothing, so the card ends on the Friday
    return end


# ---------------------------------------------------------------------------------------------- result


def _assemble(
    spans: list[_Span],
    lone: list[_Expr],
    vague: list[str],
    loose_halves: list[str],
    tokens: list[_Token],
    text: str,
    ctx: _Context,
) -> _Span | None:
    """One stretch of days out of the expressions found, or None and a question when they don't make one."""
    if ctx.problems or ctx.questions:
        return None
    opens = [span for span in spans if span.end is None]
    untils = [span for span in spans if span.start is None]
    closed = [span for span in spans if span.start is not None and span.end is not None]
    if untils and len(opens) + len(closed) == 1 and len(untils) == 1:
        # "starting monday, back on the 7th", "sick today, back tomorrow"
        begin, until = (opens or closed)[0], untils[0]
        assert begin.start is not None and until.end is not None
        end = until.end
        while end.weekday() >= 5 and end > begin.start:
            end -= timedelta(days=1)  # back on Monday: the last day off is the Friday before
        lo, hi = min(begin.lo, until.lo), max(begin.hi, until.hi)
        return _Span(begin.start, max(end, begin.start), lo, hi, begin.start_half, None, True, "", begin.first_half)
    if opens or untils:
        if len(opens) == 1 and not closed and not untils:
            phrase = _phrase(tokens, text, opens[0].lo, opens[0].hi)
            ctx.questions.append(f"Until when? You said “{phrase}” — what's your last day off?")
            return opens[0]
        if len(untils) == 1 and not closed and not opens:
            ctx.questions.append(f"From when? You said until {_fmt(untils[0].end)} — what's your first day off?")
            return untils[0]
        ctx.questions.append("I found more than one start or end date — which days do you mean?")
        return None
    if not closed:
        if lone:
            ctx.questions.append(f"Starting when? You said “{_phrase(tokens, text, lone[0].lo, lone[0].hi)}”.")
        elif vague and vague[0].lower() not in ("some time", "sometime"):
            ctx.questions.append(f"Which days do you mean by “{vague[0]}”? Please give the first and the last day.")
        else:
            ctx.questions.append("Which dates would you like off? For example “Dec 22 to Jan 2” or “next Friday”.")
        return None
    merged = _merged(closed)
    if len(merged) > 1:
        first, last = merged[0], merged[-1]
        names = " and ".join(f"“{_phrase(tokens, text, span.lo, span.hi)}”" for span in merged)
        ctx.questions.append(
            f"{names} aren't one stretch of days — did you mean {_fmt(first.start)} to {_fmt(last.end)}, "
            "or separate requests?"
        )
        return None
    span = merged[0]
    assert span.start is not None and span.end is not None
    if lone:
        count = sum(1 for i in range((span.end - span.start).days + 1) if (span.start + timedelta(i)).weekday() < 5)
        wanted = lone[0].count * (5 if lone[0].unit == "week" else 1)
        if count != wanted:
            duration = _phrase(tokens, text, lone[0].lo, lone[0].hi).removeprefix("for ")
            phrase = _phrase(tokens, text, span.lo, span.hi)
            if wanted == 1:
                ctx.questions.append(f"Which day of “{phrase}” would you like off?")
            else:
                ctx.questions.append(f"Which {duration} do you mean? “{phrase}” is {count} working days.")
            return None
    if span.start == span.end:
        span.first_half = _single_half(span, loose_halves)
        if span.first_half == "half":
            phrase = _phrase(tokens, text, span.lo, span.hi)
            ctx.questions.append(f"Morning or afternoon? “{phrase}” could be either half of {_fmt(span.start)}.")
        return span
    if "half" in loose_halves:
        ctx.questions.append("Which day is the half day, and is it the morning or the afternoon?")
    return span


def _single_half(span: _Span, loose_halves: list[str]) -> str | None:
    """The half of a one-day request; a "half day" standing apart from the date ("half day, tomorrow") counts too."""
    half = span.first_half
    for loose in loose_halves:
        half = _merge_half(half, loose)
    return half


def _merged(spans: list[_Span]) -> list[_Span]:
    """Join spans that overlap, touch, or have only a weekend between them: "monday, tuesday and wednesday"."""
    result: list[_Span] = []
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        assert span.start is not None and span.end is not None
        last = result[-1] if result else None
        if last is not None:
            assert last.start is not None and last.end is not None
            between = [last.end + timedelta(days=i) for i in range(1, (span.start - last.end).days)]
            if all(day.weekday() >= 5 for day in between):
                later = span if span.end >= last.end else last
                half = last.first_half if last.start == later.end else None
                lo, hi = min(last.lo, span.lo), max(last.hi, span.hi)
                result[-1] = _Span(
                    last.start, later.end, lo, hi, last.start_half, later.end_half, True, later.detail, half
                )
                continue
        result.append(span)
    return result


def _fmt(day: date | None) -> str:
    return "" if day is None else f"{day:%a} {day.day} {day:%b %Y}"


def _note(span: _Span, tokens: list[_Token], text: str) -> str:
    """How the words were read, for the confirmation card: read "next Friday" as Fri 27 Nov 2026."""
    half = {"am": " (morning)", "pm": " (afternoon)"}
    assert span.start is not None
    if span.end is None:
        read = f"from {_fmt(span.start)}"
    elif span.start == span.end:
        read = _fmt(span.start) + half.get(span.first_half or "", "")
    else:
        same_year = span.start.year == span.end.year
        first = f"{span.start:%a} {span.start.day} {span.start:%b}" if same_year else _fmt(span.start)
        read = f"{first}{half.get(span.start_half or '', '')} – {_fmt(span.end)}{half.get(span.end_half or '', '')}"
    return f'read "{_phrase(tokens, text, span.lo, span.hi)}" as {read}{span.detail}'


def _reason(tokens: list[_Token], text: str, consumed: set[int], first_date: int) -> str | None:
    """The words after "for"/"because"/a comma or dash that are not dates or type words ("my sister's wedding")."""
    resume = 0
    for k, token in enumerate(tokens):
        if k < resume or k in consumed or token.text not in _REASON_MARKERS:
            continue
        if token.text in _PUNCTUATION_MARKERS and k < first_date:
            continue  # "Hi, can I take friday off", "I'm sick, won't be in today": no reason before the dates
        if token.text == "-" and not _spaced(text, token):
            continue  # a hyphen inside a word
        j = k + 1
        if token.text in ("due", "because") and j < len(tokens) and tokens[j].text in ("to", "of"):
            j += 1
        run: list[int] = []
        while j < len(tokens) and j not in consumed and tokens[j].text not in _REASON_STOPS:
            if tokens[j].text == "-" and _spaced(text, tokens[j]):
                break
            run.append(j)
            j += 1
        lo, hi = 0, len(run)
        while lo < hi and tokens[run[lo]].text in _REASON_LEADS:
            lo += 1
        while hi > lo and tokens[run[hi - 1]].text in _NOT_REASONS:
            hi -= 1
        run = run[lo:hi]
        if any(tokens[i].text not in _NOT_REASONS and tokens[i].text[0].isalpha() for i in run):
            return text[tokens[run[0]].start : tokens[run[-1]].end]
        # A marker inside this run would read a tail of the same words, which holds no reason either; skipping
        # them keeps a long message linear ("for for for …" was quadratic).
        resume = j
    return None


def _spaced(text: str, token: _Token) -> bool:
    before = token.start == 0 or text[token.start - 1].isspace()
    after = token.end >= len(text) or text[token.end].isspace()
    return before or after
