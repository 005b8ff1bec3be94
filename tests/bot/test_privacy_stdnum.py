"""Redaction of numbers with check digits (bot.privacy): python-stdnum decides what is an IBAN, a card number or an
SSN, so look-alikes (order ids, IMEIs, meeting ids, payment references) stay readable; the labelled sets in
benchmarks/privacy hold the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.privacy.score import LABELS, score
from bot.privacy import has_payment_details, redact_pii

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "privacy"

REDACTED = [
    # IBANs: the country's length and format and mod-97, spaced or not, any case
    ("salary to DE89 3704 0044 0532 0130 00 please", "salary to [IBAN] please"),
    ("new account nl91abna0417164300.", "new account [IBAN]."),
    ("Belgian account BE68 5390 0754 7034, KBC", "Belgian account [IBAN], KBC"),  # bank not in stdnum's list
    ("send it to ES91 2100 0418 4502 0005 1332 not the old one", "send it to [IBAN] not the old one"),
    ("NO93 8601 1117 947 and GB29 NWBK 6016 1331 9268 19", "[IBAN] and [IBAN]"),
    ("my iban is DE00 1234 5678 9012 3456 78", "my iban is [IBAN]"),  # after its keyword the shape is enough
    # cards: a scheme's prefix and length, card grouping, Luhn
    ("visa 4111 1111 1111 1111 declined", "visa [card number] declined"),
    ("amex 3782 822463 10005", "amex [card number]"),
    ("diners 3056 9309 0259 04", "diners [card number]"),
    ("JCB 3530111333300000", "JCB [card number]"),
    ("exp 12/27 4111 1111 1111 1111", "exp 12/27 [card number]"),
    # SSNs that stdnum accepts
    ("for the W-4: 512-44-3019", "for the W-4: [SSN]"),
    ("SSN 771 02 6638", "SSN [SSN]"),
    # UK NI numbers (stdnum has no module for them: the prefix rules of the pattern decide)
    ("for the pension: SK 90 22 47 B", "for the pension: [NI number]"),
]

LEFT_ALONE = [
    # IBAN-shaped, but the check digits, the country's length or the country itself are wrong
    "the sample shows DE00 5001 0517 5407 3249 31",
    "ref DE89 3704 0044 0532 0130 01 from the statement",
    "PL44 1020 2892 0000 0123 0456 7890 12 is two digits too long for Poland",
    "payment reference RF18 5390 0754 7034 on the invoice",  # an ISO 11649 creditor reference
    # card-like digits: Luhn fails, or no card scheme has that prefix, length or grouping
    "tracking 6335 5916 3277 5290 says delivered",
    "my phone's IMEI is 356938035643809",
    "IMEI: 35-209900-176148-1",
    "order #249-2499492-2796583 never arrived",
    "Teams meeting ID: 246 542 260 457 93",
    "my new mobile is +49 151 98386323",
    # SSN-shaped: area 000, 666 or 9xx, group 00, serial 0000, stdnum's blacklist, part of a longer id
    "the example on the W-4 is 078-05-1120",
    "666-12-3456 and 900-12-3456 and 123-00-4567 and 123-45-0000",
    "ticket REQ-512-33-8841 about my laptop",
    "part number 401-55-8712-B for the dock",
    # NI-shaped with a prefix HMRC never issues
    "GB 12 34 56 A and DA 12 34 56 B",
]


@pytest.mark.parametrize(("text", "expected"), REDACTED)
def test_valid_numbers_are_redacted(text: str, expected: str) -> None:
    assert redact_pii(text) == expected


@pytest.mark.parametrize("text", LEFT_ALONE)
def test_look_alikes_are_left_alone(text: str) -> None:
    assert redact_pii(text) == text
    assert not has_payment_details(text)


def test_payment_details_need_a_valid_number() -> None:
    assert has_payment_details("refund to GB82 WEST 1234 5698 7654 32")
    assert not has_payment_details("refund to GB82 WEST 1234 5698 7654 33")
    assert has_payment_details("card 5555 5555 5555 4444")
    assert not has_payment_details("card 5555 5555 5555 4445")


@pytest.mark.parametrize("name", ["redaction_dev.jsonl", "redaction_check.jsonl"])
def test_labelled_sets_lose_nothing(name: str) -> None:
    result = score(BENCH / name)
    assert {label: result.recall(label) for label in LABELS} == dict.fromkeys(LABELS, 1.0), result.misses
    # The dev set was measured while writing the change; the check set afterwards (one 13-digit EAN barcode
    # passes for an old 13-digit Visa there).
    assert result.falsely_redacted <= (0 if name == "redaction_dev.jsonl" else 1), result.misses
