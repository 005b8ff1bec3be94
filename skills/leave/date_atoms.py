"""Date atoms in a leave message ("Dec 22", "next friday", "for 3 days") and the expressions their joins make."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.date_words import (
    MONTH_NAME,
    MONTH_NUMBERS,
    MONTHS,
    NUMBER_WORDS,
    ORDINAL_SUFFIX,
    WEEKDAY_NAME,
    WEEKDAY_NUMBERS,
    WEEKDAYS,
    number_words,
)
from skills.leave.tokens import Token, phrase_of

_FILLER = frozenset(
    "please pls i i'm i'll will be am is are taking take out away on the a me off like would need want going "
    "gone".split()
)

_MARKERS = frozenset(
    "from starting start beginning commencing effective since as of between until through back returning return "
    "on the week onwards".split()
)

# The tokens spell months and weekdays out in full ("sept" → "september"), so MONTH_NAME and WEEKDAY_NAME suffice.
_DAY = rf"\d{{1,2}}{ORDINAL_SUFFIX}?"
_COUNT = rf"(?:\d{{1,3}}|{number_words(12)})"
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
                rf"(?:(?:this coming|coming|next|this|last|past) )?{WEEKDAY_NAME}"
                r"(?: (?:of )?(?:next|this|last|the following|following) week)?",
            ),
            ("iso", r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"),
            ("numeric", r"\d{1,2}/\d{1,2}(?:/\d{2,4})?|\d{1,2}\.\d{1,2}\.(?:\d{2,4})?"),
            ("month_day", rf"{MONTH_NAME} (?:the )?{_DAY}(?:(?: ,)? \d{{4}})?"),
            ("day_month", rf"(?:the )?{_DAY} (?:of )?{MONTH_NAME}(?:(?: ,)? \d{{4}})?"),
            (
                "duration",
                rf"(?:for )?(?:the next )?{_COUNT} (?:full )?(?:working |business |work )?(?:days?|weeks?)"
                r"|(?:for )?a fortnight",
            ),
            ("ordinal", rf"(?:the )?\d{{1,2}}{ORDINAL_SUFFIX}|the \d{{1,2}}"),
            ("bare", r"\d{1,2}"),
            (
                "vague",
                rf"(?:(?:some time|sometime) )?(?:in|during) (?:early |mid |late |the middle of |the end of )?"
                rf"{MONTH_NAME}(?! (?:the )?{_DAY}(?!\S))(?: \d{{4}})?|(?:early|mid|late) (?:- )?{MONTH_NAME}"
                rf"|{MONTH_NAME} \d{{4}}|(?:the )?(?:end|beginning|start|middle) of {MONTH_NAME}"
                r"|(?:(?:some time|sometime) )?(?:next|this) month|some time|sometime",
            ),
            ("year", r"(?:last|next|this) year"),
        )
    )
    + ")(?!\\S)"
)


@dataclass
class Atom:
    kind: str
    lo: int  # token indices, hi exclusive
    hi: int
    text: str  # canonical text
    half: str | None = None  # am / pm / half, from an attached "morning", "afternoon", "half day"
    ext_lo: int = 0  # lo/hi widened by attached half-day words
    ext_hi: int = 0
    named_weekday: int | None = None  # "friday the 19th": the weekday written with the date, checked against it


@dataclass
class Piece:
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
class Expr:
    kind: str  # single, range, open, until, back, week, week_of, duration, lone_duration
    lo: int
    hi: int
    first: Piece | None = None
    second: Piece | None = None
    count: int = 0
    unit: str = ""
    weeks: int = 0  # for kind "week": weeks from the current one
    follows: bool = False  # listed after another date ("friday and monday"): read it after that one


# ---------------------------------------------------------------------------------------------- atoms and groups


def atoms_in(norm: str, starts: dict[int, int], ends: dict[int, int]) -> list[Atom]:
    atoms = []
    for match in _ATOMS.finditer(norm):
        assert match.lastgroup is not None
        lo, hi = starts[match.start()], ends[match.end()]
        atoms.append(Atom(match.lastgroup, lo, hi, match.group(), ext_lo=lo, ext_hi=hi))
    return atoms


_DATED = frozenset({"offset", "relative", "weekday", "iso", "numeric", "month_day", "day_month", "ordinal"})


def _half_kind(text: str) -> str:
    """Which half a phrase means: "am", "pm", or "half" when it doesn't say ("half day")."""
    words = set(text.split())
    if "half" in words and not words & {"first", "second"}:
        return "half"
    return "am" if words & {"morning", "first", "before", "until", "am"} else "pm"


def attach_halves(atoms: list[Atom], tokens: list[Token], consumed: set[int]) -> list[str]:
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
        target.half = merge_half(target.half, kind)
        target.ext_lo, target.ext_hi = min(target.ext_lo, atom.lo), max(target.ext_hi, atom.hi)
        consumed.update(range(atom.lo, atom.hi))
    return loose


def merge_half(old: str | None, new: str) -> str:
    if old is None or old == "half":
        return new
    if new == "half" or new == old:
        return old
    return "half"  # "morning" and "afternoon" of one day: ask rather than pick one


def with_weekdays(items: list[Atom], tokens: list[Token], consumed: set[int]) -> list[Atom]:
    """A weekday written right before a day of the month ("friday the 19th", "thu 18 march") is one date, whose
    weekday is checked against the calendar, not a second day."""
    result: list[Atom] = []
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
            result[-1] = Atom(
                kind,
                item.lo,
                item.hi,
                item.text,
                item.half or last.half,
                last.ext_lo,
                item.ext_hi,
                named_weekday=WEEKDAY_NUMBERS[last.text],
            )
            continue
        result.append(item)
    return result


# A date told as what happened ("my grandmother passed away on sunday") is not a day asked off.
_EVENT_WORDS = frozenset({"passed", "away", "died", "happened", "occurred", "born"})


def without_events(exprs: list[Expr], tokens: list[Token]) -> list[Expr]:
    """Leave out dates that come right after what happened, when other dates remain for the time off."""
    dated = [expr for expr in exprs if expr.kind != "lone_duration"]
    events = [expr for expr in dated if _EVENT_WORDS & {t.text for t in tokens[max(0, expr.lo - 3) : expr.lo]}]
    if not events or len(events) == len(dated):
        return exprs
    return [expr for expr in exprs if expr not in events]


def _gap(tokens: list[Token], lo: int, hi: int, consumed: set[int]) -> list[str]:
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


def group_atoms(items: list[Atom], tokens: list[Token], text: str, consumed: set[int]) -> list[Expr]:
    """Join date atoms into expressions by the words between them ("to", "starting", "and", "the week of")."""
    exprs: list[Expr] = []
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
                exprs.append(Expr("duration", item.lo, nxt.ext_hi, _piece(nxt, tokens, text), count=count, unit=unit))
                consumed.update(range(item.lo, nxt.ext_hi))
                i += 2
                continue
            if last is not None and last.kind in ("single", "open") and last.hi == item.lo:
                # "starting Monday for 3 days"
                exprs[-1] = Expr("duration", last.lo, item.hi, last.first, count=count, unit=unit)
            else:
                exprs.append(Expr("lone_duration", item.lo, item.hi, count=count, unit=unit))
            consumed.update(range(item.lo, item.hi))
            i += 1
            continue

        if item.kind == "week":
            if nxt is not None and nxt.kind == "weekday" and not between and not nxt.text.endswith("week"):
                piece = _piece(nxt, tokens, text)  # "next week friday"
                piece.week = _week_offset(item.text)
                exprs.append(Expr("single", item.lo, nxt.ext_hi, piece))
                consumed.update(range(item.lo, nxt.ext_hi))
                i += 2
                continue
            exprs.append(Expr("week", item.lo, item.hi, weeks=_week_offset(item.text)))
            consumed.update(range(_marker_start(tokens, item.lo), item.hi))
            i += 1
            continue

        # "friday and monday" lists days in order, so the Monday is the one after that Friday.
        follows = bool(exprs) and exprs[-1].hi <= item.ext_lo and prefix in _LIST_WORDS
        joins = between in _RANGE_WORDS or (between == ["and"] and prefix[-1:] == ["between"])
        if nxt is not None and (nxt.kind in _DATED or nxt.kind == "bare") and joins:
            first, second = _piece(item, tokens, text), _piece(nxt, tokens, text)
            lo = _marker_start(tokens, item.ext_lo)
            exprs.append(Expr("range", lo, nxt.ext_hi, first, second, follows=follows))
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
        exprs.append(Expr(kind, lo, item.ext_hi + onwards, piece, follows=follows))
        consumed.update(range(lo, item.ext_hi + onwards))
        i += 1
    return exprs


def _listed_week(items: list[Atom], i: int, tokens: list[Token], text: str, consumed: set[int]) -> int | None:
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
    items: list[Atom],
    i: int,
    exprs: list[Expr],
    prefix: list[str],
    tokens: list[Token],
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


def _marker_start(tokens: list[Token], lo: int) -> int:
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
    return (int(count) if count.isdigit() else NUMBER_WORDS.get(count, 1)), unit


def _piece(atom: Atom, tokens: list[Token], text: str) -> Piece:
    """What an atom says about a day, before the calendar is consulted."""
    words = atom.text.split()
    piece = Piece(atom.kind, atom.text, phrase_of(tokens, text, atom.lo, atom.hi), half=atom.half)
    piece.named_weekday = atom.named_weekday
    if atom.kind == "relative" and words[0] == "this":  # "this morning", "this afternoon"
        piece.half = merge_half(piece.half, _half_kind(words[1]))
    elif atom.kind == "weekday":
        piece.weekday = next(WEEKDAY_NUMBERS[word] for word in words if word in WEEKDAYS)
        if words[0] in ("next", "coming") or atom.text.startswith("this coming"):
            piece.modifier = "next"
        elif words[0] in ("last", "past"):
            piece.modifier = "last"
        elif words[0] == "this":
            piece.modifier = "this"
        if words[-1] == "week":
            piece.week = _week_offset(words[-2])
    elif atom.kind in ("month_day", "day_month"):
        piece.month = next(MONTH_NUMBERS[word] for word in words if word in MONTHS)
        numbers = [word for word in words if word[0].isdigit()]
        piece.day = int(re.sub(r"\D", "", numbers[0]))
        if len(numbers) > 1:
            piece.year = int(numbers[1])
            piece.inferred = False
    elif atom.kind in ("ordinal", "bare"):
        piece.day = int(re.sub(r"\D", "", words[-1]))
    return piece
