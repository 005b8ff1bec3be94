"""The currencies the expense parser takes, checked against babel's CLDR data: codes, minor units, names, symbols."""

from __future__ import annotations

import unicodedata
from datetime import date
from decimal import Decimal

import pytest
from babel.core import Locale, get_global
from babel.localedata import locale_identifiers
from babel.numbers import get_currency_name, get_currency_precision, get_territory_currencies, is_currency

from skills.expenses.currencies import ISO_4217, LOWER_CODES, MARKERS, WRITTEN, minor_units
from skills.expenses.parse import parse_expense

TODAY = date(2026, 11, 22)


def _territories(code: str) -> set[str]:
    return {
        territory
        for territory in get_global("territory_currencies")
        if code in get_territory_currencies(territory, start_date=date(1900, 1, 1), end_date=date(9999, 12, 31))
    }


def test_the_codes_are_babels_currencies_in_use() -> None:
    today = [get_territory_currencies(territory, start_date=TODAY) for territory in get_global("territory_currencies")]
    assert {str(code) for codes in today for code in codes} >= ISO_4217  # every code taken is tender somewhere
    assert all(is_currency(code) for code in ISO_4217)
    assert {"USD", "EUR", "GBP", "JPY", "CHF", "KWD", "BHD", "INR", "CNY", "SEK"} <= ISO_4217
    # Funds, metals, test codes and retired currencies are no claim's currency.
    assert not {"XAU", "XDR", "XTS", "XXX", "CLF", "USN", "DEM", "FRF", "ZWD"} & ISO_4217
    assert LOWER_CODES <= {code.lower() for code in ISO_4217}


def test_every_code_taken_has_babels_minor_units() -> None:
    assert {code: minor_units(code) for code in ISO_4217} == {code: get_currency_precision(code) for code in ISO_4217}
    assert (minor_units("JPY"), minor_units("USD"), minor_units("KWD"), minor_units("BHD")) == (0, 2, 3, 3)
    assert {minor_units(code) for code in ISO_4217} <= {0, 2, 3}
    assert minor_units("CLF") == 2  # 4 in CLDR, but a fund is no claim's currency: the stored default


@pytest.mark.parametrize("code", sorted(ISO_4217))
def test_each_code_before_an_amount_is_read_to_its_minor_unit(code: str) -> None:
    parsed = parse_expense(f"taxi {code} 7 yesterday", today=TODAY)

    assert (parsed.currency, parsed.problems) == (code, ())
    assert parsed.amount == Decimal(7).quantize(Decimal(1).scaleb(-get_currency_precision(code)))


# Every English name babel gives a currency, singular and plural, of up to three words of letters: the longest
# phrase the parser looks for after a number ("trinidad & tobago dollars" is read only as "dollars").
_NAMES = sorted(
    (name, code)
    for code in ISO_4217
    for name in {get_currency_name(code, count, "en") for count in (1, 2)}
    if len(name.split()) <= 3 and all(word.isalpha() for word in name.split())
)


@pytest.mark.parametrize(("name", "code"), _NAMES)
def test_babels_english_names_are_read(name: str, code: str) -> None:
    parsed = parse_expense(f"taxi 7 {name} yesterday", today=TODAY)

    assert parsed.currency == code
    assert parsed.amount == Decimal(7).quantize(Decimal(1).scaleb(-get_currency_precision(code)))


def test_babels_english_symbols_are_read_unless_we_say_otherwise() -> None:
    english = Locale("en")
    for code in ISO_4217:
        symbol = english.currency_symbols.get(code, code)
        if any(unicodedata.category(char) == "Sc" for char in symbol):
            marker = MARKERS[symbol.lower()]
            assert marker.codes[0] == code or symbol.lower() in WRITTEN, (symbol, code, marker)


def test_the_symbols_we_write_are_babels_in_the_currencys_own_languages() -> None:
    # Our table holds these rather than loading every locale at start; babel must agree with each.
    written = [key for key, marker in WRITTEN.items() if marker.codes and not key.isascii() and len(key) <= 2]
    assert {"₽", "₺", "฿", "₴", "₦", "zł", "kč", "￥", "¥", "₹"} <= set(written)
    for key in written:
        if unicodedata.category(key[0]).startswith("L") and len(key) == 1:
            continue  # 円 and 元 are the units' own words, no CLDR symbol
        code = WRITTEN[key].codes[0]
        territories = _territories(code)
        symbols = {
            str(Locale.parse(identifier).currency_symbols.get(code, "")).lower()
            for identifier in locale_identifiers()
            if Locale.parse(identifier).territory in territories or identifier == "en"
        }
        assert key in symbols, (key, code, symbols)


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("CHF 12.50 train ticket yesterday", "12.50", "CHF"),
        ("12,50 € taxi yesterday", "12.50", "EUR"),
        ("¥1200 subway yesterday", "1200", "JPY"),
        ("KWD 0.750 taxi yesterday", "0.750", "KWD"),
        ("BHD 0.125 coffee yesterday", "0.125", "BHD"),
        ("300 swedish kronor taxi yesterday", "300.00", "SEK"),
        ("45 brazilian reals taxi yesterday", "45.00", "BRL"),
        ("20 euros lunch yesterday", "20.00", "EUR"),
        ("20 bucks lunch yesterday", "20.00", "USD"),
        ("8 quid lunch yesterday", "8.00", "GBP"),
        ("900 yen bento yesterday", "900", "JPY"),
        ("4 NT$ bus yesterday", "4.00", "TWD"),
    ],
)
def test_a_symbol_or_name_is_read(text: str, amount: str, currency: str) -> None:
    parsed = parse_expense(text, today=TODAY)

    assert (parsed.amount, parsed.currency, parsed.problems) == (Decimal(amount), currency, ())
    assert parsed.amount is not None and str(parsed.amount) == amount  # the minor unit's places, exactly


def test_three_decimal_currencies_ask_about_a_grouping_dot() -> None:
    (question,) = parse_expense("1.500 KWD hotel yesterday", today=TODAY).questions

    assert "1,500.000 KWD" in question and "1.500 KWD" in question


def test_more_places_than_the_currency_has_are_asked_about() -> None:
    (question,) = parse_expense("JPY 1200.50 taxi yesterday", today=TODAY).questions

    assert "JPY has 0 decimal places" in question


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("50 XYZ taxi yesterday", "I don't know the currency “XYZ”."),
        ("50 XAU taxi yesterday", "I don't know the currency “XAU”."),  # gold, no currency to claim in
        ("50 zorkmids lunch yesterday", "I don't know the currency “zorkmids”."),
    ],
)
def test_an_unknown_currency_is_refused_clearly(text: str, problem: str) -> None:
    parsed = parse_expense(text, today=TODAY)

    assert (parsed.currency, parsed.problems) == (None, (problem,))


def test_a_real_currency_the_company_does_not_take_is_refused_by_name() -> None:
    parsed = parse_expense("CHF 12.50 train yesterday", today=TODAY, known_currencies={"USD", "EUR"})

    assert parsed.currency == "CHF"
    assert parsed.problems == ("CHF isn't a currency I can take claims in.",)
