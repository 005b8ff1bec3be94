"""The total a receipt's text prints (named, and confirmed by what was paid) and the currency printed with it."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# An amount has exactly two decimals (a comma decimal too: OCR and European receipts); thousands use commas.
# Not part of a date (25.12.2018), a longer number, or a percentage (6.00%).
AMOUNT_RE = re.compile(
    r"(?<![\d.,])(?P<neg>(?<![^\s(])-)?(?P<int>\d{1,3}(?:,\d{3})+|\d{1,7})\s?[.,]\s?(?P<dec>\d{2})(?![\d%]|[.,/:-]\d|\s?%)"
)
_MAX_TOTAL = Decimal("1000000")
# "12.5" at the end of a labelled line: OCR dropped the last digit (a trailing 0 is the one it drops most).
_ONE_DECIMAL = re.compile(r"(?<![\d.,])(?P<amount>\d{1,7}\.\d)\s*$")


def _amounts(line: str) -> list[Decimal]:
    found: list[Decimal] = []
    for match in AMOUNT_RE.finditer(line):
        try:
            value = Decimal(match["int"].replace(",", "") + "." + match["dec"])
        except InvalidOperation:
            continue
        found.append(-value if match["neg"] else value)
    return found


# OCR reads O for 0 and l/I for 1 inside words as often as in digits: the labels allow the common swaps.
_T = r"T[OA0Q]T[AE4][L1I|]"
# EXCL as OCR reads it too (Exctuded): the amount before tax.
_EXCL = r"EXC(?:L|TUD)"
_SUB = re.compile(
    rf"\bSUB[\s\-.]*{_T}|\b{_T}\s*(?:\(?{_EXCL}|BEFORE|W/?O\b|NET\s+OF)|\b{_EXCL}UDING\b|\b{_EXCL}(?:UDED)?\b", re.I
)
# Named as the final payable amount: after rounding or adjustment, grand, nett, due, payable.
_FINAL = re.compile(
    rf"""GRAND\s*{_T} | \bNET{{1,2}}\s*{_T} | {_T}\s*NET{{1,2}}\b | ROUND(?:ED|ING)?\s*{_T}
       | {_T}\s*(?:AMOUNT\s*|AMT\s*)?ROUNDED | AFTER\s*(?:ROUND|ADJ) | {_T}\s*(?:AMOUNT\s*|AMT\s*)?(?:DUE|PAYABLE)
       | (?:AMOUNT|AMT|BALANCE)\s*(?:DUE|PAYABLE)
       | \bNET{{1,2}}\s*(?:AMOUNT|AMT|SALES?)\b | \bJUMLAH\b""",
    re.I | re.X,
)
# A total that says which taxes it includes is a total, but a rounded TOTAL may follow it.
_INCLUSIVE = re.compile(r"\bINCL|\bINC\.?\s*(?:GST|SST|TAX|VAT)|\bWITH\s+(?:GST|SST|TAX|VAT)", re.I)
# Glued to the next word too, as receipts printed without spaces read (TotalAmt, TotalAmtRounded).
TOTAL_LABEL_RE = re.compile(rf"\b{_T}\b|\b{_T}(?=[:\d(]|RM|Am(?:oun)?t|AM(?:OUN)?T\b)|\b{_T}\s*AM(?:OUN)?T\b", re.I)
_AMOUNT_WORD = re.compile(r"\b(?:AMOUNT|AMT)\b", re.I)
# Lines whose amount is anything but the total, even when the word TOTAL is on them.
_NOT_TOTAL = re.compile(
    r"""\bCHANGE\b | \bCHG\b | \bTENDER(?:ED)?\b | \bBALANCE\b(?!\s*DUE) | \b[QO0]TY\b | \bQUANTITY\b | \bITEMS?\b
       | \bPCS\b | \bUNITS?\b | \bDISC(?:OUNT)?\b | \bSAVINGS?\b | \bPOINTS?\b | \bDEPOSIT\b | \bREFUND\b | \bVOUCHER\b
       | \bROUNDING\b(?!\s*(?:TOTAL|T[O0]T)) | \bCOUNT\b""",
    re.I | re.X,
)
# Tax lines: the label is the tax itself ("GST 6%", "Total GST", "Tax amount"), not a total that includes it.
_TAX_WORD = r"(?:GST|SST|VAT|TAX|SERVICE\s*(?:CHARGE|CHG|TAX)|SVC\s*CHG)"
_TAX = re.compile(
    rf"""^\W*{_TAX_WORD}\b | {_T}\s*{_TAX_WORD}\b | \b{_TAX_WORD}\s*{_T}
       | \b{_TAX_WORD}\s*(?:AMT|AMOUNT|PAYABLE|\(?@?\s*\d+\s?%|@) | ^\W*(?:SR|ZR)\b | \d\s?%""",
    re.I | re.X,
)
_TAX_SUMMARY = re.compile(r"\b(?:GST|SST|TAX|VAT)\s*SUMMARY|\bSUMMARY\b.*\b(?:GST|SST|TAX)\b|\bTAX\s*CODE\b", re.I)
_CASH = re.compile(r"\bCASH\b|\bTUNAI\b|\bPAID\b|\bPAYMENT\b|\bTENDER", re.I)
_CARD = re.compile(r"\b(?:VISA|MASTER\s*CARD|MASTER|MASTERCARD|AMEX|DEBIT|CREDIT(?:\s*CARD)?|CARD|E-?WALLET)\b", re.I)
_CHANGE = re.compile(r"\bCHANGE\b|\bCHG\b|\bBALANCE\b(?!\s*DUE)|\bBAKI\b", re.I)  # BAKI: Malay for change


def _line_amount(lines: list[str], index: int) -> Decimal | None:
    """The amount a labelled line carries: its last one, or the next line's when the label stands alone
    (OCR sometimes splits a label and its right-aligned amount onto two lines)."""
    found = _amounts(lines[index])
    if found:
        return found[-1]
    short = _ONE_DECIMAL.search(lines[index])
    if short:
        return Decimal(short["amount"] + "0")
    if index + 1 < len(lines):
        following = lines[index + 1]
        rest = AMOUNT_RE.sub("", following)
        if _amounts(following) and not re.search(r"[A-Za-z]{3,}", re.sub(r"\b(?:RM|MYR)\b", "", rest)):
            return _amounts(following)[-1]
    return None


def find_total(lines: list[str]) -> tuple[Decimal | None, int | None, int]:
    """The final payable total, the index of its line and how firmly it was found: named totals first
    (grand/nett/rounded/due over a plain TOTAL; never subtotal, tax, change or cash tendered), confirmed by
    cash − change or a card payment of the same amount; otherwise the largest plausible amount low on the receipt."""
    candidates: list[tuple[float, int, Decimal]] = []
    cash: Decimal | None = None
    change: Decimal | None = None
    paid: list[Decimal] = []
    summary = False
    for index, line in enumerate(lines):
        # Past a tax summary's heading, a TOTAL sums the tax table, once the receipt's total is named above it.
        summary = summary or bool(candidates and _TAX_SUMMARY.search(line))
        amount = _line_amount(lines, index)
        if amount is None or amount <= 0 or amount >= _MAX_TOTAL:
            continue
        if _CHANGE.search(line) and not _FINAL.search(line):
            change = amount
            continue
        if _CASH.search(line) and not TOTAL_LABEL_RE.search(line):
            cash = amount
            continue
        if _CARD.search(line) and not TOTAL_LABEL_RE.search(line):
            paid.append(amount)
            continue
        if _SUB.search(line) or _NOT_TOTAL.search(line) or summary:
            continue
        if _FINAL.search(line):
            weight = 3.0
        elif TOTAL_LABEL_RE.search(line) or _INCLUSIVE.search(line) and _AMOUNT_WORD.search(line):
            weight = 2.0
        elif _AMOUNT_WORD.search(line):
            weight = 1.0
        else:
            continue
        if _TAX.search(line) and not (_INCLUSIVE.search(line) or weight == 3):
            continue  # "TOTAL GST 0.51", "SR 6% … 0.51": the tax, not the total
        if len(_amounts(line)) > 1:
            weight -= 0.5  # a table row (GST summary: net, tax) rather than a labelled total
        candidates.append((weight, index, amount))
    tendered = cash - change if cash is not None and change is not None and cash > change else None
    evidence = set(paid)
    if cash is not None and change is None:
        evidence.add(cash)  # exact cash: no change line
    if tendered is not None:
        evidence.add(tendered)

    def score(candidate: tuple[float, int, Decimal]) -> tuple[float, int]:
        weight, index, amount = candidate
        # Payment lines agree with the real total; a later line of equal weight is the final one (after rounding).
        # The same amount named twice (TOTAL, then TOTAL RM) outweighs one OCR misread of it.
        named_again = sum(other == amount for _, _, other in candidates) > 1
        return weight + (1.5 if amount in evidence else 0.0) + (0.25 if named_again else 0.0), index

    if candidates:
        weight, index, amount = max(candidates, key=score)
        if weight < 2 and tendered is not None and amount not in evidence:
            return tendered, None, 1  # cash less change says more than an AMOUNT column
        repeated = sum(other == amount for _, _, other in candidates) > 1
        confirmed = amount in evidence or repeated
        if not confirmed:
            # Subtotal + tax confirms the total, or corrects a digit OCR misread in it.
            added = _added_up(lines, index)
            if added is not None and (added == amount or _one_digit_apart(added, amount)):
                return added, index, 3 if weight >= 2 else 1
        return amount, index, (3 if confirmed else 2) if weight >= 2 else 1
    if tendered is not None:
        return tendered, None, 1
    if paid:
        return paid[-1], None, 1
    largest, line_at = _fallback_total(lines)
    return largest, line_at, 0


_ROUNDING = re.compile(r"\bROUND(?:ING)?\b(?!\s*(?:TOTAL|T[O0]T))|\bADJ(?:USTMENT)?\b", re.I)
_CASH_STEP = Decimal("0.05")  # the smallest coin where a receipt prints a rounding adjustment (RM, S$, A$…)


def _added_up(lines: list[str], total_at: int) -> Decimal | None:
    """The total as the receipt adds it up above its total line: the last subtotal (printed twice), plus the tax
    and service lines after it, rounded to the nearest 0.05 when a rounding adjustment is printed (whose sign OCR
    often loses). None when there is no such subtotal or no tax, or a discount or other charge makes it unsure."""
    start = next((i for i in range(total_at - 1, -1, -1) if _SUB.search(lines[i])), None)
    if start is None or total_at - start > 8 or not (_amounts(lines[start]) or _undotted(lines[start])):
        return None
    added = (_amounts(lines[start]) or _undotted(lines[start]))[-1]
    # A witness that the subtotal was read right (an items total, a tax summary printing it again): else a
    # misread subtotal would "correct" a total read right.
    if sum(added in _amounts(line) or added in _undotted(line) for line in lines) < 2:
        return None
    taxed = rounded = False
    for line in lines[start + 1 : total_at]:
        found = _amounts(line) or _undotted(line)
        if not found:
            continue
        if _ROUNDING.search(line) and abs(found[-1]) < _CASH_STEP:
            rounded = True
        elif _TAX.search(line) and not TOTAL_LABEL_RE.search(re.sub(rf"{_T}\s*{_TAX_WORD}", "", line, flags=re.I)):
            added += found[-1]
            taxed = True
        elif found[-1] != 0:
            return None  # a discount, a deposit, an item: not a sum this can check
    if not taxed:
        return None
    return (added / _CASH_STEP).quantize(Decimal(1)) * _CASH_STEP if rounded else added


def _undotted(line: str) -> list[Decimal]:
    """The amount ending a labelled line whose decimal point OCR lost (SUBTOTAL 5142 for 51.42), in a list."""
    found = re.search(r"[A-Za-z)\]:]\W*(?<![\d.,])(\d{3,7})\W{0,2}$", line)
    return [Decimal(found[1]) / 100] if found else []


def _one_digit_apart(one: Decimal, other: Decimal) -> bool:
    """Whether two amounts differ in one digit only, as when OCR misreads a 5 as a 6 or a 0 as an 8."""
    first, second = f"{one:.2f}", f"{other:.2f}"
    return len(first) == len(second) and sum(a != b for a, b in zip(first, second, strict=True)) == 1


def _fallback_total(lines: list[str]) -> tuple[Decimal | None, int | None]:
    """No labelled total: the largest amount below the top third, leaving out tendered cash, change and tax."""
    best: tuple[Decimal, int] | None = None
    start = len(lines) // 3
    for index in range(start, len(lines)):
        line = lines[index]
        if _CASH.search(line) or _CHANGE.search(line) or _TAX.search(line) or _NOT_TOTAL.search(line):
            continue
        for amount in _amounts(line):
            if 0 < amount < _MAX_TOTAL and (best is None or amount > best[0]):
                best = (amount, index)
    return (best[0], best[1]) if best else (None, None)


# ---- currency

# A sign next to an amount or a column's unit ("€5.00", "5,00 €", "(€)"): glued to a word (70GSM£, €Pajq) or
# alone among words it is a C, an E or a speck that OCR misread.
_SIGNED = r"(?<![A-Za-z]){sign}(?=\s?\d)|\d\s?{sign}|\({sign}\)"
_CURRENCIES: tuple[tuple[re.Pattern[str], str], ...] = (
    # RN and RH: RM as OCR misreads it, only right before an amount.
    (re.compile(r"\bRM(?=\s?\d)|\bRM\b|\bMYR\b|\bRINGGIT\b|\bR[NH](?=\s?\d{1,7}[.,]\d{2}\b)", re.I), "MYR"),
    (re.compile(r"\bS\$|\bSGD\b", re.I), "SGD"),
    (re.compile(r"\bUS\$|\bUSD\b", re.I), "USD"),
    (re.compile(r"\bA\$|\bAUD\b", re.I), "AUD"),
    (re.compile(rf"{_SIGNED.format(sign='€')}|\bEUR\b|\bEURO?S?\b", re.I), "EUR"),
    (re.compile(rf"{_SIGNED.format(sign='£')}|\bGBP\b", re.I), "GBP"),
    (re.compile(r"₹|\bINR\b|\bRs\.?(?=\s?\d)", re.I), "INR"),
    (re.compile(r"\bIDR\b|\bRp\.?(?=\s?\d)"), "IDR"),
    (re.compile(r"฿|\bTHB\b", re.I), "THB"),
    (re.compile(r"\bPHP\b|₱", re.I), "PHP"),
    (re.compile(r"\bJPY\b", re.I), "JPY"),
    (re.compile(r"\bCNY\b|\bRMB\b", re.I), "CNY"),
    (re.compile(r"¥\s?\d|\d\s?¥"), "¥"),  # yen or yuan: like a bare "$", the caller decides
)
_BARE = frozenset({"$", "¥"})
# Before an amount, not after a letter (C$00025863 is a document number with a misread S) nor before a long number.
_DOLLAR = re.compile(r"(?<![A-Za-z0-9])\$\s?\d{1,3}(?:,\d{3})*(?:[.,]\d{1,2})?(?![\d,])|\d\s?\$")


def find_currency(lines: list[str], total_line: int | None = None) -> str | None:
    """The currency printed on the total's line, else the one printed most often; None when none is shown."""

    def on(line: str) -> list[str]:
        found = [code for pattern, code in _CURRENCIES if pattern.search(line)]
        if not found and _DOLLAR.search(line):
            found.append("$")  # a bare dollar sign: USD, SGD, AUD… the caller decides from the employee
        return found

    counts: dict[str, int] = {}
    for line in lines:
        for code in on(line):
            counts[code] = counts.get(code, 0) + 1
    # A code (RM, SGD) printed anywhere outranks a bare sign, which OCR also reads into a stray S or 5.
    coded = any(code not in _BARE for code in counts)
    if total_line is not None:
        for index in (total_line, total_line + 1):
            found = [code for code in on(lines[index]) if not coded or code not in _BARE] if index < len(lines) else []
            if found:
                return found[0]
    return max(counts, key=lambda code: (code not in _BARE, counts[code])) if counts else None
