"""Receipt fields (total, currency, date, merchant) from a photo, a scan or a PDF: the PDF's text layer, RapidOCR
or Tesseract reads the text, then plain rules pick the fields out of it. Nothing here is trusted blindly: the
expense card shows what was read so the employee confirms or corrects it."""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from integrations.files import IMAGE_KINDS, TooLargeToRead, megapixels
from integrations.ocr import MAX_PIXELS, OcrUnavailable, open_image, run_tesseract, tesseract_available
from integrations.rapid_ocr import rapidocr_available, read_lines
from skills.expenses.receipt_dates import DEFAULT_DATE_ORDER, DateOrder, dates_in, find_date
from skills.expenses.receipt_merchants import find_merchant
from skills.expenses.receipt_totals import find_currency, find_total

if TYPE_CHECKING:
    from pypdf import PageObject, PdfReader
    from pypdf.generic import StreamObject

# RapidOCR reads first and alone: on the development half of SROIE (even-numbered receipts) its PP-OCRv4 models read
# 0.94 of totals, 0.96 of dates and 0.78 of names where Tesseract's readings below read 0.88, 0.94 and 0.72 (see
# docs/benchmarks.md). Tesseract's first reading as a second opinion when RapidOCR left a field unlabelled or found
# no currency, merged by the firmness rules, gained nothing there and cost a total (0.92), so it is not asked.
# Tesseract reads as before when RapidOCR is not installed, fails or reads nothing.
# Two Tesseract readings, measured with `backoffice eval receipts` on 100 scanned receipts (SROIE): --psm 6 (one
# uniform block) at the scan's own size reads the header and keeps each label on a line with its right-aligned
# amount; --psm 4 (one column) with narrow scans enlarged to 1600 px reads differently enough that its errors
# are partly independent, so it runs when the first reading leaves a field unlabelled or finds no currency, and
# the firmer reading of each field wins. --psm 11 (sparse text, what screenshots use) scatters labels and amounts:
# with the same rules it read 0.63 of totals and 0.70 of dates where --psm 6 read 0.75 and 0.83. Tried on the
# development half (even-numbered receipts) and left out: the whole scan enlarged 1.5x or 2x, or to 1600 px, for
# the first reading (fewer totals and dates, up to twice the time), a binarised or enlarged crop of the header
# for the name (one name more, 0.2 s more), --dpi 300 (no change).
_FIRST_PASS = (("--psm", "6", "-l", "eng"), 0)
_SECOND_PASS = (("--psm", "4", "-l", "eng"), 1600)
# When neither reading finds a date: --psm 6 again with the scan enlarged 1.5x, whose slips on small digits differ
# (on the development half it found one date of the four still missing, at 0.01 s a receipt on average).
_DATE_PASS = (("--psm", "6", "-l", "eng"), 1.5)
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
    """RapidOCR's reading; Tesseract's when RapidOCR is missing, fails or reads nothing, within the same time."""
    if image.width * image.height > MAX_PIXELS:  # a PDF's image whose dictionary understated it
        raise TooLargeToRead(megapixels(image.width * image.height))
    deadline = time.monotonic() + timeout
    if rapidocr_available():
        try:
            lines = read_lines(image, timeout=timeout)
        except OcrUnavailable as exc:
            if deadline - time.monotonic() < 1.0:  # its time is spent: Tesseract would only overrun it
                raise ReceiptUnreadable(str(exc)) from exc
            lines = []
        if lines:
            return _with_source(_extract("\n".join(lines), date_order=date_order).fields, "ocr")
    return _read_with_tesseract(image, name, deadline=deadline, date_order=date_order)


def _read_with_tesseract(image: Image.Image, name: str, *, deadline: float, date_order: DateOrder) -> ReceiptFields:
    """Tesseract in one to three passes (see _FIRST_PASS, _DATE_PASS)."""
    args, min_width = _FIRST_PASS
    timeout = max(deadline - time.monotonic(), 1.0)
    first = _extract(_ocr(image, name, args, min_width=min_width, timeout=timeout), date_order=date_order)
    if min(first.total, first.date, first.merchant) >= _FIRM and first.fields.currency:
        return _with_source(first.fields, "ocr")
    args, min_width = _SECOND_PASS
    try:
        text = _ocr(image, name, args, min_width=min_width, timeout=max(deadline - time.monotonic(), 1.0))
    except ReceiptUnreadable:
        return _with_source(first.fields, "ocr")  # the first reading stands on its own
    fields = _merged(first, _extract(text, date_order=date_order))
    if fields.date is not None:
        return fields
    args, scale = _DATE_PASS
    try:
        text = _ocr(image, name, args, min_width=0, scale=scale, timeout=max(deadline - time.monotonic(), 1.0))
    except ReceiptUnreadable:
        return fields
    found_date = _extract(text, date_order=date_order).fields.date
    if found_date is None:
        return fields
    return replace(fields, date=found_date, text=f"{fields.text}\n\n— reading for the date —\n{text}", source="ocr")


def _merged(first: _Reading, second: _Reading) -> ReceiptFields:
    """Each field from the reading that found it more firmly (the first on a tie)."""
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


def _prepared(image: Image.Image, *, min_width: int, scale: float = 1) -> bytes:
    """Grey, flattened on white, enlarged by scale (within MAX_PIXELS) and to min_width when narrower; as PNG
    bytes for Tesseract's stdin."""
    if image.width * image.height > MAX_PIXELS:  # a PDF's image whose dictionary understated it
        raise TooLargeToRead(megapixels(image.width * image.height))
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")  # transparent pixels are often black underneath: dark text would vanish
        image = Image.new("RGBA", rgba.size, "white")
        image.alpha_composite(rgba)
    grey = image.convert("L")
    if scale != 1 and grey.width * grey.height * scale**2 <= MAX_PIXELS:
        grey = grey.resize((round(grey.width * scale), round(grey.height * scale)), Image.Resampling.LANCZOS)
    if grey.width < min_width:
        scale = min_width / grey.width
        grey = grey.resize((min_width, round(grey.height * scale)), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    grey.save(buffer, "PNG", compress_level=1)  # piped straight to Tesseract: speed over size
    return buffer.getvalue()


def _ocr(
    image: Image.Image, name: str, args: tuple[str, ...], *, min_width: int, timeout: float, scale: float = 1
) -> str:
    if not tesseract_available():
        raise ReceiptUnreadable("Tesseract is not installed (Debian: apt-get install tesseract-ocr).")
    try:
        return run_tesseract(_prepared(image, min_width=min_width, scale=scale), args, name=name, timeout=timeout)
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
    total, total_line, total_confidence = find_total(lines)
    found_date, date_confidence = find_date(lines, date_order=date_order)
    merchant, merchant_confidence = find_merchant(lines)
    fields = ReceiptFields(
        total=total,
        currency=find_currency(lines, total_line),
        date=found_date,
        merchant=merchant,
        text=text,
        source="text",
    )
    return _Reading(fields, total_confidence, date_confidence, merchant_confidence)


def parse_date(text: str, *, date_order: DateOrder = DEFAULT_DATE_ORDER) -> date | None:
    """The first date written in text: 25/12/2018, 12-01-19, 15.03.2018, 15 MAR 2018, Mar 15, 2018, 2018-03-15.
    All-numeric forms are read in date_order (day first by default); when day-first or month-first gives an
    impossible date (a 13th month) the other is tried, so 12/25/2018 still reads as 25 December. Eight-digit
    runs (20180315, 15032018) count here, though not on a receipt line without a DATE label."""
    dates = dates_in(text, date_order=date_order, compact=True)
    return dates[0][1] if dates else None
