"""The distance driven, read from an expense sentence: miles or kilometres, a trip "each way" counted twice."""

from __future__ import annotations

import re
from decimal import Decimal

from skills.expenses.scan import DISTANCE, MAX_DISTANCE, Scan

_DISTANCE_RE = re.compile(
    r"(?<![\w.,])(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?)\s?(?:-\s?)?"
    r"(?P<unit>miles?|mi|kilomet(?:er|re)s?|kms?)(?![^\W\d_])(?P<each>\s(?:each\sway|one\sway\seach))?",
    re.I,
)
KM_PER_MILE = Decimal("1.609344")  # exact, by definition
DRIVING = frozenset("drive drove driving driven mileage car personal own".split())


def read_distance(scan: Scan) -> tuple[Decimal | None, str | None]:
    """Miles or kilometres as written; "42 miles each way" is a round trip of 84."""
    found: list[tuple[Decimal, str]] = []
    for match in _DISTANCE_RE.finditer(scan.masked()):
        scan.take(*match.span())
        number = match.group("num")
        if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", number):
            number = number.replace(",", "")
        value = Decimal(number.replace(",", "."))  # a lone comma here is a decimal comma: "12,5 km"
        unit = "km" if match.group("unit").lower().startswith("k") else "mi"
        if match.group("each"):
            value *= 2
            scan.note(DISTANCE, f'read "{match.group().strip()}" as a round trip of {value} {unit}')
        found.append((value, unit))
    distinct = list(dict.fromkeys(found))
    if len(distinct) > 1:
        listed = " and ".join(f"{value} {unit}" for value, unit in distinct)
        scan.ask(DISTANCE, f"How far did you drive in all? I found {listed}.")
        return None, None
    if not distinct:
        return None, None
    value, unit = distinct[0]
    if value <= 0 or value >= MAX_DISTANCE:
        scan.problem(DISTANCE, f"A distance of {value} {unit} can't be claimed.")
    return value, unit
