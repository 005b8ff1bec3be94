"""Free-text leave requests → type, dates, half days and reason; anything unclear becomes a question, never a guess.

The text is split into tokens (typos of month and weekday names fixed with difflib), date "atoms" are found with
regular expressions ("Dec 22", "3/14", "next friday", "the 9th", "for 3 days"), and the words between atoms decide
how they combine ("to" makes a range, "starting" an open start, "and" a list). dateparser only reads relative
offsets ("in a fortnight"): on whole sentences it rolls recent dates into next year and reads "may" as a month.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from bot.date_words import fmt_day
from skills.leave.date_atoms import (
    Atom,
    Expr,
    atoms_in,
    attach_halves,
    group_atoms,
    merge_half,
    with_weekdays,
    without_events,
)
from skills.leave.date_resolution import DateContext, Span, UnclearDate, resolve_expr
from skills.leave.meanings import meant_type, told_in_past
from skills.leave.tokens import (
    AliasIndex,
    Token,
    alias_index,
    generic_type,
    joined,
    named_leave_type,
    phrase_of,
    tokenize,
)


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


HALVES = ("am", "pm")

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


@dataclass
class _Reading:
    """A text's tokens, the leave type it names and its date expressions, before they are pinned to days."""

    tokens: list[Token]
    norm: str
    index: AliasIndex
    consumed: set[int]
    leave_type: str | None
    unknown_type: str | None
    atoms: list[Atom]
    loose_halves: list[str]
    exprs: list[Expr]
    ctx: DateContext


def _read(text: str, *, today: date, aliases: Mapping[str, str], date_order: str) -> _Reading:
    if date_order not in ("MDY", "DMY"):
        raise ValueError(f"date_order is MDY or DMY, not {date_order!r}")
    if not 1900 <= today.year <= 2999:
        # The years a date can be written with; near date.min or date.max "tomorrow" would not even exist.
        raise ValueError(f"today is a day between 1900 and 2999, not {today}")
    index = alias_index(tuple(sorted((" ".join(alias.lower().split()), key) for alias, key in aliases.items())))
    tokens = tokenize(text, index)
    norm, starts, ends = joined(tokens)
    consumed: set[int] = set()
    leave_type, unknown_type = named_leave_type(norm, starts, ends, tokens, index, consumed)
    ctx = DateContext(today=today, order=date_order, past=told_in_past(text))
    atoms = atoms_in(norm, starts, ends)
    for atom in atoms:
        if atom.kind in ("year", "vague"):
            consumed.update(range(atom.lo, atom.hi))
        if atom.kind == "year":
            ctx.year_shift = {"last": -1, "next": 1, "this": 0}[atom.text.split()[0]]
    loose_halves = attach_halves(atoms, tokens, consumed)
    items = with_weekdays([atom for atom in atoms if atom.kind not in ("half", "year", "vague")], tokens, consumed)
    exprs = without_events(group_atoms(items, tokens, text, consumed), tokens)
    return _Reading(tokens, norm, index, consumed, leave_type, unknown_type, atoms, loose_halves, exprs, ctx)


def parse_leave(text: str, *, today: date, aliases: Mapping[str, str], date_order: str = "MDY") -> ParsedLeave:
    """Read a free-text leave request as of the employee's local `today`; never guesses what the text leaves open."""
    reading = _read(text, today=today, aliases=aliases, date_order=date_order)
    tokens, norm, index, consumed, ctx = reading.tokens, reading.norm, reading.index, reading.consumed, reading.ctx
    atoms, loose_halves, exprs = reading.atoms, reading.loose_halves, reading.exprs
    leave_type, unknown_type = reading.leave_type, reading.unknown_type
    type_named = leave_type is not None and leave_type != generic_type(norm, index)
    if not type_named:
        # No type named, or only "off" / "out": what the words mean ("a fever", "my dad died"), when the
        # company has that type.
        leave_type = meant_type(text, set(aliases.values())) or leave_type

    spans: list[Span] = []
    for expr in exprs:
        if expr.kind == "lone_duration":
            continue
        try:
            spans.append(resolve_expr(expr, spans[-1].end if spans else None, tokens, text, ctx))
        except UnclearDate as unclear:
            (ctx.problems if unclear.problem else ctx.questions).append(unclear.message)
    vague = [phrase_of(tokens, text, atom.lo, atom.hi) for atom in atoms if atom.kind == "vague"]
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
        type_named=type_named or leave_type != generic_type(norm, index),
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
            span = resolve_expr(expr, found[-1][1] if found else None, reading.tokens, text, reading.ctx)
        except UnclearDate:
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
            span = Span(day, day, span.lo, span.hi)
        found.append((span.start, span.end))
    return found


# ---------------------------------------------------------------------------------------------- result


def _assemble(
    spans: list[Span],
    lone: list[Expr],
    vague: list[str],
    loose_halves: list[str],
    tokens: list[Token],
    text: str,
    ctx: DateContext,
) -> Span | None:
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
        return Span(begin.start, max(end, begin.start), lo, hi, begin.start_half, None, True, "", begin.first_half)
    if opens or untils:
        if len(opens) == 1 and not closed and not untils:
            phrase = phrase_of(tokens, text, opens[0].lo, opens[0].hi)
            ctx.questions.append(f"Until when? You said “{phrase}” — what's your last day off?")
            return opens[0]
        if len(untils) == 1 and not closed and not opens:
            ctx.questions.append(f"From when? You said until {fmt_day(untils[0].end)} — what's your first day off?")
            return untils[0]
        ctx.questions.append("I found more than one start or end date — which days do you mean?")
        return None
    if not closed:
        if lone:
            ctx.questions.append(f"Starting when? You said “{phrase_of(tokens, text, lone[0].lo, lone[0].hi)}”.")
        elif vague and vague[0].lower() not in ("some time", "sometime"):
            ctx.questions.append(f"Which days do you mean by “{vague[0]}”? Please give the first and the last day.")
        else:
            ctx.questions.append("Which dates would you like off? For example “Dec 22 to Jan 2” or “next Friday”.")
        return None
    merged = _merged(closed)
    if len(merged) > 1:
        first, last = merged[0], merged[-1]
        names = " and ".join(f"“{phrase_of(tokens, text, span.lo, span.hi)}”" for span in merged)
        ctx.questions.append(
            f"{names} aren't one stretch of days — did you mean {fmt_day(first.start)} to {fmt_day(last.end)}, "
            "or separate requests?"
        )
        return None
    span = merged[0]
    assert span.start is not None and span.end is not None
    if lone:
        count = sum(1 for i in range((span.end - span.start).days + 1) if (span.start + timedelta(i)).weekday() < 5)
        wanted = lone[0].count * (5 if lone[0].unit == "week" else 1)
        if count != wanted:
            duration = phrase_of(tokens, text, lone[0].lo, lone[0].hi).removeprefix("for ")
            phrase = phrase_of(tokens, text, span.lo, span.hi)
            if wanted == 1:
                ctx.questions.append(f"Which day of “{phrase}” would you like off?")
            else:
                ctx.questions.append(f"Which {duration} do you mean? “{phrase}” is {count} working days.")
            return None
    if span.start == span.end:
        span.first_half = _single_half(span, loose_halves)
        if span.first_half == "half":
            phrase = phrase_of(tokens, text, span.lo, span.hi)
            ctx.questions.append(f"Morning or afternoon? “{phrase}” could be either half of {fmt_day(span.start)}.")
        return span
    if "half" in loose_halves:
        ctx.questions.append("Which day is the half day, and is it the morning or the afternoon?")
    return span


def _single_half(span: Span, loose_halves: list[str]) -> str | None:
    """The half of a one-day request; a "half day" standing apart from the date ("half day, tomorrow") counts too."""
    half = span.first_half
    for loose in loose_halves:
        half = merge_half(half, loose)
    return half


def _merged(spans: list[Span]) -> list[Span]:
    """Join spans that overlap, touch, or have only a weekend between them: "monday, tuesday and wednesday"."""
    result: list[Span] = []
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
                result[-1] = Span(
                    last.start, later.end, lo, hi, last.start_half, later.end_half, True, later.detail, half
                )
                continue
        result.append(span)
    return result


def _note(span: Span, tokens: list[Token], text: str) -> str:
    """How the words were read, for the confirmation card: read "next Friday" as Fri 27 Nov 2026."""
    half = {"am": " (morning)", "pm": " (afternoon)"}
    assert span.start is not None
    if span.end is None:
        read = f"from {fmt_day(span.start)}"
    elif span.start == span.end:
        read = fmt_day(span.start) + half.get(span.first_half or "", "")
    else:
        same_year = span.start.year == span.end.year
        first = fmt_day(span.start, year=not same_year)
        read = f"{first}{half.get(span.start_half or '', '')} – {fmt_day(span.end)}{half.get(span.end_half or '', '')}"
    return f'read "{phrase_of(tokens, text, span.lo, span.hi)}" as {read}{span.detail}'


def _reason(tokens: list[Token], text: str, consumed: set[int], first_date: int) -> str | None:
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


def _spaced(text: str, token: Token) -> bool:
    before = token.start == 0 or text[token.start - 1].isspace()
    after = token.end >= len(text) or text[token.end].isspace()
    return before or after
