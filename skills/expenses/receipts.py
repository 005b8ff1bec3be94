"""Receipt fields (total, currency, date, merchant) from a photo, a scan or a PDF: the PDF's text layer or
Tesseract reads the text, then plain rules pick the fields out of it. Nothing here is trusted blindly: the
expense card shows what was read so the employee confirms or corrects it."""

from __future__ import annotations

import io
import math
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from PIL import Image

from integrations.files import IMAGE_KINDS, TooLargeToRead, megapixels
from integrations.ocr import MAX_PIXELS, OcrUnavailable, open_image, run_tesseract, tesseract_available

if TYPE_CHECKING:
    from pypdf import PageObject, PdfReader
    from pypdf.generic import StreamObject

# How an all-numeric date with a short year is read: 03/04/18 is 3 April 2018 (DMY), 4 March 2018 (MDY) or
# 4 April 2003 (YMD). Four-digit years first (2018-04-03) and month names (3 APR 2018) read the same in any order.
DateOrder = Literal["DMY", "MDY", "YMD"]
# Day first: the receipts this bot sees first are Malaysian (like British, European and most Asian ones).
DEFAULT_DATE_ORDER: DateOrder = "DMY"

# Two Tesseract readings, measured with `backoffice eval receipts` on 100 scanned receipts (SROIE): --psm 6 (one
# uniform block) at the scan's own size reads the header and keeps each label on a line with its right-aligned
# amount; --psm 4 (one column) with narrow scans enlarged to 1600 px reads differently enough that its errors
# are partly independent, so it runs when the first reading leaves a field unlabelled, and the firmer reading of
# each field wins. --psm 11 (sparse text, what screenshots use) scatters labels and amounts: with the same rules
# it read 0.63 of totals and 0.70 of dates where --psm 6 read 0.75 and 0.83.
_FIRST_PASS = (("--psm", "6", "-l", "eng"), 0)
_SECOND_PASS = (("--psm", "4", "-l", "eng"), 1600)
_FIRM = 2  # a field found at least this firmly (labelled, or printed with a time) needs no second reading
_PDF_TEXT_MIN_CHARS = 20  # fewer non-space characters than this in the text layer: a scan with a stray label
_PDF_MAX_PAGES = 5  # read whole, as an invoice's total is on its last page; past this a PDF is not a receipt
_PDF_PAGE_LIMIT = 50  # more pages than this: refused unread (a receipt bundle has a few dozen at most)
# A PDF image's size once decoded, from its dictionary (width × height × colour components × bits): pypdf's own
# buffer limit (7.x), so an image it would refuse after decompressing is refused before.
_PDF_MAX_IMAGE_BYTES = 75_000_000
_PDF_MAX_XOBJECTS = 200  # images and forms looked at on page 1: scanners put one picture there
_MAX_TEXT_CHARS = 100_000  # of a text layer: a receipt has a few thousand
_RENDER_DPI = 300
_UNPACKS_TOO_FAR = "it unpacks to more than I can read"  # pypdf's own limits on a stream's decoded size
# Colour components per pixel of a PDF colour space (an unknown one counts as 4, the most a receipt has).
_COMPONENTS = {
    "/DeviceGray": 1,
    "/CalGray": 1,
    "/G": 1,
    "/Indexed": 1,
    "/I": 1,
    "/Separation": 1,
    "/DeviceRGB": 3,
    "/CalRGB": 3,
    "/RGB": 3,
    "/Lab": 3,
    "/DeviceCMYK": 4,
    "/CMYK": 4,
}


class ReceiptUnreadable(RuntimeError):
    """No text could be read from the receipt; the message says why, in words for the employee."""


@dataclass(frozen=True)
class ReceiptFields:
    """What a receipt says, as far as the rules can tell; None where a field was not found."""

    total: Decimal | None
    currency: str | None  # ISO 4217 code when printed (RM → MYR, € → EUR…); "$" or "¥" when only that is printed
    date: date | None
    merchant: str | None
    text: str  # the text that was read (for the card and the audit)
    source: str  # "pdf-text" | "ocr" (read_receipt); "text" from extract_fields on text given


# ------------------------------------------------------------------ reading


def read_receipt(
    path: Path, kind: str, *, ocr_timeout: float = 60, date_order: DateOrder = DEFAULT_DATE_ORDER
) -> ReceiptFields:
    """Read a stored receipt (kind as sniffed by integrations.files) and extract its fields. ReceiptUnreadable
    when no text can be read; TooLargeToRead, before anything is decoded, for more pages or pixels than a receipt
    has (a decompression bomb)."""
    if kind == "pdf":
        reader = _pdf_reader(path)
        text = _pdf_text(reader, path.name)
        if _visible_chars(text) >= _PDF_TEXT_MIN_CHARS:
            return _with_source(extract_fields(text, date_order=date_order), "pdf-text")
        image = _pdf_first_page_image(reader, path, timeout=ocr_timeout)
        return _read_image(image, path.name, timeout=ocr_timeout, date_order=date_order)
    if kind in IMAGE_KINDS:
        return _read_image(_open_image(path), path.name, timeout=ocr_timeout, date_order=date_order)
    raise ReceiptUnreadable(f"{path.name} is not an image or a PDF, so I can't read it as a receipt.")


def _read_image(image: Image.Image, name: str, *, timeout: float, date_order: DateOrder) -> ReceiptFields:
    """OCR in one or two passes (see _FIRST_PASS); each field from the reading that found it more firmly."""
    deadline = time.monotonic() + timeout
    args, min_width = _FIRST_PASS
    first = _extract(_ocr(image, name, args, min_width=min_width, timeout=timeout), date_order=date_order)
    if min(first.total, first.date, first.merchant) >= _FIRM:
        return _with_source(first.fields, "ocr")
    args, min_width = _SECOND_PASS
    try:
        text = _ocr(image, name, args, min_width=min_width, timeout=max(deadline - time.monotonic(), 1.0))
    except ReceiptUnreadable:
        return _with_source(first.fields, "ocr")  # the first reading stands on its own
    second = _extract(text, date_order=date_order)
    total = second if second.total > first.total else first
    found_date = second if second.date > first.date else first
    merchant = second if second.merchant > first.merchant else first
    if all(reading is first for reading in (total, found_date, merchant)):
        return _with_source(first.fields, "ocr")
    return ReceiptFields(
        total=total.fields.total,
        currency=total.fields.currency or first.fields.currency or second.fields.currency,
        date=found_date.fields.date,
        merchant=merchant.fields.merchant,
        # Both readings, so the card and the audit show where every field came from.
        text=f"{first.fields.text}\n\n— second reading —\n{second.fields.text}",
        source="ocr",
    )


def _with_source(fields: ReceiptFields, source: str) -> ReceiptFields:
    return ReceiptFields(fields.total, fields.currency, fields.date, fields.merchant, fields.text, source)


def _visible_chars(text: str) -> int:
    return sum(not c.isspace() for c in text)


def _pdf_reader(path: Path) -> PdfReader:
    """The PDF opened (nothing decoded yet) and decrypted; TooLargeToRead past _PDF_PAGE_LIMIT pages."""
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError, PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ReceiptUnreadable(f"{path.name} is password-protected; send it without the password.")
        pages = len(reader.pages)
    except ReceiptUnreadable:
        raise
    except LimitReachedError as exc:  # pypdf's own limits (page tree, stream sizes)
        raise TooLargeToRead(_UNPACKS_TOO_FAR) from exc
    except (PdfReadError, OSError, ValueError, KeyError, TypeError) as exc:
        raise ReceiptUnreadable(f"{path.name} could not be read as a PDF: {exc}") from exc
    if pages > _PDF_PAGE_LIMIT:
        raise TooLargeToRead(f"{pages:,} pages")
    return reader


def _pdf_text(reader: PdfReader, name: str) -> str:
    from pypdf.errors import LimitReachedError, PdfReadError

    texts: list[str] = []
    try:
        for page in reader.pages[:_PDF_MAX_PAGES]:
            # Layout mode keeps a label and its amount on one line, as on the printed page.
            texts.append(page.extract_text(extraction_mode="layout") or "")
            if sum(map(len, texts)) >= _MAX_TEXT_CHARS:
                break
    except LimitReachedError as exc:  # a content stream that unpacks past pypdf's limits
        raise TooLargeToRead(_UNPACKS_TOO_FAR) from exc
    except (PdfReadError, OSError, ValueError, KeyError, TypeError) as exc:
        raise ReceiptUnreadable(f"{name} could not be read as a PDF: {exc}") from exc
    return "\n".join(texts)[:_MAX_TEXT_CHARS]


def _pdf_first_page_image(reader: PdfReader, path: Path, *, timeout: float) -> Image.Image:
    """Page 1 of a scanned PDF as an image: rendered by poppler's pdftoppm when installed, else the largest
    image embedded in the page (a scanner's PDF is one full-page picture). Its images are checked from their
    dictionaries first: poppler would decode a bomb as surely as pypdf."""
    from pypdf.errors import LimitReachedError, PdfReadError

    try:
        page = reader.pages[0]
        images = _page_images(page)
        dpi = _render_dpi(float(page.mediabox.width), float(page.mediabox.height))
    except TooLargeToRead:
        raise  # a ValueError too
    except LimitReachedError as exc:
        raise TooLargeToRead(_UNPACKS_TOO_FAR) from exc
    except (PdfReadError, OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise ReceiptUnreadable(f"{path.name} has no text layer and its page image could not be read: {exc}") from exc
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "page"
            try:
                done = subprocess.run(
                    [pdftoppm, "-r", str(dpi), "-f", "1", "-l", "1", "-gray", "-png", "-singlefile"]
                    + [str(path), str(out)],
                    capture_output=True,
                    timeout=timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise ReceiptUnreadable(f"Rendering {path.name} took longer than {timeout:g}s.") from exc
            rendered = out.with_suffix(".png")
            if done.returncode == 0 and rendered.exists():
                return _open_image(rendered)
    if not images:
        how = "" if pdftoppm else " (install poppler-utils so I can render it)"
        raise ReceiptUnreadable(f"{path.name} has no text layer and no scanned image I can read{how}.")
    _pixels, largest = max(images, key=lambda found: found[0])
    try:
        image = largest.decode_as_image()
    except LimitReachedError as exc:  # its data unpacks to more than its dictionary said
        raise TooLargeToRead(_UNPACKS_TOO_FAR) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:  # the JPEG inside is larger
        raise TooLargeToRead(f"over {megapixels(Image.MAX_IMAGE_PIXELS or MAX_PIXELS)}") from exc
    except (PdfReadError, OSError, ValueError, KeyError, TypeError, IndexError, NotImplementedError) as exc:
        # NotImplementedError: an image filter pypdf cannot decode (JBIG2, some CCITT variants).
        raise ReceiptUnreadable(f"{path.name} has no text layer and its page image could not be read: {exc}") from exc
    if not isinstance(image, Image.Image):
        raise ReceiptUnreadable(f"{path.name} has no text layer and no scanned image I can read.")
    return image


def _page_images(page: PageObject) -> list[tuple[int, StreamObject]]:
    """The images a page draws (in its forms too, a few levels down), with their pixel counts, each checked from
    its dictionary (and its soft mask's, decoded with it) before anything is decoded."""
    from pypdf.generic import DictionaryObject, StreamObject

    found: list[tuple[int, StreamObject]] = []
    looked = 0
    pending: list[tuple[object, int]] = [(page.get("/Resources"), 0)]
    while pending and looked < _PDF_MAX_XOBJECTS:
        resources, depth = pending.pop()
        resources = _resolved(resources)
        xobjects = _resolved(resources.get("/XObject")) if isinstance(resources, DictionaryObject) else None
        if not isinstance(xobjects, DictionaryObject):
            continue
        for value in list(xobjects.values())[: _PDF_MAX_XOBJECTS - looked]:
            looked += 1
            xobject = _resolved(value)
            if not isinstance(xobject, StreamObject):
                continue
            if xobject.get("/Subtype") == "/Image":
                found.append((_checked_pixels(xobject), xobject))
            elif xobject.get("/Subtype") == "/Form" and depth < 3:
                pending.append((xobject.get("/Resources"), depth + 1))
    return found


def _checked_pixels(image: StreamObject) -> int:
    """An image XObject's pixel count from its dictionary; TooLargeToRead past MAX_PIXELS or, decoded,
    _PDF_MAX_IMAGE_BYTES (its soft mask's too)."""
    from pypdf.generic import BooleanObject, StreamObject

    width, height = _whole(image.get("/Width")), _whole(image.get("/Height"))
    stencil = _resolved(image.get("/ImageMask"))  # one bit a pixel, whatever else the dictionary says
    bits = 1 if isinstance(stencil, BooleanObject) and stencil.value else _whole(image.get("/BitsPerComponent"), 8)
    pixels = width * height
    decoded = math.ceil(width * _components(image.get("/ColorSpace")) * bits / 8) * height
    if pixels > MAX_PIXELS or decoded > _PDF_MAX_IMAGE_BYTES:
        raise TooLargeToRead(megapixels(pixels))
    mask = _resolved(image.get("/SMask"))
    if isinstance(mask, StreamObject) and mask is not image:
        _checked_pixels(mask)
    return pixels


def _components(space: object) -> int:
    from pypdf.generic import ArrayObject, DictionaryObject

    space = _resolved(space)
    if isinstance(space, ArrayObject) and space:
        family, detail = _resolved(space[0]), _resolved(space[1]) if len(space) > 1 else None
        if family == "/ICCBased" and isinstance(detail, DictionaryObject):
            return max(1, _whole(detail.get("/N"), 4))
        if family == "/DeviceN" and isinstance(detail, ArrayObject):
            return max(1, len(detail))
        space = family
    return _COMPONENTS.get(space, 4) if isinstance(space, str) else 4


def _whole(value: object, default: int = 0) -> int:
    """A non-negative whole number from a PDF dictionary value (`default` when it is not a number)."""
    value = _resolved(value)
    return max(0, int(value)) if isinstance(value, int | float) and not isinstance(value, bool) else default


def _resolved(value: object) -> object:
    from pypdf.generic import IndirectObject

    return value.get_object() if isinstance(value, IndirectObject) else value


def _render_dpi(width_pt: float, height_pt: float) -> int:
    """_RENDER_DPI, or less for a page so large that it would render past MAX_PIXELS."""
    pixels = abs(width_pt * height_pt) * (_RENDER_DPI / 72) ** 2
    if pixels <= MAX_PIXELS:
        return _RENDER_DPI
    return max(1, int(_RENDER_DPI * math.sqrt(MAX_PIXELS / pixels)))


def _open_image(path: Path) -> Image.Image:
    try:
        return open_image(path)
    except OcrUnavailable as exc:
        raise ReceiptUnreadable(str(exc)) from exc


def _prepared(image: Image.Image, *, min_width: int) -> bytes:
    """Grey, flattened on white, enlarged to min_width when narrower; as PNG bytes for Tesseract's stdin."""
    if image.width * image.height > MAX_PIXELS:  # a PDF's image whose dictionary understated it
        raise TooLargeToRead(megapixels(image.width * image.height))
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")  # transparent pixels are often black underneath: dark text would vanish
        image = Image.new("RGBA", rgba.size, "white")
        image.alpha_composite(rgba)
    grey = image.convert("L")
    if grey.width < min_width:
        scale = min_width / grey.width
        grey = grey.resize((min_width, round(grey.height * scale)), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    grey.save(buffer, "PNG", compress_level=1)  # piped straight to Tesseract: speed over size
    return buffer.getvalue()


def _ocr(image: Image.Image, name: str, args: tuple[str, ...], *, min_width: int, timeout: float) -> str:
    if not tesseract_available():
        raise ReceiptUnreadable("Tesseract is not installed (Debian: apt-get install tesseract-ocr).")
    try:
        return run_tesseract(_prepared(image, min_width=min_width), args, name=name, timeout=timeout)
    except OcrUnavailable as exc:
        raise ReceiptUnreadable(str(exc)) from exc


# ------------------------------------------------------------------ fields from text


def extract_fields(text: str, *, date_order: DateOrder = DEFAULT_DATE_ORDER) -> ReceiptFields:
    """Total, currency, date and merchant from a receipt's text (no I/O; source is "text")."""
    return _extract(text, date_order=date_order).fields


@dataclass(frozen=True)
class _Reading:
    """Fields with how firmly each was found (0 none … 3 labelled and confirmed), to choose between OCR passes."""

    fields: ReceiptFields
    total: int
    date: int
    merchant: int


def _extract(text: str, *, date_order: DateOrder) -> _Reading:
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lines = [line for line in lines if line]
    total, total_line, total_confidence = _find_total(lines)
    found_date, date_confidence = _find_date(lines, date_order=date_order)
    merchant, merchant_confidence = _find_merchant(lines)
    fields = ReceiptFields(
        total=total,
        currency=_find_currency(lines, total_line),
        date=found_date,
        merchant=merchant,
        text=text,
        source="text",
    )
    return _Reading(fields, total_confidence, date_confidence, merchant_confidence)


# ---- amounts

# An amount has exactly two decimals (a comma decimal too: OCR and European receipts); thousands use commas.
# Not part of a date (25.12.2018), a longer number, or a percentage (6.00%).
_AMOUNT = re.compile(
    r"(?<![\d.,])(?P<neg>(?<![^\s(])-)?(?P<int>\d{1,3}(?:,\d{3})+|\d{1,7})\s?[.,]\s?(?P<dec>\d{2})(?![\d%]|[.,/:-]\d|\s?%)"
)
_MAX_TOTAL = Decimal("1000000")
# "12.5" at the end of a labelled line: OCR dropped the last digit (a trailing 0 is the one it drops most).
_ONE_DECIMAL = re.compile(r"(?<![\d.,])(?P<amount>\d{1,7}\.\d)\s*$")


def _amounts(line: str) -> list[Decimal]:
    found: list[Decimal] = []
    for match in _AMOUNT.finditer(line):
        try:
            value = Decimal(match["int"].replace(",", "") + "." + match["dec"])
        except InvalidOperation:
            continue
        found.append(-value if match["neg"] else value)
    return found


# OCR reads O for 0 and l/I for 1 inside words as often as in digits: the labels allow the common swaps.
_T = r"T[OA0Q]T[AE4][L1I|]"
_SUB = re.compile(rf"\bSUB[\s\-.]*{_T}|\b{_T}\s*(?:\(?EXCL|BEFORE|W/?O\b|NET\s+OF)|\bEXCLUDING\b|\bEXCL\b", re.I)
# Named as the final payable amount: after rounding or adjustment, grand, nett, due, payable.
_FINAL = re.compile(
    rf"""GRAND\s*{_T} | \bNET{{1,2}}\s*{_T} | {_T}\s*NET{{1,2}}\b | ROUND(?:ED|ING)?\s*{_T} | {_T}\s*ROUNDED
       | AFTER\s*(?:ROUND|ADJ) | {_T}\s*(?:AMOUNT\s*|AMT\s*)?(?:DUE|PAYABLE) | (?:AMOUNT|AMT|BALANCE)\s*(?:DUE|PAYABLE)
       | \bNET{{1,2}}\s*(?:AMOUNT|AMT|SALES?)\b | \bJUMLAH\b""",
    re.I | re.X,
)
# A total that says which taxes it includes is a total, but a rounded TOTAL may follow it.
_INCLUSIVE = re.compile(r"\bINCL|\bINC\.?\s*(?:GST|SST|TAX|VAT)|\bWITH\s+(?:GST|SST|TAX|VAT)", re.I)
_TOTAL = re.compile(rf"\b{_T}\b|\b{_T}(?=[:\d(]|RM)|\b{_T}\s*AM(?:OUN)?T\b", re.I)
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
        rest = _AMOUNT.sub("", following)
        if _amounts(following) and not re.search(r"[A-Za-z]{3,}", re.sub(r"\b(?:RM|MYR)\b", "", rest)):
            return _amounts(following)[-1]
    return None


def _find_total(lines: list[str]) -> tuple[Decimal | None, int | None, int]:
    """The final payable total, the index of its line and how firmly it was found: named totals first
    (grand/nett/rounded/due over a plain TOTAL; never subtotal, tax, change or cash tendered), confirmed by
    cash − change or a card payment of the same amount; otherwise the largest plausible amount low on the receipt."""
    candidates: list[tuple[float, int, Decimal]] = []
    cash: Decimal | None = None
    change: Decimal | None = None
    paid: list[Decimal] = []
    for index, line in enumerate(lines):
        amount = _line_amount(lines, index)
        if amount is None or amount <= 0 or amount >= _MAX_TOTAL:
            continue
        if _CHANGE.search(line) and not _FINAL.search(line):
            change = amount
            continue
        if _CASH.search(line) and not _TOTAL.search(line):
            cash = amount
            continue
        if _CARD.search(line) and not _TOTAL.search(line):
            paid.append(amount)
            continue
        if _SUB.search(line) or _NOT_TOTAL.search(line):
            continue
        if _FINAL.search(line):
            weight = 3.0
        elif _TOTAL.search(line) or _INCLUSIVE.search(line) and _AMOUNT_WORD.search(line):
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
        return weight + (1.5 if amount in evidence else 0.0), index

    if candidates:
        weight, index, amount = max(candidates, key=score)
        repeated = sum(other == amount for _, _, other in candidates) > 1
        confirmed = amount in evidence or repeated
        return amount, index, (3 if confirmed else 2) if weight >= 2 else 1
    if tendered is not None:
        return tendered, None, 1
    if paid:
        return paid[-1], None, 1
    largest, line_at = _fallback_total(lines)
    return largest, line_at, 0


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

_CURRENCIES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bRM(?=\s?\d)|\bRM\b|\bMYR\b|\bRINGGIT\b", re.I), "MYR"),
    (re.compile(r"\bS\$|\bSGD\b", re.I), "SGD"),
    (re.compile(r"\bUS\$|\bUSD\b", re.I), "USD"),
    (re.compile(r"\bA\$|\bAUD\b", re.I), "AUD"),
    (re.compile(r"€|\bEUR\b|\bEURO?S?\b", re.I), "EUR"),
    (re.compile(r"£|\bGBP\b", re.I), "GBP"),
    (re.compile(r"₹|\bINR\b|\bRs\.?(?=\s?\d)", re.I), "INR"),
    (re.compile(r"\bIDR\b|\bRp\.?(?=\s?\d)"), "IDR"),
    (re.compile(r"฿|\bTHB\b", re.I), "THB"),
    (re.compile(r"\bPHP\b|₱", re.I), "PHP"),
    (re.compile(r"\bJPY\b", re.I), "JPY"),
    (re.compile(r"\bCNY\b|\bRMB\b", re.I), "CNY"),
    (re.compile(r"¥"), "¥"),  # yen or yuan: like a bare "$", the caller decides
)
_DOLLAR = re.compile(r"\$\s?\d|\d\s?\$")


def _find_currency(lines: list[str], total_line: int | None = None) -> str | None:
    """The currency printed on the total's line, else the one printed most often; None when none is shown."""

    def on(line: str) -> list[str]:
        found = [code for pattern, code in _CURRENCIES if pattern.search(line)]
        if not found and _DOLLAR.search(line):
            found.append("$")  # a bare dollar sign: USD, SGD, AUD… the caller decides from the employee
        return found

    if total_line is not None:
        for index in (total_line, total_line + 1):
            if index < len(lines) and on(lines[index]):
                return on(lines[index])[0]
    counts: dict[str, int] = {}
    for line in lines:
        for code in on(line):
            counts[code] = counts.get(code, 0) + 1
    return max(counts, key=lambda code: counts[code]) if counts else None


# ---- dates

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("JAN", "JANUARY", "JANUARI"),
            ("FEB", "FEBRUARY", "FEBRUARI"),
            ("MAR", "MARCH", "MAC"),
            ("APR", "APRIL"),
            ("MAY", "MEI"),
            ("JUN", "JUNE"),
            ("JUL", "JULY", "JULAI"),
            ("AUG", "AUGUST", "OGOS"),
            ("SEP", "SEPT", "SEPTEMBER"),
            ("OCT", "OCTOBER", "OKT", "OKTOBER"),
            ("NOV", "NOVEMBER"),
            ("DEC", "DECEMBER", "DIS", "DISEMBER"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY_MONTH_YEAR = re.compile(
    rf"(?<![\dA-Z])(?P<d>\d{{1,2}})(?:ST|ND|RD|TH)?[\s\-/.,]*{_MONTH}[\s\-/.,']*(?P<y>\d{{4}}|\d{{2}})(?!\d)", re.I
)
_MONTH_DAY_YEAR = re.compile(
    rf"(?<![A-Z]){_MONTH}[\s\-/.]*(?P<d>\d{{1,2}})(?:ST|ND|RD|TH)?[,\s\-/.]+(?P<y>\d{{4}}|\d{{2}})(?!\d)", re.I
)
_YEAR_FIRST = re.compile(
    r"(?<![\w.,:/-])(?P<y>(?:19|20)\d{2})\s?[\-/.]\s?(?P<m>\d{1,2})\s?[\-/.]\s?(?P<d>\d{1,2})(?!\d)"
)
# Spaces are allowed only around slashes: "3-7 - 15" is a part number, "25 / 12 / 2018" a date.
_NUMERIC = re.compile(
    r"(?<![\w.,:/-])(?P<a>\d{1,2})(?:(?P<sep>[-.])|\s?(?P<slash>/)\s?)(?P<b>\d{1,2})"
    r"(?:(?P=sep)|\s?(?P=slash)\s?)(?P<y>\d{4}|\d{2})(?![\d,/-]|\.\d)"
)
_COMPACT = re.compile(r"(?<!\d)(?P<n>\d{8})(?!\d)")
_DATE_LABEL = re.compile(r"\bDATE\b|\bTARIKH\b|\bDT\b", re.I)
_TIME_AFTER = re.compile(r"^\W{0,3}\d{1,2}\s?[:.]\s?\d{2}\b")
_FIRST_YEAR = 1990


def _year(text: str) -> int:
    year = int(text)
    return year + 2000 if year < 100 else year  # two-digit years on receipts are this century


def _safe_date(year: int, month: int, day: int) -> date | None:
    # A receipt is not from the future (a year ahead allows for clocks and time zones): a later year is misread.
    if not _FIRST_YEAR <= year <= date.today().year + 1:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_date(text: str, *, date_order: DateOrder = DEFAULT_DATE_ORDER) -> date | None:
    """The first date written in text: 25/12/2018, 12-01-19, 15.03.2018, 15 MAR 2018, Mar 15, 2018, 2018-03-15.
    All-numeric forms are read in date_order (day first by default); when day-first or month-first gives an
    impossible date (a 13th month) the other is tried, so 12/25/2018 still reads as 25 December. Eight-digit
    runs (20180315, 15032018) count here, though not on a receipt line without a DATE label."""
    dates = _dates_in(text, date_order=date_order, compact=True)
    return dates[0][1] if dates else None


def _dates_in(text: str, *, date_order: DateOrder, compact: bool) -> list[tuple[int, date]]:
    """Every date in text with its position; eight-digit runs (20180315, 15032018) only when compact."""
    found: list[tuple[int, date]] = []
    taken: list[tuple[int, int]] = []

    def add(match: re.Match[str], value: date | None) -> None:
        span = match.span()
        if value is None or any(s < span[1] and span[0] < e for s, e in taken):
            return
        taken.append(span)
        found.append((span[0], value))

    for match in _DAY_MONTH_YEAR.finditer(text):
        add(match, _safe_date(_year(match["y"]), _MONTHS[match["mon"].upper()], int(match["d"])))
    for match in _MONTH_DAY_YEAR.finditer(text):
        add(match, _safe_date(_year(match["y"]), _MONTHS[match["mon"].upper()], int(match["d"])))
    for match in _YEAR_FIRST.finditer(text):
        add(match, _safe_date(int(match["y"]), int(match["m"]), int(match["d"])))
    for match in _NUMERIC.finditer(text):
        a, b, year = int(match["a"]), int(match["b"]), _year(match["y"])
        if date_order == "MDY":
            add(match, _safe_date(year, a, b) or _safe_date(year, b, a))
        elif date_order == "DMY":
            add(match, _safe_date(year, b, a) or _safe_date(year, a, b))
        elif len(match["y"]) == 2:  # YMD: 18/03/15 is 15 March 2018
            add(match, _safe_date(_year(match["a"]), b, int(match["y"])))
        else:  # a four-digit year last cannot be read year first
            add(match, _safe_date(year, b, a) or _safe_date(year, a, b))
    if compact:
        for match in _COMPACT.finditer(text):
            n = match["n"]
            add(
                match,
                _safe_date(int(n[:4]), int(n[4:6]), int(n[6:])) or _safe_date(int(n[4:]), int(n[2:4]), int(n[:2])),
            )
    found.sort()
    return found


def _find_date(lines: list[str], *, date_order: DateOrder) -> tuple[date | None, int]:
    """The receipt's date and how firmly it was found: one on a line labelled DATE first, then one printed
    with a time (the till's timestamp), else the first date printed."""
    first: date | None = None
    timed: date | None = None
    for index, line in enumerate(lines):
        labelled = bool(_DATE_LABEL.search(line))
        dates = _dates_in(line, date_order=date_order, compact=labelled)
        if not dates and labelled and index + 1 < len(lines):
            dates = _dates_in(lines[index + 1], date_order=date_order, compact=False)
        if dates and labelled:
            return dates[0][1], 3
        for position, value in dates:
            first = first or value
            if timed is None and _TIME_AFTER.search(_after_date(line, position)):
                timed = value
    return (timed, 2) if timed else (first, 1 if first else 0)


def _after_date(line: str, position: int) -> str:
    """The text after the date starting at position (its first run of non-space characters skipped)."""
    return re.sub(r"^\S+(?:\s[A-Za-z]{3,9}\.?\s\d{2,4})?", "", line[position:], count=1)


# ---- merchant

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
       |POS|DOC|OPEN|HOURS|BRANCH\s+NO)\b|@|\.COM\b""",
    re.I | re.X,
)
# A company registration number after the name: (1234567-K), (JM0123456-X), CO. NO. 123456-A.
_REG_NUMBER = re.compile(
    r"[\(\[]?\s*(?:CO\.?\s*(?:REG\.?\s*)?NO\.?\s*:?\s*)?[A-Z]{0,3}\d{3,}[\s\-]*[A-Z]?\s*[\)\]]?\s*$", re.I
)
_MERCHANT_LINES = 8  # the name is printed at the top; past this, lines are items and totals


def _letters(line: str) -> int:
    return sum(c.isalpha() for c in line)


def _name_like(line: str) -> bool:
    letters = _letters(line)
    digits = sum(c.isdigit() for c in line)
    priced = _AMOUNT.search(line) or _TOTAL.search(line)  # an item or a total line, not a heading
    return letters >= 3 and letters >= 2 * digits and not _NOT_NAME.search(line) and not priced


def _clean_name(line: str) -> str:
    # Stray dots go, but not the one closing an abbreviation (Co., Bhd.).
    name = re.sub(r"^\.+|(?<![A-Za-z])\.+$", "", _REG_NUMBER.sub("", line).strip(" -:,*|")).strip(" -:,*|")
    name = _SDN_BHD.sub("SDN BHD", name)
    return " ".join(name.split())


_SDN_BHD = re.compile(r"\bS[O0D][NM][.,]?\s*BHD\b", re.I)  # "SON BHD": OCR's commonest misreading of SDN BHD
_SUFFIX_ONLY = re.compile(r"^\W*(?:SDN\.?\s*BHD|BHD|BERHAD|S/B|LTD|LIMITED|PTE\.?\s*LTD|INC)\W*$", re.I)
_LINKED = re.compile(r"(?:&|\bAND|-)$")
_LINKING = re.compile(r"^(?:&|\(|AND\b)", re.I)


def _uppercase(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    return bool(letters) and sum(c.isupper() for c in letters) >= 0.7 * len(letters)


def _find_merchant(lines: list[str]) -> tuple[str | None, int]:
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
        return _letters(line) >= 3 and not (address or _NOT_NAME.search(line) or _AMOUNT.search(line))

    start = next((i for i, line in enumerate(top) if _BUSINESS.search(line) and usable(line)), None)
    confidence = 2
    if start is None:
        confidence = 1
        plain = [i for i, line in enumerate(top) if _name_like(line) and not _ADDRESS.search(line)]
        start = next((i for i in plain if _uppercase(top[i])), plain[0] if plain else None)
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
