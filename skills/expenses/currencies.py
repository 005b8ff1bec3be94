"""Currencies: the codes, minor units, names and symbols babel (CLDR) gives, the words people write, one named alone."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from babel.core import Locale, get_global
from babel.numbers import get_currency_name, get_currency_precision, get_currency_symbol, get_territory_currencies


def _in_use() -> frozenset[str]:
    """Codes that are legal tender somewhere and have no end date in CLDR: funds, metals, test codes and retired
    currencies left out. The far date keeps the set the same whatever day it is (tests run at pinned dates)."""
    far = date(9999, 12, 31)
    codes: set[str] = set()
    for territory in get_global("territory_currencies"):
        codes.update(str(code) for code in get_territory_currencies(territory, start_date=far, end_date=far))
    return frozenset(codes)


# The currencies a claim can be in when the company lists none (ISO 4217 codes, as CLDR knows them in use).
ISO_4217 = _in_use()


def minor_units(currency: str) -> int:
    """Decimal places of a currency as babel (CLDR) gives them: 2 for most, 0 for JPY, 3 for KWD; 2 for a code
    outside ISO_4217 (a fund such as CLF has 4 in CLDR, more than a claim is stored with)."""
    return get_currency_precision(currency) if currency in ISO_4217 else 2


@dataclass(frozen=True)
class Marker:
    text: str  # as written
    codes: tuple[str, ...]  # possible ISO codes, the usual one first; () means the default currency
    settled: bool = True  # False when the codes are equally likely ("kr": SEK, NOK, DKK, ISK)
    scale: Decimal = Decimal(1)  # "grand" 1000, "cents" 0.01
    slang: bool = False  # always say how it was read
    unknown: bool = False  # looks like a currency we don't know ("zorkmids", "XYZ")
    weak: bool = False  # only a guess from an unfamiliar word after the number


def _from_babel() -> dict[str, Marker]:
    """Each currency's English names, singular and plural ("swiss franc", "swiss francs", "euros"), and its English
    symbol when it holds a currency sign ("€", "₹", "CA$"): letter symbols ("FCFA", "Cg.") read as words."""
    english = Locale("en")
    symbols = english.currency_symbols
    markers: dict[str, Marker] = {}
    for code in sorted(ISO_4217):
        written = {get_currency_name(code, count, english).lower() for count in (1, 2)}
        symbol = symbols.get(code, code)
        if any(unicodedata.category(char) == "Sc" for char in symbol):
            written.add(symbol.lower())
        markers.update((text, Marker(text, (code,))) for text in written)
    return markers


_DOLLARS = ("USD", "CAD", "AUD", "NZD", "SGD", "HKD")


def _markers(
    keys: str, codes: str, *, settled: bool = True, slang: bool = False, scale: Decimal = Decimal(1)
) -> dict[str, Marker]:
    return {key: Marker(key, tuple(codes.split()), settled, scale, slang) for key in keys.split("|")}


# What babel cannot know, written by us; it wins over babel's reading of the same text ("$" is USD in English).
# - A symbol or bare word several currencies share, the usual one first: the company's default currency is taken
#   when it is among them, else the first is (with a note), or the person is asked when none is usual (settled=False).
# - Slang, spellings and plurals people write that are no CLDR name ("bucks", "quid", "reais", "zlotych").
# - Symbols CLDR gives only in the currency's own languages ("₽" in Russian, "zł" in Polish): loading those
#   locales costs seconds at every start, so they are here, and tests/skills/expenses/test_currencies_babel.py
#   checks each against babel.
# - Symbols written with a country prefix that CLDR spells otherwise ("c$" is CAD to Canadians, the córdoba in CLDR).
WRITTEN: dict[str, Marker] = {}
for _table in (
    _markers("$", " ".join(_DOLLARS) + " MXN"),
    _markers("us$|usd$", "USD"),
    _markers("c$|can$", "CAD"),
    _markers("au$", "AUD"),
    _markers("s$|sg$", "SGD"),
    _markers("pound|pounds|sterling", "GBP"),
    _markers("quid", "GBP", slang=True),
    _markers("¥|￥", "JPY CNY"),
    _markers("yen|円", "JPY"),
    _markers("元|yuan|renminbi|rmb", "CNY"),
    _markers("₹|rs|rs.|rupee|rupees", "INR PKR LKR NPR"),
    _markers("won", "KRW"),
    _markers("₽|ruble|rubles|rouble|roubles", "RUB"),
    _markers("₺|lira|liras|lire", "TRY"),
    _markers("shekel|shekels", "ILS"),
    _markers("dong", "VND"),
    _markers("฿|baht", "THB"),
    _markers("₴|hryvnia|hryvnias", "UAH"),
    _markers("₦|naira", "NGN"),
    _markers("zł|zloty|złoty|zlotys|zlotych", "PLN"),
    _markers("kč|koruna|korun", "CZK"),
    _markers("forint|forints", "HUF"),
    _markers("rand", "ZAR"),
    _markers("reais", "BRL"),
    _markers("ringgit", "MYR"),
    _markers("rupiah", "IDR"),
    _markers("lei", "RON"),
    _markers("dirham|dirhams", "AED MAD"),
    _markers("riyal|riyals", "SAR QAR"),
    _markers("franc|francs", "CHF"),
    _markers("krona|kronor", "SEK"),
    _markers("kr|kr.", "SEK NOK DKK ISK", settled=False),
    _markers("krone|kroner", "NOK DKK", settled=False),
    _markers("peso|pesos", "MXN ARS CLP COP PHP UYU", settled=False),
    _markers("shilling|shillings", "KES UGX TZS", settled=False),
    _markers("dollar|dollars", " ".join(_DOLLARS)),
    _markers("buck|bucks", " ".join(_DOLLARS), slang=True),
    _markers("american dollars", "USD"),
    _markers("aussie dollars", "AUD"),
    _markers("nz dollars", "NZD"),
    _markers("hk dollars", "HKD"),
    _markers("grand", "", scale=Decimal(1000)),  # in the default currency
    _markers("cent|cents", "", scale=Decimal("0.01")),
):
    WRITTEN.update(_table)

# What a symbol or word before/after a number can mean, the usual currency first.
MARKERS: dict[str, Marker] = {**_from_babel(), **WRITTEN}
# Lower-case codes are accepted only where they are no English word ("all", "top", "try", "cup" and "pen" are codes).
LOWER_CODES = frozenset(
    "usd eur gbp jpy chf cad aud nzd sek nok dkk pln czk huf inr cny hkd sgd mxn brl zar krw rub ils thb aed sar "
    "isk ron myr idr php vnd uah ngn kes egp".split()
)
_NAMED = tuple(
    (re.compile(rf"(?<![\w'’]){re.escape(key)}(?![\w'’])"), marker.codes[0])
    for key, marker in MARKERS.items()
    if marker.codes and marker.settled
)


def currency_named(text: str, known: Collection[str] = ISO_4217) -> str | None:
    """The one currency a text names without an amount ("that was in euros", "make it GBP"); None when it names
    none, several, or only one whose code is unsure ("kr", "pesos")."""
    lowered = text.lower()
    codes = {code for pattern, code in _NAMED if pattern.search(lowered)}
    codes.update(
        code
        for code in re.findall(r"\b[A-Za-z]{3}\b", text)
        if code.upper() in known and (code.isupper() or code in LOWER_CODES)
    )
    codes = {code.upper() for code in codes if code.upper() in known}
    # "us dollars" also holds "dollars": both say USD.
    return codes.pop() if len(codes) == 1 else None


def home_currency(country: str, allowed: Collection[str], on: date) -> str | None:
    """The one currency legal tender in `country` (ISO 3166 alpha-2) on `on`, when a claim may be in it; None
    when the country has several (Panama: PAB and USD), none CLDR knows, or one that is not allowed."""
    try:
        codes = get_territory_currencies(country.upper(), start_date=on, end_date=on)
    except (KeyError, ValueError):
        return None
    return codes[0] if len(codes) == 1 and codes[0] in allowed else None


def symbol_of(symbol: str, code: str) -> bool:
    """A receipt's bare symbol ("$", "¥") can be `code`'s: its English or narrow symbol holds it ("CA$", "$")."""
    return symbol in get_currency_symbol(code, "en")
