"""Currencies: ISO 4217 codes and minor units, the symbols and words that name one, and a currency named alone."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

# ISO 4217 active codes (funds, metals and test codes left out): the currencies a claim can be in.
ISO_4217 = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF
    CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL
    HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL
    MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON
    RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
    UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
    """.split()
)
# ISO 4217 minor units where they are not 2.
_MINOR_UNITS = {
    **dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
}


def minor_units(currency: str) -> int:
    """Decimal places of a currency's minor unit (ISO 4217): 2 for most, 0 for JPY, 3 for KWD."""
    return _MINOR_UNITS.get(currency, 2)


@dataclass(frozen=True)
class Marker:
    text: str  # as written
    codes: tuple[str, ...]  # possible ISO codes, the usual one first; () means the default currency
    settled: bool = True  # False when the codes are equally likely ("kr": SEK, NOK, DKK, ISK)
    scale: Decimal = Decimal(1)  # "grand" 1000, "cents" 0.01
    slang: bool = False  # always say how it was read
    unknown: bool = False  # looks like a currency we don't know ("zorkmids", "XYZ")
    weak: bool = False  # only a guess from an unfamiliar word after the number


_DOLLARS = ("USD", "CAD", "AUD", "NZD", "SGD", "HKD")


def _markers(
    keys: str, codes: str, *, settled: bool = True, slang: bool = False, scale: Decimal = Decimal(1)
) -> dict[str, Marker]:
    return {key: Marker(key, tuple(codes.split()), settled, scale, slang) for key in keys.split("|")}


# What a symbol or word before/after a number can mean, the usual currency first.
MARKERS: dict[str, Marker] = {}
for _table in (
    _markers("$", " ".join(_DOLLARS) + " MXN"),
    _markers("us$|usd$", "USD"),
    _markers("c$|ca$|can$", "CAD"),
    _markers("a$|au$", "AUD"),
    _markers("nz$", "NZD"),
    _markers("hk$", "HKD"),
    _markers("s$|sg$", "SGD"),
    _markers("r$", "BRL"),
    _markers("mx$", "MXN"),
    _markers("€|euro|euros", "EUR"),
    _markers("£|pound|pounds|sterling|british pounds", "GBP"),
    _markers("quid", "GBP", slang=True),
    _markers("¥|￥", "JPY CNY"),
    _markers("yen|円|japanese yen", "JPY"),
    _markers("cn¥|元|yuan|renminbi|rmb|chinese yuan", "CNY"),
    _markers("₹|rs|rs.|rupee|rupees", "INR PKR LKR NPR"),
    _markers("indian rupees", "INR"),
    _markers("₩|won", "KRW"),
    _markers("₽|ruble|rubles|rouble|roubles", "RUB"),
    _markers("₺|lira|liras|lire", "TRY"),
    _markers("₪|shekel|shekels", "ILS"),
    _markers("₱", "PHP"),
    _markers("₫|dong", "VND"),
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
    _markers("egyptian pounds", "EGP"),
    _markers("dirham|dirhams", "AED MAD"),
    _markers("riyal|riyals", "SAR QAR"),
    _markers("franc|francs|swiss francs", "CHF"),
    _markers("krona|kronor|swedish krona|swedish kronor", "SEK"),
    _markers("danish krone|danish kroner", "DKK"),
    _markers("norwegian krone|norwegian kroner", "NOK"),
    _markers("kr|kr.", "SEK NOK DKK ISK", settled=False),
    _markers("krone|kroner", "NOK DKK", settled=False),
    _markers("peso|pesos", "MXN ARS CLP COP PHP UYU", settled=False),
    _markers("mexican peso|mexican pesos", "MXN"),
    _markers("shilling|shillings", "KES UGX TZS", settled=False),
    _markers("dollar|dollars", " ".join(_DOLLARS)),
    _markers("buck|bucks", " ".join(_DOLLARS), slang=True),
    _markers("us dollars|us dollar|american dollars", "USD"),
    _markers("canadian dollars|canadian dollar", "CAD"),
    _markers("australian dollars|australian dollar|aussie dollars", "AUD"),
    _markers("nz dollars|new zealand dollars", "NZD"),
    _markers("singapore dollars|singapore dollar", "SGD"),
    _markers("hk dollars|hong kong dollars", "HKD"),
    _markers("grand", "", scale=Decimal(1000)),  # in the default currency
    _markers("cent|cents", "", scale=Decimal("0.01")),
):
    MARKERS.update(_table)
# Lower-case codes are accepted only where they are no English word ("all", "top", "try", "cup" and "pen" are codes).
LOWER_CODES = frozenset(
    "usd eur gbp jpy chf cad aud nzd sek nok dkk pln czk huf inr cny hkd sgd mxn brl zar krw rub ils thb aed sar "
    "isk ron bgn myr idr php vnd uah ngn kes egp".split()
)


def currency_named(text: str, known: Collection[str] = ISO_4217) -> str | None:
    """The one currency a text names without an amount ("that was in euros", "make it GBP"); None when it names
    none, several, or only one whose code is unsure ("kr", "pesos")."""
    lowered = text.lower()
    codes: set[str] = set()
    for key, marker in MARKERS.items():
        if not marker.codes or not marker.settled:
            continue
        if re.search(rf"(?<![\w'’]){re.escape(key)}(?![\w'’])", lowered):
            codes.add(marker.codes[0])
    codes.update(
        code
        for code in re.findall(r"\b[A-Za-z]{3}\b", text)
        if code.upper() in known and (code.isupper() or code in LOWER_CODES)
    )
    codes = {code.upper() for code in codes if code.upper() in known}
    # "us dollars" also holds "dollars": both say USD.
    return codes.pop() if len(codes) == 1 else None
