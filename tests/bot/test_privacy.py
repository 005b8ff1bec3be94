"""Personal-data redaction, sensitive-topic detection and the redacting log filter (bot.privacy), as tables of
our own phrasings: what must be caught and, as important, what must be left alone."""

from __future__ import annotations

import io
import logging

import pytest

from bot.privacy import (
    GRIEVANCE,
    HARASSMENT,
    MEDICAL,
    WITHHELD,
    RedactingFilter,
    has_payment_details,
    install_log_redaction,
    redact_pii,
    sensitive_topic,
    stored_text,
)

REDACTIONS = [
    # payment cards: Luhn-valid, any usual grouping
    ("my card 4111 1111 1111 1111 was charged twice", "my card [card number] was charged twice"),
    ("card 4111-1111-1111-1111 exp 12/27", "card [card number] exp 12/27"),
    ("4012888888881881", "[card number]"),
    ("amex 3782 822463 10005 please", "amex [card number] please"),
    ("mastercard 5555 5555 5555 4444 2027", "mastercard [card number] 2027"),
    ("new mc 2223003122003222.", "new mc [card number]."),
    ("discover 6011-0009-9013-9424 declined", "discover [card number] declined"),
    # national ids
    ("SSN 123-45-6789", "SSN [SSN]"),
    ("ssn: 123 45 6789", "ssn: [SSN]"),
    ("my social security number is 123456789", "my social security number is [SSN]"),
    ("NI number AB 12 34 56 C", "NI number [NI number]"),
    ("ni: ab123456c", "ni: [NI number]"),
    ("national insurance no QQ123456C", "national insurance no [NI number]"),
    # bank details
    ("IBAN DE89 3704 0044 0532 0130 00 thanks", "IBAN [IBAN] thanks"),
    ("pay to GB82WEST12345698765432 please", "pay to [IBAN] please"),
    ("my iban is DE00 1234 5678 9012 3456 78", "my iban is [IBAN]"),
    ("account number 12345678, sort code 12-34-56", "account number [account number], sort code [sort code]"),
    (
        "routing number 021000021 and account 000123456789",
        "routing number [routing number] and account [account number]",
    ),
    ("acct #: 9876543210", "acct #: [account number]"),
    ("passport number is 533380006", "passport number is [passport number]"),
    ("Passport no. K1234567 expires soon", "Passport no. [passport number] expires soon"),
    # left alone: order numbers, ids, phones, amounts, dates, versions, timestamps
    ("order 1234567890123 arrived", "order 1234567890123 arrived"),
    ("ticket #4521 is still open", "ticket #4521 is still open"),
    ("call me on +44 20 7946 0958", "call me on +44 20 7946 0958"),
    ("call 415-555-2671 after 5", "call 415-555-2671 after 5"),
    ("I spent $1,234.56 on flights", "I spent $1,234.56 on flights"),
    ("from 2026-03-01 to 2026-03-05", "from 2026-03-01 to 2026-03-05"),
    ("card 4111 1111 1111 1112 (Luhn fails)", "card 4111 1111 1111 1112 (Luhn fails)"),
    ("my account was locked after 3 attempts", "my account was locked after 3 attempts"),
    ("passport renewal costs 85 EUR", "passport renewal costs 85 EUR"),
    ("slack ts 1700000001.000001", "slack ts 1700000001.000001"),
    ("invoice INV-2026-000123", "invoice INV-2026-000123"),
    ("room 12-34, floor 3", "room 12-34, floor 3"),
    ("version 4.11.1111 is out", "version 4.11.1111 is out"),
    ("zip 90210", "zip 90210"),
    ("employee id 100234", "employee id 100234"),
    ("expense account 6400 for travel", "expense account 6400 for travel"),
    # An account of a system is no bank account: an IT request naming one is not refused as payment details.
    ("please add AWS account 123456789012 to the SSO group", "please add AWS account 123456789012 to the SSO group"),
    ("service account 4410239987 can't reach the API", "service account 4410239987 can't reach the API"),
    ("timestamp 1712345678901 in the logs", "timestamp 1712345678901 in the logs"),
    ("", ""),
]


@pytest.mark.parametrize(("text", "expected"), REDACTIONS)
def test_redact_pii(text: str, expected: str) -> None:
    assert redact_pii(text) == expected
    assert redact_pii(expected) == expected  # placeholders are stable


SENSITIVE = [
    # the writer's own health
    ("my doctor says I need surgery", MEDICAL),
    ("I've been diagnosed with breast cancer and don't know who to tell", MEDICAL),
    ("I'm pregnant and haven't told my manager yet", MEDICAL),
    ("I'm struggling with my mental health at the moment", MEDICAL),
    ("I've been having panic attacks at work", MEDICAL),
    ("I need reasonable adjustments for my disability", MEDICAL),
    ("I'm going through chemo next month, what happens with my job?", MEDICAL),
    ("I had a miscarriage last week", MEDICAL),
    ("honestly I feel like I want to end my life", MEDICAL),
    ("I'm in hospital since Tuesday", MEDICAL),
    ("I’m recovering from an operation on my knee", MEDICAL),
    ("I was signed off with stress by my GP", MEDICAL),
    ("my therapist suggested I reduce my hours", MEDICAL),
    ("I've been feeling really depressed lately", MEDICAL),
    # harassment, bullying, discrimination
    ("my manager keeps making comments about my body", HARASSMENT),
    ("I'm being harassed by someone on the sales team", HARASSMENT),
    ("my team lead has been bullying me for months", HARASSMENT),
    ("a colleague keeps touching my shoulder and I've asked him to stop", HARASSMENT),
    ("he sent me explicit photos over slack", HARASSMENT),
    ("there were racist jokes in the team channel again", HARASSMENT),
    ("my boss yelled at me in front of the whole team", HARASSMENT),
    ("I feel discriminated against because of my age", HARASSMENT),
    ("someone from finance keeps asking me out even though I said no", HARASSMENT),
    ("Sexual harassment at the offsite last night.", HARASSMENT),
    ("how do I report my manager for harassment?", HARASSMENT),
    ("I think I'm being singled out because I'm the only woman on the team", HARASSMENT),
    # grievances
    ("I want to file a formal complaint about my team lead", GRIEVANCE),
    ("I'd like to raise a grievance", GRIEVANCE),
    ("I want to complain about my manager", GRIEVANCE),
    ("I'm worried about retaliation if I speak up", GRIEVANCE),
    ("I need to blow the whistle on something", GRIEVANCE),
    ("I want to report my manager", GRIEVANCE),
    ("my manager is falsifying the timesheets", GRIEVANCE),
    ("I think I'm being paid less than my male colleagues", GRIEVANCE),
    ("I was put on a final written warning and I think it's unfair", GRIEVANCE),
    ("I've been treated unfairly since I came back from leave", GRIEVANCE),
    ("this is a whistleblowing report about procurement", GRIEVANCE),
    ("I'm being made redundant and I don't think it's legal", GRIEVANCE),
]

ROUTINE = [
    # sick leave and appointments stay with the leave skill
    "how many sick days do I get",
    "the printer is sick",
    "calling in sick",
    "I'm sick today",
    "out sick tomorrow, migraine",
    "I have a doctor's appointment tomorrow morning",
    "my doctor signed me off for two weeks",
    "please record my sick leave for today",
    "my kid is sick, I need to stay home",
    "I got the flu",
    "I broke my arm skiing, will be out till Monday",
    "how do I book a medical appointment during work hours",
    "can I take a mental health day tomorrow",
    # someone else's health: a leave request, not the writer's disclosure
    "I need a few days off next week to look after my dad after his surgery",
    "my wife is pregnant, how much paternity leave do I get",
    "my sister has cancer and I need a week off",
    "my dad had a stroke, can I take compassionate leave",
    # generic policy questions (answered from the SOPs with citations)
    "where is the anti-harassment policy?",
    "how do I report harassment",
    "what is the grievance procedure",
    "who do I talk to about a grievance",
    "what should I do if I witness discrimination at work",
    "what counts as sexual harassment?",
    "does our health plan cover therapy",
    "does my insurance cover physiotherapy",
    "does the benefits package cover mental health therapy",
    "does disability insurance start on day one?",
    "I completed my harassment training",
    # IT, expenses and everyday words that look alarming out of context
    "the harassment module won't load in the LMS",
    "my account is disabled",
    "I diagnosed the network problem, it's DNS",
    "the popup keeps stealing focus",
    "I ran a database operation that failed",
    "I terminated the ec2 instance by mistake",
    "I can't pip install pandas",
    "I need my recovery key for bitlocker",
    "I have a complaint about the coffee machine",
    "I want to file an expense for the taxi",
    "raise a ticket for the wifi",
    "this bug is killing me",
    "I'm sick of this VPN dropping",
    "can you touch base with me tomorrow",
    "let me know when my laptop is ready",
    "my manager approved my leave",
    "my manager keeps asking me for the report",
    "my manager is out, who approves my expenses",
    "how do I report a phishing email",
    "shout me a coffee",
    "hotel cost 180 per night, is that within policy",
]


@pytest.mark.parametrize(("text", "topic"), SENSITIVE)
def test_sensitive_topics_are_recognised(text: str, topic: str) -> None:
    assert sensitive_topic(text) == topic


@pytest.mark.parametrize("text", ROUTINE)
def test_routine_messages_are_not_sensitive(text: str) -> None:
    assert sensitive_topic(text) is None


def test_stored_text_redacts_personal_data_and_hides_confidential_messages() -> None:
    assert stored_text("refund to card 4111 1111 1111 1111 please") == "refund to card [card number] please"
    hidden = stored_text("my manager keeps making comments about my body")
    assert "body" not in hidden and "manager" not in hidden and hidden.startswith("[confidential")


def _logger(name: str) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_log_filter_redacts_message_args_and_tracebacks() -> None:
    logger, stream = _logger("test.privacy.redact")
    logger.warning("refund to %s failed", "4111 1111 1111 1111")
    logger.info("payload: %r", {"text": "SSN 123-45-6789, IBAN DE89 3704 0044 0532 0130 00"})
    try:
        raise ValueError("bad account number 12345678")
    except ValueError:
        logger.exception("while storing card 5555-5555-5555-4444")
    output = stream.getvalue()
    for secret in ("4111", "123-45-6789", "DE89", "12345678", "5555-5555"):
        assert secret not in output
    assert "[card number]" in output and "[SSN]" in output and "[IBAN]" in output
    assert "ValueError: bad account number [account number]" in output  # the traceback is kept, redacted


def test_log_filter_withholds_confidential_records_even_url_encoded() -> None:
    logger, stream = _logger("test.privacy.withhold")
    logger.debug("Sending a request - body: %s", {"text": "my manager keeps making comments about my body"})
    logger.debug("body=payload%3D%7B%22text%22%3A%22I+am+being+harassed+by+my+team+lead%22%7D")
    logger.info("outbox item 7 delivered")
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith(WITHHELD) and lines[1].endswith(WITHHELD)
    assert lines[2].endswith("outbox item 7 delivered")
    assert "comments" not in stream.getvalue() and "harassed" not in stream.getvalue()


def test_install_adds_the_filter_once_to_every_handler() -> None:
    logger, _stream = _logger("test.privacy.install")
    logger.handlers[0].filters.clear()
    try:
        first = install_log_redaction(logger)
        second = install_log_redaction(logger)
        assert first is second
        assert logger.handlers[0].filters == [first]
        # (An earlier test may have installed its own instance there already: one is enough.)
        assert logging.lastResort is not None
        assert any(isinstance(f, RedactingFilter) for f in logging.lastResort.filters)
    finally:
        if logging.lastResort is not None:
            logging.lastResort.removeFilter(first)


def test_a_system_accounts_number_is_no_payment_detail() -> None:
    assert not has_payment_details("please add AWS account 123456789012 to the SSO group")
    assert has_payment_details("please pay it to my bank account 123456789012")
