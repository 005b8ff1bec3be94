"""RapidOCR for receipts: word spaces restored from the ink, boxes joined into lines, a rendered receipt read, and
its time limit. Every word and number here is invented."""

from __future__ import annotations

import time

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from integrations.ocr import OcrUnavailable
from integrations.rapid_ocr import _Box, lines_of, read_lines, spaced_text
from tests.skills.expenses.test_receipts import font

PITCH = 12  # a fixed-pitch till font: every character cell is 12 px wide, 20 px high
HEIGHT = 20


def till_line(text: str, *, narrow: str = "1.") -> tuple[_Box, NDArray[np.uint8]]:
    """A box of text as a fixed-pitch till prints it (glyphs as black blocks, 8 px wide, 2 px for a narrow
    character) and as the recogniser reports it: the text without its spaces, each character's centre."""
    grey = np.full((HEIGHT + 10, PITCH * len(text) + 20), 255, dtype=np.uint8)
    centres: list[float] = []
    for cell, char in enumerate(text):
        if char == " ":
            continue
        centre = 10 + cell * PITCH + PITCH / 2
        half = 1 if char in narrow else 4
        grey[5 : 5 + HEIGHT, int(centre) - half : int(centre) + half] = 0
        centres.append(centre)
    box = _Box(text.replace(" ", ""), 8, 3, grey.shape[1] - 8, HEIGHT + 7, tuple(centres))
    return box, grey


def test_a_word_space_the_recogniser_dropped_is_restored() -> None:
    box, grey = till_line("KEDAI RUNCIT SDN BHD")
    assert box.text == "KEDAIRUNCITSDNBHD"
    assert spaced_text(box, grey) == "KEDAI RUNCIT SDN BHD"


def test_narrow_characters_and_numbers_keep_their_neighbours() -> None:
    # A "1" or a "." leaves wide blanks beside it in a fixed-pitch font, but stands one pitch from its
    # neighbours; and no space is put next to a digit, where a wrong one would split an amount or a date (the
    # date rules read a date run into its time).
    expected = {
        "A.B.C. TRADING": "A.B.C. TRADING",
        "LIM 11 KEDAI": "LIM11KEDAI",
        "12/11/2019 10:15": "12/11/201910:15",
        "TILL 1 BY ALI": "TILL1BY ALI",
    }
    for text, spaced in expected.items():
        box, grey = till_line(text)
        assert spaced_text(box, grey) == spaced, text


def test_boxes_on_one_line_are_joined_left_to_right() -> None:
    boxes = [
        _Box("12.50", 300, 101, 360, 121, ()),
        _Box("KOPI O", 10, 100, 90, 120, ()),
        _Box("TOTAL", 10, 140, 80, 160, ()),
        _Box("RM", 200, 99, 230, 119, ()),
    ]
    assert lines_of(boxes) == ["KOPI O   RM   12.50", "TOTAL"]


def rendered(lines: list[str], *, px: int = 24) -> Image.Image:
    face = font(px)
    image = Image.new("RGB", (640, 40 + int(px * 1.6) * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((30, 20 + row * int(px * 1.6)), line, font=face, fill="black")
    return image


def test_a_rendered_receipt_is_read_line_by_line() -> None:
    image = rendered(["RESTORAN ANGGERIK MAJU", "NASI LEMAK 2 x 6.50", "DATE: 09/07/2019 12:41", "TOTAL RM 13.00"])
    lines = read_lines(image, timeout=60)
    assert lines[0] == "RESTORAN ANGGERIK MAJU", lines
    assert "09/07/2019" in lines[2] and "13.00" in lines[3], lines


def test_a_reading_past_its_time_gives_up_and_the_next_one_still_works() -> None:
    image = rendered(["KEDAI MAJU JAYA", "TOTAL 5.00"])
    started = time.monotonic()
    with pytest.raises(OcrUnavailable, match="took longer than"):
        read_lines(image, timeout=0.01)
    # The caller's deadline holds (0.01 s; the bound is slack for a loaded machine, not a speed target): the
    # reading finishes on its own thread.
    assert time.monotonic() - started < 5.0
    assert read_lines(image, timeout=60)[0] == "KEDAI MAJU JAYA"
