"""Free-text expense claims: one table of phrasings with the amount, currency, day, category and what must be asked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from skills.expenses.categories import CATEGORIES
from skills.expenses.currencies import currency_named
from skills.expenses.parse import ParsedExpense, parse_correction, parse_expense

TODAY = date(2026, 11, 22)  # a Sunday


@dataclass(frozen=True)
class Row:
    text: str
    amount: str | None  # exact, as a Decimal string: "45.20" is not "45.2"
    currency: str | None
    spent_on: date | None
    category: str | None
    merchant: str | None = None
    attendees: int | None = None
    distance: str | None = None  # "84 mi"
    asks: frozenset[str] = frozenset()  # topics of the questions: amount, currency, date, category, distance
    problems: frozenset[str] = frozenset()  # topics of the problems: amount, currency, date, future
    default: str | None = "USD"
    order: str = "MDY"


def d(month: int, day: int, year: int = 2026) -> date:
    return date(year, month, day)


def ask(*topics: str) -> frozenset[str]:
    return frozenset(topics)


YESTERDAY = d(11, 21)
ROWS = [
    # the examples of the issue
    Row("I spent $45.20 on a taxi to the client site yesterday", "45.20", "USD", YESTERDAY, "transport"),
    Row("team lunch 86.50 EUR on nov 3, 4 people", "86.50", "EUR", d(11, 3), "meals", attendees=4),
    Row("£59.99 keyboard for work", "59.99", "GBP", None, "equipment", asks=ask("date")),
    Row("230 bucks client dinner", "230.00", "USD", None, "meals", asks=ask("date")),
    Row("84 miles driving to the warehouse on tuesday", "56.28", "USD", d(11, 17), "mileage", distance="84 mi"),
    # currencies by symbol
    Row("C$35 parking at the venue yesterday", "35.00", "CAD", YESTERDAY, "transport"),
    Row("A$129 motel near Geelong last night", "129.00", "AUD", YESTERDAY, "lodging"),
    Row("US$ 18 shuttle to the hotel friday", "18.00", "USD", d(11, 20), "transport"),
    Row("€14,90 breakfast at the station this morning", "14.90", "EUR", TODAY, "meals"),
    Row("¥1800 subway pass on wednesday", "1800", "JPY", d(11, 18), "transport"),
    Row("¥1800 subway pass on wednesday", "1800.00", "CNY", d(11, 18), "transport", default="CNY"),
    Row("$20 taxi thursday", "20.00", "CAD", d(11, 19), "transport", default="CAD"),  # "$" is the local dollar
    Row("₹2,450 airport cab saturday", "2450.00", "INR", YESTERDAY, "transport"),
    # currencies by code, before or after, any case
    Row("EUR 86.50 dinner at Brasserie Lune yesterday", "86.50", "EUR", YESTERDAY, "meals", merchant="Brasserie Lune"),
    Row("86,50 eur dinner yesterday", "86.50", "EUR", YESTERDAY, "meals"),
    Row("CHF 64 train to Bern on friday", "64.00", "CHF", d(11, 20), "transport"),
    Row("420 SEK lunch with 2 colleagues yesterday", "420.00", "SEK", YESTERDAY, "meals", attendees=3),
    Row("hotel wifi 12GBP yesterday", "12.00", "GBP", YESTERDAY, "phone_internet"),
    Row("3,500 JPY coffee and cake at the office on monday", "3500", "JPY", d(11, 16), "meals"),
    # currencies by word, slang included
    Row("45 dollars for a cab last friday", "45.00", "USD", d(11, 20), "transport"),
    Row("32 euros on lunch yesterday", "32.00", "EUR", YESTERDAY, "meals"),
    Row("27 pounds train ticket yesterday", "27.00", "GBP", YESTERDAY, "transport"),
    Row("20 quid for the taxi home yesterday", "20.00", "GBP", YESTERDAY, "transport"),
    Row("60 bucks parking on thursday", "60.00", "USD", d(11, 19), "transport", default="EUR"),  # not a dollar
    Row("60 bucks parking on thursday", "60.00", "CAD", d(11, 19), "transport", default="CAD"),
    Row("900 yen bento lunch yesterday", "900", "JPY", YESTERDAY, "meals"),
    Row("twenty bucks of coffee for the team yesterday", "20.00", "USD", YESTERDAY, "meals"),
    Row("lunch 12 dollars 50 cents yesterday", "12.50", "USD", YESTERDAY, "meals"),
    Row("forty-five euros taxi yesterday", "45.00", "EUR", YESTERDAY, "transport"),
    Row("150 swiss francs hotel dinner yesterday", "150.00", "CHF", YESTERDAY, "meals"),
    Row("300 kr dinner in Oslo yesterday", "300.00", None, YESTERDAY, "meals", asks=ask("currency")),
    Row("300 kr dinner in Oslo yesterday", "300.00", "NOK", YESTERDAY, "meals", default="NOK"),
    # thousands separators, decimal commas, spaces and "k"
    Row("$1,234.56 flight to Denver yesterday", "1234.56", "USD", YESTERDAY, "travel"),
    Row("1.234,56 € hotel for the offsite on nov 12", "1234.56", "EUR", d(11, 12), "lodging"),
    Row("1 234,56 EUR conference hotel 2026-11-09", "1234.56", "EUR", d(11, 9), "lodging"),
    Row("€1.234 flights for the team yesterday", "1234.00", "EUR", YESTERDAY, "travel"),
    Row("$2,400 laptop on nov 2", "2400.00", "USD", d(11, 2), "equipment"),
    Row("12,50 € coffee beans for the office today", "12.50", "EUR", TODAY, "meals"),
    Row("1.2k airfare to Singapore nov 4", "1200.00", "USD", d(11, 4), "travel"),
    Row("€2,5k hotel block on nov 16", "2500.00", "EUR", d(11, 16), "lodging"),
    Row("1.234 KWD hotel in Kuwait City yesterday", None, "KWD", YESTERDAY, "lodging", asks=ask("amount")),
    Row("Rs. 5000 hotel", "5000.00", "INR", None, "lodging", asks=ask("date")),
    Row("Rs. 5000 hotel in Lahore", "5000.00", "PKR", None, "lodging", asks=ask("date"), default="PKR"),
    # relative and absolute dates
    Row("lunch $14 today", "14.00", "USD", TODAY, "meals"),
    Row("$31 taxi the day before yesterday", "31.00", "USD", d(11, 20), "transport"),
    Row("dinner £48 last night", "48.00", "GBP", YESTERDAY, "meals"),
    Row("parking $9 3 days ago", "9.00", "USD", d(11, 19), "transport"),
    Row("taxi $22 a week ago", "22.00", "USD", d(11, 15), "transport"),
    Row("coffee $5 last monday", "5.00", "USD", d(11, 16), "meals"),
    Row("metro card €30 friday last week", "30.00", "EUR", d(11, 13), "transport"),
    Row("hotel €95 on the 9th", "95.00", "EUR", d(11, 9), "lodging"),
    Row("hotel €95 on the 30th", "95.00", "EUR", d(10, 30), "lodging"),  # November 30 is still ahead
    Row("monitor $249 on 3 Nov", "249.00", "USD", d(11, 3), "equipment"),
    Row("webcam $80 11/03", "80.00", "USD", d(11, 3), "equipment"),
    Row("webcam $80 11/03", "80.00", "USD", d(3, 11), "equipment", order="DMY"),
    Row("headset 59 EUR 14.11.2026", "59.00", "EUR", d(11, 14), "equipment", order="DMY"),
    Row("ferry £38 dec 28", "38.00", "GBP", d(12, 28, 2025), "transport"),  # no year: the most recent one
    Row("hotel nov 3-5 €360", "360.00", "EUR", d(11, 5), "lodging"),  # a stay is claimed on its last day
    Row("hotel for two nights €300 nov 10", "300.00", "EUR", d(11, 10), "lodging"),  # nights, not people
    # mileage in miles and kilometres
    Row("drove 42 miles each way to the client on monday", "56.28", "USD", d(11, 16), "mileage", distance="84 mi"),
    Row("120 km driving to the plant yesterday", "49.96", "USD", YESTERDAY, "mileage", distance="120 km"),
    Row("mileage 12.5 miles to the bank today", "8.38", "USD", TODAY, "mileage", distance="12.5 mi"),
    Row("mileage to the depot yesterday", None, "USD", YESTERDAY, "mileage", asks=ask("distance")),
    Row("taxi 14 km €26 yesterday", "26.00", "EUR", YESTERDAY, "transport", distance="14 km"),  # a fare, no mileage
    # meals and the people at them
    Row("team lunch for six €120 yesterday", "120.00", "EUR", YESTERDAY, "meals", attendees=6),
    Row("dinner with 3 clients at Osteria Blu $210 friday", "210.00", "USD", d(11, 20), "meals", "Osteria Blu", 4),
    Row("lunch with a candidate £36 on thursday", "36.00", "GBP", d(11, 19), "meals", attendees=2),
    Row("lunch for 4, 86.50 yesterday", "86.50", "USD", YESTERDAY, "meals", attendees=4),
    Row("lunch for 45 yesterday", "45.00", "USD", YESTERDAY, "meals"),  # the only number is the amount
    Row("breakfast meeting, party of 5, €75 monday", "75.00", "EUR", d(11, 16), "meals", attendees=5),
    # categories and merchants
    Row("uber to the airport $38 yesterday", "38.00", "USD", YESTERDAY, "transport", "Uber"),
    Row("Marriott 2 nights €310 nov 10", "310.00", "EUR", d(11, 10), "lodging", "Marriott"),
    Row("headphones from Best Buy $129 nov 20", "129.00", "USD", d(11, 20), "equipment", "Best Buy"),
    Row("Figma license $15 monthly, charged nov 1", "15.00", "USD", d(11, 1), "software", "Figma"),
    Row("phone bill 55 USD nov 1", "55.00", "USD", d(11, 1), "phone_internet"),
    Row("home internet 40 EUR on nov 5", "40.00", "EUR", d(11, 5), "phone_internet"),
    Row("checked bag fee $35 yesterday", "35.00", "USD", YESTERDAY, "travel"),
    Row("dinner at the hotel €60 yesterday", "60.00", "EUR", YESTERDAY, "meals"),
    Row("train from Leeds to York £42.50 yesterday", "42.50", "GBP", YESTERDAY, "transport"),
    Row("$18 at Kessler Brothers yesterday", "18.00", "USD", YESTERDAY, None, "Kessler Brothers", asks=ask("category")),
    # missing or ambiguous pieces: a question, never a guess
    Row("spent a lot on lunch", None, None, None, "meals", asks=ask("amount", "date")),
    Row("taxi yesterday", None, None, YESTERDAY, "transport", asks=ask("amount")),
    Row("taxi 45 yesterday", "45.00", None, YESTERDAY, "transport", asks=ask("currency"), default=None),
    Row("$45 taxi and $12 tip yesterday", None, None, YESTERDAY, "transport", asks=ask("amount")),
    Row("about $40 for dinner yesterday", "40.00", "USD", YESTERDAY, "meals", asks=ask("amount")),
    Row("$45 EUR taxi yesterday", "45.00", "USD", YESTERDAY, "transport", asks=ask("currency")),
    Row("$12.345 coffee yesterday", "12345.00", "USD", YESTERDAY, "meals"),  # 3 decimals: not a dollar amount
    Row("$12.3456 coffee yesterday", None, "USD", YESTERDAY, "meals", asks=ask("amount")),
    Row("parking $15 last week", "15.00", "USD", None, "transport", asks=ask("date")),
    Row("parking $15 on sunday", "15.00", "USD", None, "transport", asks=ask("date")),  # today or a week ago?
    Row("parking $15 on 14/3", "15.00", "USD", None, "transport", asks=ask("date")),  # day/month for an MDY user
    Row("parking $15 yesterday and today", "15.00", "USD", None, "transport", asks=ask("date")),
    # impossible: a problem
    Row("-20 dollars taxi yesterday", "-20.00", "USD", YESTERDAY, "transport", problems=ask("amount")),
    Row("refund of -5", "-5.00", "USD", None, None, asks=ask("date", "category"), problems=ask("amount")),
    Row("0 euros lunch yesterday", "0.00", "EUR", YESTERDAY, "meals", problems=ask("amount")),
    Row("50 zorkmids lunch yesterday", "50.00", None, YESTERDAY, "meals", problems=ask("currency")),
    Row("75 XYZ taxi yesterday", "75.00", None, YESTERDAY, "transport", problems=ask("currency")),
    Row("$30 taxi tomorrow", "30.00", "USD", d(11, 23), "transport", problems=ask("future")),
    Row("dinner $80 on 2026-12-04", "80.00", "USD", d(12, 4), "meals", problems=ask("future")),
    Row("lunch next friday $20", "20.00", "USD", d(11, 27), "meals", problems=ask("future")),
    Row("$30 taxi on feb 30", "30.00", "USD", None, "transport", problems=ask("date")),
    Row("$30 taxi 2026-02-29", "30.00", "USD", None, "transport", problems=ask("date")),
    Row("$30 taxi 31/04", "30.00", "USD", None, "transport", problems=ask("date"), order="DMY"),
    Row("$30 taxi 13/45", "30.00", "USD", None, "transport", problems=ask("date")),
    Row("hotel nov 20-25 €500", "500.00", "EUR", d(11, 25), "lodging", problems=ask("future")),  # checkout ahead
    Row("hotel nov 5-3 €360", "360.00", "EUR", None, "lodging", problems=ask("date")),
]


def _question_topic(question: str) -> str:
    for prefix, topic in (
        ("How much", "amount"), ("Which currency", "currency"), ("How far", "distance"), ("What kind", "category"),
    ):  # fmt: skip
        if question.startswith(prefix):
            return topic
    assert question.startswith(("When", "Which")), question
    return "date"


def _problem_topic(problem: str) -> str:
    if "future" in problem:
        return "future"
    if "currency" in problem:
        return "currency"
    if "exist" in problem or "isn't a date" in problem or "before it starts" in problem:
        return "date"
    assert "amount" in problem.lower(), problem
    return "amount"


def _parse(row: Row) -> ParsedExpense:
    return parse_expense(row.text, today=TODAY, default_currency=row.default, date_order=row.order)


@pytest.mark.parametrize("row", [pytest.param(row, id=f"{row.text}|{row.default}|{row.order}") for row in ROWS])
def test_phrasing(row: Row) -> None:
    parsed = _parse(row)

    expected_amount = Decimal(row.amount) if row.amount is not None else None
    assert (parsed.amount, parsed.currency) == (expected_amount, row.currency)
    assert parsed.amount is None or str(parsed.amount) == row.amount  # the exponent too: 45.20, not 45.2
    assert parsed.spent_on == row.spent_on
    assert parsed.category == row.category
    if row.merchant is not None:
        assert parsed.merchant == row.merchant
    assert parsed.attendees == row.attendees
    distance = f"{parsed.distance} {parsed.distance_unit}" if parsed.distance is not None else None
    assert distance == row.distance
    assert {_question_topic(q) for q in parsed.questions} == row.asks, parsed.questions
    assert {_problem_topic(p) for p in parsed.problems} == row.problems, parsed.problems


def test_table_is_big_enough() -> None:
    assert len(ROWS) >= 60


@pytest.mark.parametrize("row", ROWS[:20], ids=lambda row: row.text)
def test_every_field_has_its_type(row: Row) -> None:
    parsed = _parse(row)

    assert parsed.amount is None or isinstance(parsed.amount, Decimal)
    assert parsed.distance is None or isinstance(parsed.distance, Decimal)
    assert parsed.category is None or parsed.category in CATEGORIES
    assert parsed == _parse(row)  # deterministic


def test_issue_examples_explain_their_readings() -> None:
    taxi = parse_expense("I spent $45.20 on a taxi to the client site yesterday", today=TODAY)
    dinner = parse_expense("230 bucks client dinner", today=TODAY)
    drive = parse_expense("84 miles driving to the warehouse on tuesday", today=TODAY)

    assert taxi.notes == ('read "yesterday" as Sat 21 Nov 2026',)
    assert 'read "bucks" as USD' in dinner.notes
    assert drive.notes == ("mileage: 84 mi × 0.67 USD = 56.28 USD", 'read "tuesday" as Tue 17 Nov 2026')


def test_mileage_uses_the_rate_and_its_unit() -> None:
    km_rate = parse_expense(
        "120 km driving yesterday", today=TODAY, default_currency="EUR", mileage_rate=Decimal("0.30"), mileage_unit="km"
    )
    miles_at_km_rate = parse_expense(
        "84 miles driving yesterday",
        today=TODAY,
        default_currency="EUR",
        mileage_rate=Decimal("0.30"),
        mileage_unit="km",
    )
    km_at_mile_rate = parse_expense("120 km driving yesterday", today=TODAY)

    assert (km_rate.amount, km_rate.currency) == (Decimal("36.00"), "EUR")
    assert (miles_at_km_rate.amount, miles_at_km_rate.distance) == (Decimal("40.56"), Decimal(84))
    assert "mileage: 84 mi = 135.18 km × 0.30 EUR = 40.56 EUR" in miles_at_km_rate.notes
    assert "mileage: 120 km = 74.56 mi × 0.67 USD = 49.96 USD" in km_at_mile_rate.notes


def test_mileage_rounds_half_up() -> None:
    parsed = parse_expense("drove 10.5 miles yesterday", today=TODAY, mileage_rate=Decimal("0.655"))

    assert parsed.amount == Decimal("6.88")  # 6.8775


def test_a_written_amount_that_disagrees_with_the_mileage_is_asked() -> None:
    agrees = parse_expense("84 miles driving yesterday, $56.28", today=TODAY)
    disagrees = parse_expense("84 miles driving yesterday, $60", today=TODAY)

    assert (agrees.amount, agrees.questions) == (Decimal("56.28"), ())
    assert disagrees.amount is None
    (question,) = disagrees.questions
    assert "56.28 USD" in question and "“$60”" in question


def test_unknown_currencies_of_the_company_are_problems() -> None:
    parsed = parse_expense("hotel ¥12000 yesterday", today=TODAY, known_currencies={"USD", "EUR", "GBP"})

    assert parsed.currency == "JPY"
    assert parsed.problems == ("JPY isn't a currency I can take claims in.",)


def test_attendees_with_someone_count_the_employee() -> None:
    parsed = parse_expense("dinner with 3 clients $210 friday", today=TODAY)

    assert parsed.attendees == 4
    assert 'counted 4 attendees: you and "3 clients"' in parsed.notes


@pytest.mark.parametrize(
    ("text", "order", "message"),
    [
        ("$30 taxi on feb 30", "MDY", "February 30 doesn't exist — February has 29 days."),
        ("$30 taxi 2026-02-29", "MDY", "February 29, 2026 doesn't exist — 2026 isn't a leap year."),
        ("$30 taxi 31/04", "DMY", "April 31 doesn't exist — April has 30 days."),
        (
            "$30 taxi tomorrow",
            "MDY",
            "Mon 23 Nov 2026 is in the future — an expense is claimed once it has been spent.",
        ),
        ("-20 dollars taxi yesterday", "MDY", "The amount can't be negative (-20.00 USD) — claim what you paid."),
        ("50 zorkmids lunch yesterday", "MDY", "I don't know the currency “zorkmids”."),
    ],
)
def test_problems_say_what_is_wrong(text: str, order: str, message: str) -> None:
    assert parse_expense(text, today=TODAY, date_order=order).problems == (message,)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("spent a lot on lunch yesterday", ["How much", "“a lot”"]),
        ("taxi yesterday", ["How much", "couldn't find an amount"]),
        ("$45 taxi and $12 tip yesterday", ["“$45”", "“$12”", "total"]),
        ("1.234 KWD hotel yesterday", ["1,234.000 KWD", "1.234 KWD"]),
        ("300 kr dinner yesterday", ["“kr”", "SEK", "NOK", "DKK"]),
        ("parking $15 on sunday", ["today (Sun 22 Nov 2026)", "Sun 15 Nov 2026"]),
        ("parking $15 on 14/3", ["14 March", "month/day"]),
    ],
)
def test_questions_name_the_phrase(text: str, words: list[str]) -> None:
    (question,) = parse_expense(text, today=TODAY).questions

    for word in words:
        assert word in question


def test_description_is_the_cleaned_sentence() -> None:
    parsed = parse_expense("  lunch   with <@U024BE7LH> at <https://pret.com|Pret>  £23.10 yesterday ", today=TODAY)

    assert parsed.description == "lunch with @U024BE7LH at Pret £23.10 yesterday"
    assert parsed.merchant == "Pret"


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="date_order"):
        parse_expense("taxi $5 today", today=TODAY, date_order="YMD")
    with pytest.raises(ValueError, match="mileage_unit"):
        parse_expense("taxi $5 today", today=TODAY, mileage_unit="furlongs")
    with pytest.raises(ValueError, match="default_currency"):
        parse_expense("taxi $5 today", today=TODAY, default_currency="dollars")


@pytest.mark.parametrize(
    ("text", "amount", "currency", "spent_on"),
    [
        ("ugh typo, it's 64 not 46", Decimal("64.00"), None, None),
        ("not 46 but 64", Decimal("64.00"), None, None),
        ("sorry, that was in euros, not dollars", None, "EUR", None),
        ("should be 41 pounds, fat-fingered it", Decimal("41.00"), "GBP", None),
        ("wrong day, it was march 5", None, None, date(2027, 3, 5)),
        ("the 5th not the 4th", None, None, date(2027, 3, 5)),
        ("it was a great dinner, not cheap", None, None, None),
    ],
)
def test_a_correction_gives_the_values_it_does_not_rule_out(
    text: str, amount: Decimal | None, currency: str | None, spent_on: date | None
) -> None:
    said = parse_correction(text, today=date(2027, 3, 9), known_currencies=("USD", "EUR", "GBP"))
    assert (said.amount, said.currency, said.spent_on) == (amount, currency, spent_on)


def test_a_currency_named_alone() -> None:
    assert currency_named("make it GBP") == "GBP"
    assert currency_named("i won't be long") is None  # "won" inside "won't" is no currency
    assert currency_named("dollars or euros?") is None  # two: unclear
