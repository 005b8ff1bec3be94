"""Receipt rules for OCR's slips (a misread digit, specks before a name, a name over two lines) and the currency
and halves of `backoffice eval receipts`. Every merchant, amount and date here is invented."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app
from skills.expenses.evals import gold_currency, receipt_pairs
from skills.expenses.receipts import extract_fields
from tests.knowledge.test_loaders import make_pdf

ENV = {"COLUMNS": "200", "NO_COLOR": "1", "BACKOFFICE_LLM": ""}


def merchant(text: str) -> str | None:
    return extract_fields(text).merchant


def total(text: str) -> Decimal | None:
    return extract_fields(text).total


# ------------------------------------------------------------------ merchant


def test_specks_before_an_upper_case_name_go() -> None:
    assert merchant("7 ee KILANG ROTI MERAH SDN BHD (123456-A)\nNO 3, JALAN API 2") == "KILANG ROTI MERAH SDN BHD"
    assert merchant("Bee WARUNG PAK ALI ENTERPRISE\nLOT 9, JALAN BUKIT") == "WARUNG PAK ALI ENTERPRISE"
    # A name written in title case keeps all its words.
    assert merchant("Kopi Pagi Sdn Bhd\n(998877-X)") == "Kopi Pagi SDN BHD"
    # A number that starts an upper-case name stays.
    assert merchant("88 MINI MART S/B\nJALAN TIGA") == "88 MINI MART S/B"


def test_words_glued_by_a_dot_part_and_initials_stay() -> None:
    assert merchant("GLOBAL WIDGETS.SDN BHD.\n(55501-P)") == "GLOBAL WIDGETS SDN BHD."
    assert merchant("A.B.C. TRADING\nJALAN EMPAT") == "A.B.C. TRADING"


def test_a_yen_sign_among_capitals_is_a_y() -> None:
    assert merchant("MR T.O.¥. (KLANG) SDN BHD\n(860671-D)") == "MR T.O.Y. (KLANG) SDN BHD"


def test_co_and_suffix_alone_join_the_line_above() -> None:
    assert merchant("GEMILANG PAPER\nCO. (M) SDN BHD\n(Co. No. 123456-W)") == "GEMILANG PAPER CO. (M) SDN BHD"


def test_a_registration_number_misread_is_still_cut() -> None:
    assert merchant("SINAR JAYA HARDWARE S/B (412345. X)\nLOT 4") == "SINAR JAYA HARDWARE S/B"


# ------------------------------------------------------------------ total


ADDED_UP = """\
TOKO BERKAT ENTERPRISE
Total Qty: 3 40.10
Total Sales (Excluding GST) 40.10
Total GST 2.41
Rounding 0.04
Total Sales (Inclusive of GST) 47.50
CASH 50.00
"""


def test_a_total_one_digit_off_its_sum_is_the_sum() -> None:
    # 40.10 + 2.41 = 42.51, rounded to 42.50 (the rounding's sign lost): the 7 was a misread 2.
    assert total(ADDED_UP) == Decimal("42.50")
    # A subtotal whose decimal point OCR lost still adds up.
    assert total(ADDED_UP.replace("GST) 40.10", "GST) 4010")) == Decimal("42.50")


def test_a_sum_far_from_the_total_or_with_a_discount_changes_nothing() -> None:
    assert total(ADDED_UP.replace("47.50", "55.55")) == Decimal("55.55")  # two digits apart: not a misread
    with_discount = ADDED_UP.replace("Total GST", "Discount 1.00\nTotal GST")
    assert total(with_discount) == Decimal("47.50")


def test_a_total_excluding_tax_misread_is_not_the_total() -> None:
    text = "KEDAI SATU\nTOTAL :RM 21.20\nTotal Exctuded Tax : 20.00\nCash 30.00"
    assert total(text) == Decimal("21.20")


def test_a_total_named_twice_outweighs_a_later_one() -> None:
    assert total("KEDAI DUA\nTotal 13.40\nTOTAL RM 13.40\nTotal 18.40") == Decimal("13.40")


# ------------------------------------------------------------------ eval: currency and halves


def test_gold_currency_from_a_transcript() -> None:
    assert gold_currency(["KEDAI", "TOTAL (RM): 5.00"]) == "MYR"
    assert gold_currency(["KEDAI", "TOTAL RM5.00"]) == "MYR"
    assert gold_currency(["KEDAI", "TOTAL $5.00"]) == "$"
    assert gold_currency(["KEDAI", "TOTAL 5.00", "FORMERLY KNOWN AS"]) is None


def _receipt(root: Path, stem: str, text: str, box: list[str] | None) -> None:
    (root / "img" / f"{stem}.pdf").write_bytes(make_pdf([text]))
    key = {"company": "KEDAI TIGA SDN BHD", "date": "02/05/2018", "total": "12.00"}
    (root / "key" / f"{stem}.json").write_text(json.dumps(key), encoding="utf-8")
    if box is not None:
        rows = [f"1,1,2,1,2,2,1,2,{line}" for line in box]
        (root / "box" / f"{stem}.csv").write_text("\n".join(rows), encoding="utf-8")


def test_eval_receipts_grades_the_currency_and_reads_one_half(tmp_path: Path) -> None:
    root = tmp_path / "receipts"
    for folder in ("img", "key", "box"):
        (root / folder).mkdir(parents=True)
    text = "KEDAI TIGA SDN BHD\nDATE: 02/05/2018\nTOTAL RM 12.00\n"
    _receipt(root, "000", text, ["KEDAI TIGA SDN BHD", "TOTAL RM 12.00"])
    _receipt(root, "001", text.replace("RM ", ""), ["KEDAI TIGA SDN BHD", "TOTAL RM 12.00"])  # not read
    _receipt(root, "002", text.replace("RM ", ""), ["KEDAI TIGA SDN BHD", "TOTAL 12.00"])  # none printed
    assert [pair[0].stem for pair in receipt_pairs(root, only="odd")] == ["001"]
    result = CliRunner().invoke(app, ["eval", "receipts", str(root), "--json", "--show-misses"], env=ENV)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert (figures["graded"]["currency"], figures["skipped"]["currency"]) == (2, 1)
    assert figures["currency_accuracy"] == 0.5
    shown = "".join(result.stdout.split())
    assert "currency(asprinted)" in shown and "'currency':{'expected':'MYR','got':None}" in shown
    even = CliRunner().invoke(app, ["eval", "receipts", str(root), "--json", "--only", "even"], env=ENV)
    assert even.exit_code == 0, even.output
    halved = json.loads(even.stdout.strip().splitlines()[-1])
    assert (halved["receipts"], halved["currency_accuracy"]) == (2, 1.0)


def test_a_logo_speck_is_not_the_name() -> None:
    assert merchant("KOen&\n41020 |\nBSK Maju Jaya Outlet\nS21, Second Floor,") == "BSK Maju Jaya Outlet"
    assert merchant("QWZ1EE\nKEDAI MAKAN SEDAP\n12, JALAN LIMA") == "KEDAI MAKAN SEDAP"


# ------------------------------------------------------------------ date and currency


def test_a_date_that_lost_a_separator() -> None:
    assert extract_fields("KEDAI\n_ 1904/2018 CS-1001\nTOTAL 5.00").date == date(2018, 4, 19)
    assert extract_fields("KEDAI\nDATE 19/042018\nTOTAL 5.00").date == date(2018, 4, 19)


def test_a_date_run_into_its_time() -> None:
    # OCR that loses the space between a till's date and time: a four-digit year then H:MM or HH:MM, a two-digit
    # year then HH:MM, a month name; the time still makes it the till's date, over an earlier one.
    assert extract_fields("KEDAI\n25/12/20188:13:39PM\nTOTAL 5.00").date == date(2018, 12, 25)
    assert extract_fields("KEDAI\n07-04-201914:05 T2 R0001\nTOTAL 5.00").date == date(2019, 4, 7)
    assert extract_fields("KEDAI\n03/05/1911:2040551\nTOTAL 5.00").date == date(2019, 5, 3)
    assert extract_fields("KEDAI\n09Jun201921:47\nTOTAL 5.00").date == date(2019, 6, 9)
    assert extract_fields("KEDAI\nEXP 01/01/2020\n02/03/20199:01\nTOTAL 5.00").date == date(2019, 3, 2)
    assert extract_fields("KEDAI\nDate:14/02/2019\nTOTAL 5.00").date == date(2019, 2, 14)  # a label's colon
    # Not a year and a time: a reference run into a number, or a year past the receipt's.
    assert extract_fields("KEDAI\nREF 2019123:45\nTOTAL 5.00").date is None


def test_a_code_outranks_a_bare_sign_and_glued_signs_are_specks() -> None:
    assert extract_fields("KEDAI\nITEM $6.00 6.00\nAMOUNT (RM)\nTOTAL 6.00").currency == "MYR"
    assert extract_fields("KEDAI\nPAPER A4 80GSM£ SR\nDisc $0.20 1.00\nTOTAL 9.00").currency == "$"
    assert extract_fields("Home of ¥ Bones\nTOTAL 9.00").currency is None


def test_a_subtotal_printed_once_corrects_nothing() -> None:
    # The subtotal may be the misread number: without a second print of it the total stands.
    assert total(ADDED_UP.replace("Total Qty: 3 40.10\n", "")) == Decimal("47.50")


def test_a_total_that_adds_up_is_firm() -> None:
    fields = extract_fields(ADDED_UP.replace("47.50", "42.50").replace("CASH 50.00", ""))
    assert fields.total == Decimal("42.50")


def test_suffixes_as_ocr_misreads_them() -> None:
    assert merchant("KEDAI EMAS SIN BHD\nLOT 2") == "KEDAI EMAS SDN BHD"
    assert merchant("77 FRESH MART S/H (123456-X)\nLOT 2") == "77 FRESH MART S/B"
    assert merchant("By . GOLDEN LEAF INTERNATIONAL-SDN BHD %\nLOT 2") == "GOLDEN LEAF INTERNATIONAL SDN BHD"
    assert merchant("SRI BULAN TRADING CoO\nLOT 2") == "SRI BULAN TRADING CoO"
    assert merchant("TANJUNG EMAS SDN BHD ; i\nLOT 2") == "TANJUNG EMAS SDN BHD"


def test_cash_less_change_outweighs_an_amount_column() -> None:
    text = "KEDAI EMPAT\nItem Price Amount 9.10\nTotal Sales (Excluding GST) : 20.00\nCASH : 50.00\nChange : 28.80"
    assert total(text) == Decimal("21.20")


def test_a_total_glued_to_its_next_word() -> None:
    assert total("KEDAI LIMA\nSubtotal: 30.00\nTotalAmtRounded 31.80\nChange Due : 8.20") == Decimal("31.80")


def test_a_total_in_the_tax_summary_is_not_the_receipt_total() -> None:
    text = "KEDAI ENAM\nTotal (RM): 53.00\nCash 60.00\nGST SUMMARY\nTax Code Amount GST\nTotal: 58.00 3.00"
    assert total(text) == Decimal("53.00")
    text = "KEDAI ENAM\nTotal (RM): 53.00\nGST SUMMARY\nTax Code Amount GST\nTotal: 58.00"
    assert total(text) == Decimal("53.00")


def test_signs_misread_from_letters_are_no_currency() -> None:
    assert extract_fields("KEDAI\nJALAN €Pajq\nTOTAL 5.00").currency is None
    assert extract_fields("KEDAI\nDoc No. : C$00025863\nTOTAL 5.00").currency is None
    assert extract_fields("KEDAI\nPAPER 80GSM £ SR\nTOTAL 5.00").currency is None
    assert extract_fields("CAFE\nTOTAL €5.00").currency == "EUR"


def test_dates_with_ocr_slips() -> None:
    assert extract_fields("KEDAI\nDate: * 7/4/32019: 10-11-12\nTOTAL 5.00").date == date(2019, 4, 7)
    assert extract_fields("KEDAI\n14-02- 19 15:16 SH01 ZK05\nTOTAL 5.00").date == date(2019, 2, 14)
    assert extract_fields("KEDAI\n14. 02-19 15:16 SH01\nTOTAL 5.00").date == date(2019, 2, 14)
    # Without a time after it, a spaced run of numbers is no date (a part number, a range).
    assert extract_fields("KEDAI\nPART 14-02- 19 BOX\nTOTAL 5.00").date is None


def test_the_date_reading_enlarges_the_scan() -> None:
    from io import BytesIO

    from PIL import Image

    from skills.expenses.receipts import _prepared

    image = Image.new("RGB", (400, 300), "white")
    assert Image.open(BytesIO(_prepared(image, min_width=0, scale=1.5))).size == (600, 450)
    assert Image.open(BytesIO(_prepared(image, min_width=0))).size == (400, 300)
