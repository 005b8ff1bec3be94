"""The business name printed at the top of a receipt's text."""

from __future__ import annotations

import re

from skills.expenses.receipt_totals import AMOUNT_RE, TOTAL_LABEL_RE

_BUSINESS = re.compile(
    r"""\bS/B\b|\b(?:SDN\.?\s*BHD|BHD|BERHAD|ENTERPRISES?|TRADING|RESTAURANT|RESTORAN|CAFE|CAFÉ|BAKERY|KEDAI|STORES?|MART
       |SUPERMARKET|HYPERMARKET|MINIMARKET|HARDWARE|STATIONERY|BOOKSTORE|PHARMACY|FARMASI|HOTEL|LTD|LIMITED|LLC|LLP
       |INC|PLC|GMBH|PTE|CORP(?:ORATION)?|COMPANY|CO\.|SHOP|BOUTIQUE|FOOD|KITCHEN|BISTRO|GARAGE|MOTOR|SERVICES?
       |SYARIKAT|PERNIAGAAN|INDUSTRIES|MARKETING|DISTRIBUTOR|SUPPLY|SUPPLIES|HOLDINGS|GROUP|TEA|COFFEE)\b""",
    re.I | re.X,
)
_ADDRESS = re.compile(
    r"""\b(?:JALAN|JLN|LORONG|TAMAN|TMN|LOT|NO\s?\.|BLOK|BLOCK|LEVEL|FLOOR|TINGKAT|ROAD|RD|STREET|ST\.|AVENUE|AVE
       |PERSIARAN|LEBUH|KAMPUNG|KG|BANDAR|PUSAT|KAWASAN|PERINDUSTRIAN|SELANGOR|JOHOR|KUALA\s+LUMPUR|MALAYSIA|PENANG
       |PULAU\s+PINANG|PERAK|KEDAH|MELAKA|PAHANG|SABAH|SARAWAK|NEGERI|SUITE|UNIT|BUILDING|PLAZA|MALL|CENTRE|CENTER
       |WISMA|MENARA|KOMPLEKS|SECTION|SEKSYEN|SS\d+|USJ|PJ|PETALING|SHAH\s+ALAM|BATU|MUKIM)\b
       |\b\d{5}\b|^(?:NO\.?\s*)?\d+[A-Z]?(?:[-/]\d+[A-Z]?)*\s*,""",
    re.I | re.X,
)
_NOT_NAME = re.compile(
    r"""\b(?:TEL|PHONE|FAX|H/?P|MOBILE|EMAIL|E-MAIL|WWW|HTTP|GST|SST|REG|ROC|COMPANY\s+NO|CO\.?\s*NO|BRN|ID\s*NO|TAX
       |INVOICE|RECEIPT|RESIT|BILL|WELCOME|THANK|CASHIER|TABLE|ORDER|DATE|TIME|CASH\s+SALES?|SIMPLIFIED|TERMINAL
       |POS|DOC|OPEN|HOURS|BRANCH\s+NO|BR\.?\s*NO)\b|@|\.COM\b""",
    re.I | re.X,
)
# A company registration number after the name: (1234567-K), (JM0123456-X), CO. NO. 123456-A.
# OCR may read the dash as a dot or colon and leave a stray mark before the bracket: (123456. X), (123456-K|.
_REG_NUMBER = re.compile(
    r"[\(\[]?\s*(?:CO\.?\s*(?:REG\.?\s*)?NO\.?\s*:?\s*)?[A-Z]{0,3}\d{3,}[\s\-.:]*[A-Z]?\W{0,2}\s*[\)\]]?\W?\s*$",
    re.I,
)
_MERCHANT_LINES = 8  # the name is printed at the top; past this, lines are items and totals


def _letters(line: str) -> int:
    return sum(c.isalpha() for c in line)


def _name_like(line: str) -> bool:
    letters = _letters(line)
    digits = sum(c.isdigit() for c in line)
    priced = AMOUNT_RE.search(line) or TOTAL_LABEL_RE.search(line)  # an item or a total line, not a heading
    return letters >= 3 and letters >= 2 * digits and not _NOT_NAME.search(line) and not priced


def _clean_name(line: str) -> str:
    # Stray dots go, but not the one closing an abbreviation (Co., Bhd.).
    name = re.sub(r"^\.+|(?<![A-Za-z])\.+$", "", _REG_NUMBER.sub("", line).strip(" -:,*|")).strip(" -:,*|")
    name = _S_B.sub("S/B", _SDN_BHD.sub("SDN BHD", name))
    name = _GLUED.sub(" ", name)
    name = _YEN_LETTER.sub("Y", name)
    return " ".join(_without_noise(name.split()))


# Two words OCR joined with a dot (INTERNATIONAL.SDN): initials (A.B.C.) have one letter between dots.
_GLUED = re.compile(r"(?<=[A-Za-z]{2})\.(?=[A-Za-z]{2})|(?<=[A-Za-z]{2})-(?=SDN\b)")
# Tesseract reads a Y between initials or capitals as a yen sign (D.I.¥.): no business name holds one.
_YEN_LETTER = re.compile(r"(?<=[A-Z.])¥|¥(?=[A-Z.])")


def _without_noise(words: list[str]) -> list[str]:
    """An upper-case name without the specks OCR reads around it ("ee", "Bee", "7 ee" before it, "; i", "%" after
    it): words with a lower-case letter or no letter or digit, and a lone number or mark before one, go when an
    upper-case name of two words is left."""

    def capital(word: str) -> bool:
        letters = [c for c in word if c.isalpha()]
        return bool(letters) and all(c.isupper() for c in letters)

    def speck(word: str) -> bool:
        return any(c.islower() for c in word) or not any(c.isalnum() for c in word) and word not in ("&", "-", "+")

    start, end = 0, len(words)
    while start < end - 2 and (speck(words[start]) or len(words[start]) <= 2 and speck(words[start + 1])):
        start += 1
    # After a name only marks and short lower-case specks ("; i"): "CoO" is a misread CO.
    while end - start > 2 and (
        not any(c.isalnum() for c in words[end - 1])
        and words[end - 1] not in ("&", "-", "+")
        or words[end - 1].islower()
        and len(words[end - 1]) <= 2
    ):
        end -= 1
    rest = words[start:end]
    upper_case = not any(map(speck, rest)) and sum(map(capital, rest)) >= 2
    cut = 0 < start <= 2 or 0 < len(words) - end <= 2
    return rest if cut and upper_case and not _SUFFIX_ONLY.match(" ".join(rest)) else words


# "SON BHD", "SIN BHD", "SBN BHD": OCR's misreadings of SDN BHD; S/H and S/8 of S/B at a name's end.
_SDN_BHD = re.compile(r"\bS[O0DIB][NM][.,]?\s*BHD\b", re.I)
_S_B = re.compile(r"\bS/[H8]$")
# A company's suffix alone on a line, perhaps after CO. and (M): the name is on the line above.
_SUFFIX_ONLY = re.compile(
    r"^\W*(?:CO\.?\s*)?(?:\((?:M|MALAYSIA)\)\s*)?(?:SDN\.?\s*BHD|BHD|BERHAD|S/B|LTD|LIMITED|PTE\.?\s*LTD|INC)\W*$",
    re.I,
)
_LINKED = re.compile(r"(?:&|\bAND|-)$")
_LINKING = re.compile(r"^(?:&|\(|AND\b)", re.I)


def _uppercase(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    return bool(letters) and sum(c.isupper() for c in letters) >= 0.7 * len(letters)


def _worded(line: str) -> bool:
    """Whether a line reads as words (each upper, title or lower case, no digit inside): not OCR's specks from a
    logo (HOen&, PVOZ1EE)."""
    words = [word.strip(".,:;'&()*|-!") for word in line.split()]
    words = [word for word in words if any(c.isalpha() for c in word)]
    shaped = all(
        word.isupper() or word.islower() or word.istitle() or (len(word) <= 3 and word[:1].isupper()) for word in words
    )
    mixed = any(any(c.isdigit() for c in word) and any(c.isalpha() for c in word[1:]) for word in words)
    return bool(words) and shaped and not mixed and any(sum(c.isalpha() for c in word) >= 3 for word in words)


def find_merchant(lines: list[str]) -> tuple[str | None, int]:
    """The business name at the top and how firmly it was found: a line with a company word (SDN BHD, ENTERPRISE,
    RESTAURANT…) first, else the first capitalised line that reads like a name rather than an address, phone
    number, registration number or heading; a name wrapped over two lines is joined."""
    top = lines[:_MERCHANT_LINES]
    company = re.compile(r"SDN|BHD|BERHAD|S/B", re.I)

    def usable(line: str) -> bool:
        if company.search(line):
            return _letters(_clean_name(line)) >= 3
        # Place words name businesses too (RESTORAN SELERA KAMPUNG); an address line has a number as well.
        address = _ADDRESS.search(line) and any(c.isdigit() for c in line)
        return _letters(line) >= 3 and not (address or _NOT_NAME.search(line) or AMOUNT_RE.search(line))

    start = next((i for i, line in enumerate(top) if _BUSINESS.search(line) and usable(line)), None)
    confidence = 2
    if start is None:
        confidence = 1
        plain = [i for i, line in enumerate(top) if _name_like(line) and not _ADDRESS.search(line)]
        worded = [i for i in plain if _worded(top[i])]
        start = next((i for i in worded if _uppercase(top[i])), next(iter(worded or plain), None))
    if start is None:
        return None, 0
    name = _clean_name(top[start])
    if start and (_SUFFIX_ONLY.match(name) or _LINKING.match(name)):
        before = top[start - 1]
        if _name_like(before) and not _ADDRESS.search(before):
            name = f"{_clean_name(before)} {name}"
    if start + 1 < len(top):
        after = top[start + 1]
        joins = _LINKED.search(name) or _LINKING.match(after) or _SUFFIX_ONLY.match(after)
        if joins and (_SUFFIX_ONLY.match(after) or _name_like(after) and not _ADDRESS.search(after)):
            name = f"{name} {_clean_name(after)}"
    return name, confidence
