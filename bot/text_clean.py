"""Text people send, cleaned once where it enters: no control characters, no lone surrogates, no bidi controls."""

from __future__ import annotations

import re
from typing import Any

# Removed from whatever people write:
# - C0 controls but tab and newline, and DEL: no reader needs them, and PostgreSQL refuses NUL in text and json
#   (a stored Slack event with "\u0000" in it could not be written, so it was never answered);
# - lone UTF-16 surrogates ("\ud800" is valid JSON): no UTF-8 encoder, so no database or tokenizer, accepts them;
# - the bidirectional controls (Unicode's Bidi_Control: embeddings, overrides, isolates and the marks): they reorder
#   what a reader sees, so a ticket titled "invoice\u202efdp.exe" shows IT "invoiceexe.pdf".
UNWANTED = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean_text(text: str) -> str:
    """`text` without the characters in UNWANTED."""
    return UNWANTED.sub("", text)


def clean_json(value: Any) -> Any:
    """A copy of parsed JSON with every string in it, keys too, cleaned by `clean_text`."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(key)): clean_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_json(item) for item in value]
    return value
