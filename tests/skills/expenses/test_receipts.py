"""Receipt fields: the text rules on receipts written here, reading rendered images and generated PDFs end to end,
and `backoffice eval receipts` over a folder made in tmp_path. Every merchant, amount and date here is invented."""

from __future__ import annotations

import json
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from typer.testing import CliRunner, Result

from bot.cli import app
from integrations.ocr import OcrUnavailable
from skills.expenses import receipts
from skills.expenses.evals import company_tokens, token_f1
from skills.expenses.receipt_dates import DateOrder
from skills.expenses.receipts import ReceiptUnreadable, extract_fields, parse_date, read_receipt
from tests.knowledge.test_loaders import make_pdf

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
)


# ------------------------------------------------------------------ extract_fields on written receipts

GROCER = """\
KEDAI RUNCIT SRI MELATI SDN BHD
(1234567-K)
NO. 12, JALAN MAWAR 3,
TAMAN BUNGA RAYA, 43000 KAJANG
TEL: 03-8736 1122
GST ID: 000123456789
TAX INVOICE
DATE: 14/04/2018 TIME: 13:05
ITEM QTY AMOUNT
MINERAL WATER 2 3.00
ROTI GARDENIA 1 4.27
SUB TOTAL 7.27
GST 6% 0.44
ROUNDING ADJ -0.01
TOTAL (RM) 7.70
CASH 10.00
CHANGE 2.30
"""

RESTAURANT = """\
RESTORAN NASI KANDAR PELITA JAYA
Lot 5, Jalan Ampang, 50450 Kuala Lumpur
15 MAR 2018 19:42
Table 7 Pax 2
Nasi Kandar 2 x 12.50 25.00
Teh Tarik 2 x 2.80 5.60
Subtotal 30.60
Service Charge 10% 3.06
SST 6% 2.02
GRAND TOTAL RM 35.68
VISA 35.68
"""

COFFEE_US = """\
Blue Heron Coffee Co.
412 Main Street
Portland, OR 97204
(503) 555-0187
04/05/2018 8:14 AM
Latte 4.50
Bagel 3.25
Subtotal $7.75
Tax $0.62
Amount Due $8.37
Card Tendered $8.37
Change $0.00
"""

CAFE_BERLIN = """\
Café Lindenhof GmbH
Lindenstraße 4, 10969 Berlin
15.03.2018 12:31
2x Espresso 5,00
1x Apfelkuchen 3,90
Total EUR 8,90
incl. MwSt 19% 1,42
"""

BOOKSHOP_UK = """\
THE CORNER BOOKSHOP LTD
22 High Street, Oxford OX1 4AH
VAT No. GB 123 4567 89
2018-03-15 10:02
Paperback Novel 8.99
Notebook 4.50
Discount -1.00
Total before VAT 10.41
VAT 20% 2.08
BALANCE DUE £12.49
Card payment £12.49
"""

# The label and its amount on separate lines, as OCR sometimes splits them; Malay labels.
KEDAI_MALAY = """\
SYARIKAT PERNIAGAAN MAJU JAYA
No 8, Jalan Besar, 83000 Batu Pahat
Tarikh: 02-01-19
Barang 3 18.00
JUMLAH
RM 18.00
TUNAI RM 20.00
BAKI RM 2.00
"""

# An inclusive total, then rounding and the rounded TOTAL, then a GST summary whose last column is the tax.
ROUNDED = """\
WARUNG KOPI SEDAP ENTERPRISE (JM0123456-X)
NO 3, JALAN KENANGA 1, 81300 SKUDAI
GST REG NO: 000987654321
Date: 09/02/2018 Time: 08:15
Kopi O 3 x 1.80 5.40
Roti Bakar 2 x 3.50 7.00
Nasi Lemak 2 x 4.95 9.90
Total Sales (Excluding GST) 21.94
Total GST 1.32
Total Sales (Inclusive of GST) 23.26
Rounding -0.01
TOTAL 23.25
Cash 50.00
Change 26.75
GST Summary Amount Tax
SR @ 6% 21.94 1.32
Total 21.94 1.32
"""

# No total line: cash less change is the total.
PASAR = """\
PASAR MINI SEGAR
Jalan Pasar 2, 81100 Johor Bahru
12/01/2019 09:15
Sayur 3.50
Ikan 12.80
Telur 6.20
22.50
CASH 50.00
CHANGE 27.50
"""

# No label and no payment lines: the largest amount low on the receipt.
HARDWARE = """\
Hock Seng Hardware
Lot 7, Jalan Kilang, 70200 Seremban
Paint 1L 25.90
Brush 7.50
Sandpaper 2.00
35.40
Thank you, please come again
"""

# A name wrapped over two lines, with the address under it.
WRAPPED = """\
HOME & LIVING HARDWARE &
ELECTRICAL TRADING
No. 3, Jalan Industri 5, 40150 Shah Alam
Tel: 03-5510 2233
Date: 28 Feb 2018
Paint Roller 1 12.90
TOTAL AMOUNT PAYABLE - 12.90
"""

# Headings and a lower-case line before a name with no company word; counts and discounts named TOTAL.
HEADINGS = """\
*** WELCOME ***
TAX INVOICE
served by siti
NASI LEMAK ANTARABANGSA
12 Jalan Raja Muda, 50300 Kuala Lumpur
Receipt 0042 Mar 3, 2018 12:05
TOTAL QTY: 3
TOTAL DISCOUNT 100.00
NETT TOTAL RM 1,249.00
"""

# Nothing but a total: no date, no currency, no name.
BARE = """\
0001 1 x 4.00
TOTAL 4.00
"""

# OCR's usual misreadings: SON BHD for SDN BHD, T0TAL for TOTAL, a time and an address number before the date.
OCR_NOISE = """\
PERCETAKAN ANGKASA SON BHD
2, JALAN 3/4 , 43650 BANDAR BARU BANGI
PART KX04-6 - 12
Inv 1001 21/06/2018 14:22
Kertas A4 2 11.50 23.00
T0TAL : 23.00
"""

CASES = {
    "grocer": (GROCER, Decimal("7.70"), "MYR", date(2018, 4, 14), "KEDAI RUNCIT SRI MELATI SDN BHD"),
    "restaurant": (RESTAURANT, Decimal("35.68"), "MYR", date(2018, 3, 15), "RESTORAN NASI KANDAR PELITA JAYA"),
    "coffee": (COFFEE_US, Decimal("8.37"), "$", date(2018, 5, 4), "Blue Heron Coffee Co."),
    "berlin": (CAFE_BERLIN, Decimal("8.90"), "EUR", date(2018, 3, 15), "Café Lindenhof GmbH"),
    "bookshop": (BOOKSHOP_UK, Decimal("12.49"), "GBP", date(2018, 3, 15), "THE CORNER BOOKSHOP LTD"),
    "malay": (KEDAI_MALAY, Decimal("18.00"), "MYR", date(2019, 1, 2), "SYARIKAT PERNIAGAAN MAJU JAYA"),
    "rounded": (ROUNDED, Decimal("23.25"), None, date(2018, 2, 9), "WARUNG KOPI SEDAP ENTERPRISE"),
    "pasar": (PASAR, Decimal("22.50"), None, date(2019, 1, 12), "PASAR MINI SEGAR"),
    "hardware": (HARDWARE, Decimal("35.40"), None, None, "Hock Seng Hardware"),
    "wrapped": (WRAPPED, Decimal("12.90"), None, date(2018, 2, 28), "HOME & LIVING HARDWARE & ELECTRICAL TRADING"),
    "headings": (HEADINGS, Decimal("1249.00"), "MYR", date(2018, 3, 3), "NASI LEMAK ANTARABANGSA"),
    "bare": (BARE, Decimal("4.00"), None, None, None),
    "ocr-noise": (OCR_NOISE, Decimal("23.00"), None, date(2018, 6, 21), "PERCETAKAN ANGKASA SDN BHD"),
}


@pytest.mark.parametrize("name", CASES)
def test_extract_fields(name: str) -> None:
    text, total, currency, day, merchant = CASES[name]
    fields = extract_fields(text)
    assert (fields.total, fields.currency, fields.date, fields.merchant) == (total, currency, day, merchant)
    assert isinstance(fields.total, Decimal | None)
    assert fields.text == text


def test_the_date_order_is_a_parameter() -> None:
    assert extract_fields(COFFEE_US).date == date(2018, 5, 4)  # day first by default
    assert extract_fields(COFFEE_US, date_order="MDY").date == date(2018, 4, 5)
    # Unambiguous forms read the same in any order.
    assert extract_fields(BOOKSHOP_UK, date_order="MDY").date == date(2018, 3, 15)


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        ("25/12/2018", "DMY", date(2018, 12, 25)),
        ("12-01-19", "DMY", date(2019, 1, 12)),
        ("15 MAR 2018", "DMY", date(2018, 3, 15)),
        ("15-Mar-18", "DMY", date(2018, 3, 15)),
        ("2018-03-15", "MDY", date(2018, 3, 15)),
        ("15.03.2018", "DMY", date(2018, 3, 15)),
        ("March 15, 2018", "DMY", date(2018, 3, 15)),
        ("5/3/2018", "DMY", date(2018, 3, 5)),
        ("5/3/2018", "MDY", date(2018, 5, 3)),
        ("12/25/2018", "DMY", date(2018, 12, 25)),  # no 25th month: the other order
        ("18/03/15", "YMD", date(2018, 3, 15)),
        ("20180315", "DMY", date(2018, 3, 15)),
        ("15032018", "DMY", date(2018, 3, 15)),
        ("31/02/2018", "DMY", None),
        ("21 Jun 2067", "DMY", None),  # from the future: a misread year
        ("Part 04-6 - 12", "DMY", None),
    ],
)
def test_parse_date(text: str, order: DateOrder, expected: date | None) -> None:
    assert parse_date(text, date_order=order) == expected


def test_amounts_in_dates_and_percentages_are_not_totals() -> None:
    fields = extract_fields("SHOP ENTERPRISE\n15.03.2018\nGST 6.00%\nTotal 12.00\n")
    assert fields.total == Decimal("12.00")
    assert extract_fields("SHOP ENTERPRISE\n15.03.2018 10:00\n6.00%\n").total is None


def test_company_comparison_helpers() -> None:
    assert company_tokens("K.L. Supplies (Kajang) Sdn. Bhd.") == ["kl", "supplies", "kajang", "sdn", "bhd"]
    assert token_f1(["sri", "melati", "sdn", "bhd"], ["kedai", "sri", "melati", "sdn", "bhd"]) == pytest.approx(8 / 9)
    assert token_f1([], ["a"]) == 0.0


# ------------------------------------------------------------------ read_receipt on rendered files


def font(px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A system TrueType font, else Pillow's bundled one (also TrueType when Pillow has FreeType)."""
    for candidate in FONT_CANDIDATES:
        if Path(candidate).exists():
            return ImageFont.truetype(candidate, px)
    return ImageFont.load_default(size=px)


def render_receipt(lines: list[tuple[str, str]], *, width: int = 720, px: int = 24) -> Image.Image:
    """A till receipt as a scanner would give it: labels on the left, amounts right-aligned, black on white."""
    face = font(px)
    step = int(px * 1.6)
    image = Image.new("RGB", (width, 60 + step * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for row, (left, right) in enumerate(lines):
        y = 30 + row * step
        draw.text((30, y), left, font=face, fill="black")
        if right:
            draw.text((width - 30 - draw.textlength(right, font=face), y), right, font=face, fill="black")
    return image


SHOP_LINES = [
    ("KEDAI BUKU CAHAYA SDN BHD", ""),
    ("NO. 8, JALAN MERANTI 2,", ""),
    ("47301 PETALING JAYA", ""),
    ("TEL: 03-7781 2200", ""),
    ("DATE: 21/06/2018 TIME: 14:22", ""),
    ("BUKU LATIHAN 2 x 11.50", "23.00"),
    ("PEN BIRU 3 x 1.20", "3.60"),
    ("SUB TOTAL", "26.60"),
    ("GST 6%", "1.60"),
    ("TOTAL (RM)", "28.20"),
    ("CASH", "50.00"),
    ("CHANGE", "21.80"),
]
CAFE_LINES = [
    ("RESTORAN SELERA KAMPUNG", ""),
    ("LOT 2, JALAN SERI INDAH, 80250 JOHOR BAHRU", ""),
    ("15 MAR 2018 19:42", ""),
    ("NASI AYAM 2 x 8.50", "17.00"),
    ("TEH AIS 2 x 2.50", "5.00"),
    ("GRAND TOTAL", "RM 22.00"),
    ("VISA", "22.00"),
]


def test_read_receipt_from_a_rendered_png_and_jpeg(tesseract: None, tmp_path: Path) -> None:
    image = render_receipt(SHOP_LINES)
    for kind, suffix in (("png", ".png"), ("jpeg", ".jpg")):
        path = tmp_path / f"receipt{suffix}"
        image.save(path)
        fields = read_receipt(path, kind)
        assert fields.source == "ocr"
        assert fields.total == Decimal("28.20"), fields.text
        assert fields.currency == "MYR"
        assert fields.date == date(2018, 6, 21)
        assert fields.merchant == "KEDAI BUKU CAHAYA SDN BHD"
        assert "BUKU LATIHAN" in fields.text


def test_tesseract_reads_when_rapidocr_cannot(tesseract: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(image: Image.Image, *, timeout: float) -> list[str]:
        raise OcrUnavailable("RapidOCR failed: no models")

    monkeypatch.setattr(receipts, "read_lines", broken)
    path = tmp_path / "receipt.png"
    render_receipt(SHOP_LINES).save(path)
    fields = read_receipt(path, "png")
    assert (fields.source, fields.total, fields.date) == ("ocr", Decimal("28.20"), date(2018, 6, 21)), fields.text
    assert fields.merchant == "KEDAI BUKU CAHAYA SDN BHD"


def test_a_receipt_past_its_time_is_not_read_again_by_tesseract(tmp_path: Path) -> None:
    path = tmp_path / "receipt.png"
    render_receipt(SHOP_LINES).save(path)
    started = time.monotonic()
    with pytest.raises(ReceiptUnreadable, match="took longer than"):
        read_receipt(path, "png", ocr_timeout=0.01)
    assert time.monotonic() - started < 5.0  # no Tesseract passes after the time is spent (slack, not a target)


def test_read_receipt_from_a_scanned_pdf_without_a_text_layer(tesseract: None, tmp_path: Path) -> None:
    # Pillow writes the page as one embedded image, as a scanner does; with no pdftoppm on the machine the
    # embedded image is what gets read.
    path = tmp_path / "scan.pdf"
    render_receipt(CAFE_LINES).save(path, "PDF", resolution=150)
    fields = read_receipt(path, "pdf")
    assert fields.source == "ocr"
    assert (fields.total, fields.date, fields.merchant) == (
        Decimal("22.00"),
        date(2018, 3, 15),
        "RESTORAN SELERA KAMPUNG",
    ), fields.text


def test_read_receipt_from_a_pdf_text_layer(tmp_path: Path) -> None:
    path = tmp_path / "invoice.pdf"
    path.write_bytes(make_pdf([GROCER]))
    fields = read_receipt(path, "pdf")
    assert fields.source == "pdf-text"
    assert (fields.total, fields.currency, fields.date) == (Decimal("7.70"), "MYR", date(2018, 4, 14))
    assert fields.merchant == "KEDAI RUNCIT SRI MELATI SDN BHD"


def test_read_receipt_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    blank = tmp_path / "blank.pdf"
    blank.write_bytes(make_pdf([""]))
    with pytest.raises(ReceiptUnreadable, match="no text layer"):
        read_receipt(blank, "pdf")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\nnot really a pdf")
    with pytest.raises(ReceiptUnreadable):
        read_receipt(broken, "pdf")
    notes = tmp_path / "notes.txt"
    notes.write_text("TOTAL 4.00")
    with pytest.raises(ReceiptUnreadable, match="not an image or a PDF"):
        read_receipt(notes, "text")


def test_read_receipt_of_a_corrupt_image(tesseract: None, tmp_path: Path) -> None:
    path = tmp_path / "cut.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(ReceiptUnreadable, match="could not be decoded"):
        read_receipt(path, "png")


# ------------------------------------------------------------------ backoffice eval receipts

ENV = {"COLUMNS": "200", "NO_COLOR": "1", "BACKOFFICE_LLM": ""}


def run(*args: str) -> Result:
    return CliRunner().invoke(app, ["eval", "receipts", *args], env=ENV)


def squashed(text: str) -> str:
    return "".join(text.split())


def write_key(path: Path, company: str, day: str, total: str) -> None:
    path.write_text(json.dumps({"company": company, "date": day, "address": "", "total": total}), encoding="utf-8")


@pytest.fixture
def sroie_like(tmp_path: Path) -> Path:
    """img/NNN + key/NNN.json: two rendered receipts, one key with an empty total, one image with no key."""
    root = tmp_path / "receipts"
    (root / "img").mkdir(parents=True)
    (root / "key").mkdir()
    render_receipt(SHOP_LINES).save(root / "img" / "000.jpg")
    write_key(root / "key" / "000.json", "KEDAI BUKU CAHAYA SDN. BHD.", "21/06/2018", "28.20")
    render_receipt(CAFE_LINES).save(root / "img" / "001.png")
    write_key(root / "key" / "001.json", "RESTORAN SELERA KAMPUNG", "15-03-18", "")
    render_receipt(CAFE_LINES).save(root / "img" / "002.png")  # no key: not part of the eval
    return root


def test_eval_receipts_prints_the_figures_and_json(tesseract: None, sroie_like: Path) -> None:
    result = run(str(sroie_like), "--json", "--show-misses")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["receipts"] == 2
    assert figures["graded"] == {"total": 1, "date": 2, "company": 2, "currency": 0}
    # No box/NNN.csv transcripts here: the currency is not graded.
    assert figures["skipped"] == {"total": 1, "date": 0, "company": 0, "currency": 2}
    assert figures["currency_accuracy"] is None
    assert figures["total_accuracy"] == 1.0
    assert figures["date_accuracy"] == 1.0
    assert figures["company_exact"] == 1.0  # punctuation and case do not count
    assert figures["company_lenient_f1_0_8"] == 1.0
    assert figures["unreadable"] == 0
    assert 0 < figures["seconds_per_receipt"] < 60
    shown = squashed(result.stdout)
    assert "total(tothecent)" in shown and "companytokenF1≥0.8" in shown and "secondsperreceipt" in shown


def test_eval_receipts_side_by_side_with_misses_and_limit(tmp_path: Path) -> None:
    # Text-layer PDFs next to their keys: no OCR needed.
    (tmp_path / "a.pdf").write_bytes(make_pdf([GROCER]))
    write_key(tmp_path / "a.json", "Kedai Runcit Sri Melati Sdn Bhd", "14 APR 2018", "RM 7.70")
    (tmp_path / "b.pdf").write_bytes(make_pdf([BOOKSHOP_UK]))
    write_key(tmp_path / "b.json", "THE CORNER BOOKSHOP", "20180316", "12.50")
    result = run(str(tmp_path), "--json", "--show-misses")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert (figures["receipts"], figures["total_accuracy"], figures["date_accuracy"]) == (2, 0.5, 0.5)
    assert (figures["company_exact"], figures["company_lenient_f1_0_8"]) == (0.5, 1.0)  # F1 0.86 on b
    shown = squashed(result.stdout)
    assert "'receipt':'b.pdf'" in shown and "'expected':'12.50','got':'12.49'" in shown
    limited = run(str(tmp_path), "--json", "--limit", "1")
    assert limited.exit_code == 0, limited.output
    assert json.loads(limited.stdout.strip().splitlines()[-1])["receipts"] == 1


def test_eval_receipts_bad_folder_exits_2(tmp_path: Path) -> None:
    missing = run(str(tmp_path / "nope"))
    assert missing.exit_code == 2
    assert "isnotafolder" in squashed(missing.output)  # rich wraps a long path wherever the line ends
    empty = run(str(tmp_path))
    assert empty.exit_code == 2
    assert "noreceiptswithkeyfiles" in squashed(empty.output)
    (tmp_path / "a.pdf").write_bytes(make_pdf([GROCER]))
    (tmp_path / "a.json").write_text("{not json", encoding="utf-8")
    broken = run(str(tmp_path))
    assert broken.exit_code == 2
    assert "a.json" in squashed(broken.output)


def test_eval_receipts_help() -> None:
    result = CliRunner().invoke(app, ["eval", "receipts", "--help"], env=ENV)
    assert result.exit_code == 0
    for option in ("--json", "--limit", "--show-misses", "key/NNN.json"):
        assert option in result.output
