"""Cells for CSV files people open in a spreadsheet: text that a spreadsheet would run as a formula is kept text."""

from __future__ import annotations

import re

# Excel, LibreOffice and Google Sheets run a cell starting with these as a formula (OWASP "CSV injection"),
# tab and carriage return included: a leading quote makes it text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[-+]?\d+(\.\d+)?")


def cell(value: object) -> str:
    """`value` as a CSV cell that stays text in a spreadsheet ("=HYPERLINK(...)" → "'=HYPERLINK(...)"); a plain
    number ("-12.50") stays a number."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) and not _NUMBER.fullmatch(text) else text
