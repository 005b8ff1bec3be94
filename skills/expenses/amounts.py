"""The amount of an expense and its currency, read from its sentence; a mileage claim's amount from its distance."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from price_parser import Price

from skills.expenses.categories import CUES, singular
from skills.expenses.currencies import ISO_4217, LOWER_CODES, MARKERS, Marker, minor_units
from skills.expenses.distances import DRIVING, KM_PER_MILE
from skills.expenses.scan import AMOUNT, CURRENCY, DISTANCE, MAX_AMOUNT, MAX_DISTANCE, NUMBER_WORDS, Scan


def _money(amount: Decimal, currency: str | None) -> str:
    return f"{amount:,} {currency}" if currency else f"{amount:,}"


# Markers that stand before a number: symbols, "kr 200", and (checked in code) any three-letter code.
_PREFIX_KEYS = sorted(
    (
        key
        for key in MARKERS
        if " " not in key and (not key.isascii() or not key.isalpha() or key in ("kr", "rmb", "rs"))
    ),
    key=len,
    reverse=True,
)
_SYMBOL_RE = "|".join(re.escape(key) for key in _PREFIX_KEYS if not key.isalpha())
MONEY_WORDS_RE = "|".join(re.escape(key) for key in sorted(MARKERS, key=len, reverse=True) if key[0].isalpha())
_NUMBER = re.compile(
    r"(?<![\d.,'])(?:\d{1,3}(?:\s\d{3})+(?:[.,]\d{1,2})?(?![\d.,]?\d)|\d+(?:[.,']\d+)*|[.,]\d{1,2}(?![\d.,]))"
)
_APPROX = r"(?P<approx>(?:about|around|roughly|approximately|approx\.?|circa|ca\.|almost|nearly|like|maybe|~)\s?)?"
_MINUS = r"(?P<minus>minus\s|(?:(?<=[\s(:])|^)-)?"
_PREFIX = re.compile(
    rf"{_APPROX}{_MINUS}(?P<marker>(?<![^\W\d_])(?:{'|'.join(re.escape(k) for k in _PREFIX_KEYS)}|[^\W\d_]{{3}}))"
    r"\s?(?P<sign>-)?\Z",
    re.I,
)
_PREFIX_BARE = re.compile(rf"{_APPROX}{_MINUS}\Z", re.I)
_SUFFIX = re.compile(
    rf"(?P<k>\s?k(?![^\W\d_]))?(?P<ish>ish\b)?(?:(?P<space>\s?)(?P<marker>{_SYMBOL_RE}"
    r"|[^\W\d_]+\.?(?:\s[^\W\d_]+){0,2}))?",
    re.I,
)
_TENS = {word: 20 + 10 * i for i, word in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
_WORDS_AMOUNT = re.compile(
    rf"\b(?P<number>(?:a|one)\shundred|(?:{'|'.join(_TENS)})(?:[-\s](?:one|two|three|four|five|six|seven|eight|nine))?"
    r"|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen"
    rf"|seventeen|eighteen|nineteen)\s(?P<marker>{MONEY_WORDS_RE})\b",
    re.I,
)
_VAGUE_AMOUNT = re.compile(
    r"\b(?:a\slot|lots|a\sbunch|some\smoney|a\sfew\s(?:bucks|quid|dollars|euros|pounds)|a\sfortune|too\smuch|a\sbit"
    r"|loads|a\scouple\sof\s(?:bucks|quid|dollars|euros|pounds))\b",
    re.I,
)


@dataclass
class Candidate:
    start: int  # the span of the number and its markers, in the cleaned text
    end: int
    number: str  # the digits as written
    marker: Marker | None
    k: bool = False
    negative: bool = False
    approx: str | None = None
    words: bool = False  # written in words: "twenty bucks"

    def phrase(self, text: str) -> str:
        return text[self.start : self.end].strip()


def amount_candidates(scan: Scan) -> list[Candidate]:
    """Every number left after dates, distances and counts, with the currency markers and sign around it."""
    masked = scan.masked()
    candidates: list[Candidate] = []
    position = 0
    while match := _NUMBER.search(masked, position):
        start, end = match.span()
        number = match.group()
        position = end
        offset = max(0, start - 24)
        before = masked[offset:start]
        prefix = _PREFIX.search(before)
        marker = _marker(prefix.group("marker"), scan, after=False) if prefix else None
        if prefix is None or marker is None:  # "for 12", "tip 5": a word before the number, not a currency code
            prefix = _PREFIX_BARE.search(before)
            assert prefix is not None  # every part of it is optional
        if start and masked[start - 1].isalpha() and marker is None:
            continue  # part of an identifier: "LH400", "i7", "A4"
        suffix = _SUFFIX.match(masked, end)
        assert suffix is not None  # every part of it is optional
        k = bool(suffix.group("k"))
        after, marker_end = _suffix_marker(suffix, scan)
        if after is None and suffix.group("marker") and not suffix.group("space") and not (k or suffix.group("ish")):
            continue  # letters glued to the digits: "3rd", "2x", "5ft"
        marker = _combined(scan, match.group(), marker, after)
        if marker is None and " " in number:
            # "3 230" without a currency is two numbers, not thousands grouped by a space
            number = number.split()[0]
            end = position = marker_end = start + len(number)
            k = False
        first = min((prefix.start(name) for name in ("minus", "marker") if prefix.groupdict().get(name)), default=None)
        approx = prefix.group("approx") or suffix.group("ish")
        candidates.append(
            Candidate(
                start=offset + first if first is not None else start,
                end=max(end, marker_end),
                number=number,
                marker=marker,
                k=k,
                negative=bool(prefix.group("minus") or prefix.groupdict().get("sign")),
                approx=approx.strip() if approx else None,
            )
        )
    for match in _WORDS_AMOUNT.finditer(masked):
        marker = MARKERS[match.group("marker").lower()]
        words = re.split(r"[\s-]", match.group("number").lower())
        value = 100 if words[-1] == "hundred" else sum(_TENS.get(word, NUMBER_WORDS.get(word, 0)) for word in words)
        candidates.append(Candidate(match.start(), match.end(), str(value), marker, words=True))
    candidates.sort(key=lambda candidate: candidate.start)
    return _with_cents(scan.text, candidates)


def _with_cents(text: str, candidates: list[Candidate]) -> list[Candidate]:
    """Join "12 dollars 50 cents" into one amount: 12.50 in the dollars' currency."""
    joined: list[Candidate] = []
    for candidate in candidates:
        last = joined[-1] if joined else None
        cents = candidate.marker is not None and candidate.marker.scale == Decimal("0.01")
        if (
            cents
            and last is not None
            and last.marker is not None
            and last.marker.scale == 1
            and last.number.isdigit()
            and candidate.number.isdigit()
            and int(candidate.number) < 100
            and re.fullmatch(r"\s(?:and\s)?", text[last.end : candidate.start])
        ):
            number = f"{last.number}.{int(candidate.number):02d}"
            joined[-1] = Candidate(last.start, candidate.end, number, last.marker, negative=last.negative, words=True)
            continue
        joined.append(candidate)
    return joined


def _combined(scan: Scan, number: str, before: Marker | None, after: Marker | None) -> Marker | None:
    """One marker from those before and after a number: "$45 USD" is USD; "$45 EUR" is a question."""
    if before is None or after is None:
        return before or after
    if after.weak:
        return before
    if set(before.codes) & set(after.codes):
        return before if len(before.codes) <= len(after.codes) else after
    scan.ask(CURRENCY, f"Which currency is {number} in — {before.text} or {after.text}?")
    return before


def _suffix_marker(suffix: re.Match[str], scan: Scan) -> tuple[Marker | None, int]:
    """The currency after a number, trying "new zealand dollars" before "dollars"; the end of what was used."""
    number_end = suffix.end("k") if suffix.group("k") else suffix.start()
    raw = suffix.group("marker")
    for count in range(len(raw.split(" ")) if raw else 0, 0, -1):
        text = " ".join(raw.split(" ")[:count])
        marker = _marker(text, scan, after=True, first=count == 1)
        if marker is not None:
            return marker, suffix.start("marker") + len(text)
    return None, number_end


def _marker(text: str, scan: Scan, *, after: bool, first: bool = True) -> Marker | None:
    """What a symbol, code or word next to a number says about its currency; None when it says nothing."""
    key = text.lower()
    if key in MARKERS:
        return MARKERS[key]
    if len(text) == 3 and text.isalpha():
        code = text.upper()
        if (code in ISO_4217 or code in scan.known) and (text.isupper() or key in LOWER_CODES):
            return Marker(text, (code,))
        if text.isupper() and after:
            return Marker(text, (), unknown=True)
    if len(text) == 1 and unicodedata.category(text) == "Sc":
        return Marker(text, (), unknown=True)  # a currency symbol we have no code for
    if after and first and _looks_like_unknown_currency(text):
        return Marker(text, (), unknown=True, weak=True)
    return None


_NOT_CURRENCIES = frozenset(
    """
    this thus less plus was has its his hers ours yours theirs yes perhaps always sometimes besides towards anyways
    afterwards onwards series thanks others folks tips tolls fees fares taxes charges supplies snacks groceries
    drinks sweets cakes pastries treats goods things items bits extras costs expenses receipts payments bills
    invoices refunds credits points miles kms stickers cards chargers cables adapters keyboards monitors headsets
    headphones earbuds mice apps licenses licences subscriptions seats tickets flights hotels taxis cabs rides
    trains buses lunches dinners breakfasts meals coffees beers wines pizzas sandwiches burgers tacos salads
    donuts doughnuts bagels cookies chips nuts flowers gifts books prints stamps clients colleagues people guests
    days nights weeks months years hours minutes pounds dollars euros cents bucks kroner kronor pesos
    """.split()
)


def _looks_like_unknown_currency(word: str) -> bool:
    """Whether a word after an amount is most likely a currency name: "50 zorkmids", a plural we don't know."""
    lower = word.lower()
    return (
        word.islower()
        and len(lower) >= 5
        and lower.endswith("s")
        and not lower.endswith(("ss", "us", "is", "ys"))
        and lower not in _NOT_CURRENCIES
        and singular(lower) not in CUES
        and singular(lower) not in DRIVING
    )


def currency_follows(scan: Scan, position: int) -> bool:
    match = _SUFFIX.match(scan.masked(), position)
    return match is not None and _suffix_marker(match, scan)[0] is not None


def read_amount(scan: Scan, candidates: list[Candidate]) -> tuple[Decimal | None, str | None]:
    """The one amount of the claim and its currency, or None and a question."""
    strong = [c for c in candidates if c.marker is not None and not c.marker.weak]
    weak = [c for c in candidates if c.marker is not None and c.marker.weak]
    bare = [c for c in candidates if c.marker is None]
    chosen = strong or weak or bare
    if not chosen:
        vague = _VAGUE_AMOUNT.search(scan.text)
        if vague:
            scan.ask(AMOUNT, f"How much was it exactly? “{vague.group()}” isn't an amount I can claim.")
        else:
            scan.ask(AMOUNT, "How much was it? I couldn't find an amount.")
        return None, None
    if len(set(_reading(scan, candidate, quiet=True) for candidate in chosen)) > 1:
        listed = " and ".join(f"“{candidate.phrase(scan.text)}”" for candidate in chosen)
        scan.ask(AMOUNT, f"How much should I claim? I found {listed} — one of them, or the total?")
        return None, None
    amount, currency = _reading(scan, chosen[0], quiet=False)
    return _checked(scan, chosen[0], amount, currency)


def _reading(scan: Scan, candidate: Candidate, *, quiet: bool) -> tuple[Decimal | None, str | None]:
    """The value and currency of one candidate; questions and notes only when it is the one being claimed."""
    sink = Scan(scan.text, scan.today, scan.date_order, scan.default_currency, scan.known) if quiet else scan
    currency = _currency(sink, candidate)
    value = _value(sink, candidate, currency)
    return value, currency


def _currency(scan: Scan, candidate: Candidate) -> str | None:
    marker = candidate.marker
    phrase = candidate.phrase(scan.text)
    default = scan.default_currency
    if marker is None:
        if default is None:
            scan.ask(CURRENCY, f"Which currency is “{phrase}” in?")
            return None
        return default  # _value notes it, with the amount
    if marker.unknown:
        scan.problem(CURRENCY, f"I don't know the currency “{marker.text}”.")
        return None
    codes = marker.codes or ((default,) if default else ())
    if not codes:
        scan.ask(CURRENCY, f"Which currency is “{phrase}” in?")
        return None
    if len(codes) == 1:
        code = codes[0]
    elif default in codes:
        code = default
    elif marker.settled:
        code = codes[0]
    else:
        scan.ask(CURRENCY, f"Which currency do you mean by “{marker.text}” — {', '.join(codes)}?")
        return None
    if marker.slang or (len(codes) > 1 and code != default):
        scan.note(CURRENCY, f'read "{marker.text}" as {code}')
    if code not in scan.known:
        scan.problem(CURRENCY, f"{code} isn't a currency I can take claims in.")
    return code


def _value(scan: Scan, candidate: Candidate, currency: str | None) -> Decimal | None:
    """The number as a Decimal in the currency's minor unit, deciding which separator is the decimal one."""
    places = minor_units(currency or scan.default_currency or "USD")
    number = candidate.number
    phrase = candidate.phrase(scan.text)
    decimal_mark, group = _separators(number, k=candidate.k, places=places)
    if decimal_mark == "?":
        grouped = Decimal(re.sub(r"\D", "", number)).quantize(Decimal(1).scaleb(-places))
        label = f" {currency}" if currency else ""
        scan.ask(AMOUNT, f"How much is “{phrase}” — {grouped:,}{label} or {number}{label}?")
        return None
    if decimal_mark == "!":
        scan.ask(AMOUNT, f"How much is “{phrase}”? I can't read {number} as a number.")
        return None
    fraction = number.rsplit(decimal_mark, 1)[1] if decimal_mark else ""
    scale = (Decimal(1000) if candidate.k else Decimal(1)) * (candidate.marker.scale if candidate.marker else 1)
    if len(fraction) > places and scale == 1:
        unit = f"{currency} has" if currency else "amounts have"
        scan.ask(AMOUNT, f"How much is “{phrase}”? {unit} {places} decimal places.")
        return None
    # The separators are decided; price-parser does the digit arithmetic (spaces, apostrophes, either mark).
    parsed = Price.fromstring(number, decimal_separator=decimal_mark or ".", digit_group_separator=group).amount
    if parsed is None:
        scan.ask(AMOUNT, f"How much is “{phrase}”? I can't read {number} as a number.")
        return None
    if parsed * scale >= MAX_AMOUNT:
        scan.problem(AMOUNT, f"The amount “{phrase}” is too large to claim.")
        return None
    value = (parsed * scale).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    signed = -value if candidate.negative else value
    if candidate.marker is None and currency is not None:
        scan.note(AMOUNT, f'read "{phrase}" as {_money(signed, currency)}: no currency written')
    elif scale != 1 or group == "." or candidate.words:
        scan.note(AMOUNT, f'read "{phrase}" as {_money(signed, currency)}')
    return signed


def _separators(number: str, *, k: bool, places: int) -> tuple[str | None, str | None]:
    """(decimal mark, group separator) of a number; "?" when truly ambiguous, "!" when it can't be a number."""
    if " " in number or "'" in number:
        group = " " if " " in number else "'"
        head, _, tail = number.partition(next((c for c in number if c in ".,"), "\x00"))
        grouped = re.fullmatch(rf"\d{{1,3}}(?:{re.escape(group)}\d{{3}})+", head)
        mark = number[len(head)] if tail else None
        return (mark, group) if grouped and (not tail or tail.isdigit()) else ("!", None)
    marks = [c for c in number if c in ".,"]
    if not marks:
        return None, None
    if len(set(marks)) == 2:
        mark = marks[-1]
        group = "," if mark == "." else "."
        if re.fullmatch(rf"\d{{1,3}}(?:{re.escape(group)}\d{{3}})*{re.escape(mark)}\d+", number):
            return mark, group
        if mark == "." and re.fullmatch(r"\d{1,2}(?:,\d{2})*,\d{3}\.\d+", number):
            return mark, group  # Indian grouping: 1,23,456.50
        return "!", None
    mark = marks[0]
    if len(marks) > 1:
        if re.fullmatch(rf"\d{{1,3}}(?:{re.escape(mark)}\d{{3}})+", number) or (
            mark == "," and re.fullmatch(r"\d{1,2}(?:,\d{2})+,\d{3}", number)
        ):
            return None, mark
        return "!", None
    head, tail = number.split(mark)
    if len(tail) == 3 and not k and head not in ("", "0") and len(head) <= 3:
        # "1,234" and "1.234" are a thousand and more unless the currency has three decimals (KWD, BHD): then ask.
        return ("?", None) if places == 3 else (None, mark)
    return mark, None


def _checked(
    scan: Scan, candidate: Candidate, amount: Decimal | None, currency: str | None
) -> tuple[Decimal | None, str | None]:
    if amount is None:
        return None, currency
    if amount < 0:
        scan.problem(AMOUNT, f"The amount can't be negative ({_money(amount, currency)}) — claim what you paid.")
    elif amount == 0:
        scan.problem(AMOUNT, "The amount is zero — there is nothing to claim.")
    elif candidate.approx:
        scan.ask(
            AMOUNT,
            f"How much exactly? You wrote “{candidate.approx}” {_money(amount, currency)} — "
            "the claim needs the receipt's amount.",
        )
    return amount, currency


def mileage_amount(
    scan: Scan,
    candidates: list[Candidate],
    distance: Decimal | None,
    unit: str | None,
    rate: Decimal,
    rate_unit: str,
) -> tuple[Decimal | None, str | None]:
    """Distance × the mileage rate in the default currency; a written amount that disagrees is asked about."""
    currency = scan.default_currency
    written = [c for c in candidates if c.marker is not None and not c.marker.weak]
    if distance is None or unit is None:
        if not any(text.startswith("How far") for _, text in scan.questions):
            scan.ask(DISTANCE, "How far did you drive?")
        # "mileage to the warehouse, $45": claim what was written, but the distance is still needed
        return read_amount(scan, written) if written else (None, currency)
    if distance >= MAX_DISTANCE:
        return None, currency  # read_distance has said why
    if currency is None:
        scan.ask(CURRENCY, "Which currency is the mileage rate in?")
    places = minor_units(currency or "USD")
    if unit == rate_unit:
        exact, shown = distance * rate, f"{distance} {unit}"
    else:
        converted = distance / KM_PER_MILE if rate_unit == "mi" else distance * KM_PER_MILE
        exact = converted * rate
        shown = f"{distance} {unit} = {converted.quantize(Decimal('0.01'), ROUND_HALF_UP)} {rate_unit}"
    if exact >= MAX_AMOUNT:
        scan.problem(AMOUNT, f"The amount for {shown} is too large to claim.")
        return None, currency
    amount = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    label = f" {currency}" if currency else ""
    scan.note(DISTANCE, f"mileage: {shown} × {rate}{label} = {amount}{label}")
    if written:  # bare numbers are ignored: "84 miles, 2 stops" has no amount but the mileage
        stated, stated_currency = _reading(scan, written[0], quiet=True)
        if stated is not None and (stated, stated_currency) != (amount, currency):
            scan.ask(
                AMOUNT,
                f"How much should I claim? {shown} × {rate}{label} = {amount}{label}, "
                f"but you wrote “{written[0].phrase(scan.text)}”.",
            )
            return None, currency
    if amount <= 0:
        scan.problem(AMOUNT, f"The amount is {amount}{label} — there is nothing to claim.")
    return amount, currency
