"""Text lines of a receipt photo or scan read by RapidOCR (PP-OCRv4 models on onnxruntime, shipped in its wheel)."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from integrations.ocr import OcrUnavailable

# One engine a process, built on first use (its models take ~0.5 s and ~100 MB to load), and one thread that runs
# it: the engine is not safe to call from two threads at once (a call with options rewrites its settings), and a
# call cannot be interrupted, so a caller past its deadline stops waiting while the call finishes on this thread.
_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rapid-ocr")
_ENGINE_LOCK = threading.Lock()
_engine: Any = None
# Boxes whose vertical centres are closer than this share of the shorter one's height are on one printed line.
_SAME_LINE = 0.5
# The recogniser (a model trained mostly on Chinese) drops the space between words set close together in capitals
# ("SDNBHD"), though its character positions still show it: in a fixed-pitch till font a word space is an empty
# character cell, so the letters either side of it stand about two pitches apart where others stand one, with a
# blank run in the ink between them. A narrow "1" or "." leaves blank columns beside it too, but stays one pitch
# from its neighbours. In a proportional font a narrow capital ("I") brings the centres closer, so between capitals a
# wider blank run suffices alone. Tuned on the development half of SROIE (see docs/benchmarks.md): company names
# 0.52 → 0.78 read exactly.
_SPACE_STRIDE = 1.2  # centres this many pitches apart (pitch: the box's median distance between neighbours)
_WORD_GAP = 0.4  # and a blank run at least this many pitches wide between them
_WIDE_GAP = 0.6  # between two capitals, a blank run this many pitches wide is a word space whatever the centres
_INK_SHARE = 0.5  # a pixel is ink when darker than this share of the way from the box's lightest to darkest
_COLUMN_INK = 0.04  # a column holding less ink than this share of the box's height counts as blank (specks)


@dataclass(frozen=True)
class _Box:
    """One recognised box: its text, its bounds in the image, and the x centre of each character."""

    text: str
    left: float
    top: float
    right: float
    bottom: float
    centres: tuple[float, ...]


def rapidocr_available() -> bool:
    """Whether the rapidocr-onnxruntime package is installed."""
    return importlib.util.find_spec("rapidocr_onnxruntime") is not None


def read_lines(image: Image.Image, *, timeout: float) -> list[str]:
    """The text lines RapidOCR reads in an image, top to bottom, boxes on one line joined with three spaces and
    word spaces restored from the ink. OcrUnavailable when it is not installed, fails, or takes longer than
    timeout seconds (waiting for an earlier reading included)."""
    if not rapidocr_available():
        raise OcrUnavailable("RapidOCR is not installed (pip install rapidocr-onnxruntime).")
    rgb = image.convert("RGB")
    grey = np.asarray(rgb.convert("L"))
    bgr = np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])  # what OpenCV-based engines expect
    future = _WORKER.submit(_recognise, bgr)
    try:
        boxes = _boxes(future.result(timeout=max(timeout, 0.001)))
    except FutureTimeout as exc:
        future.cancel()  # not started: it never will; running: it finishes on its own and is dropped
        raise OcrUnavailable(f"RapidOCR took longer than {timeout:g}s.") from exc
    except Exception as exc:  # onnxruntime, OpenCV and the engine's own checks raise their own types
        raise OcrUnavailable(f"RapidOCR failed: {exc}") from exc
    return lines_of(boxes, grey)


def _recognise(bgr: NDArray[np.uint8]) -> Any:
    result, _elapsed = _get_engine()(bgr, return_word_box=True)
    return result


def _get_engine() -> Any:
    global _engine
    with _ENGINE_LOCK:
        if _engine is None:
            from rapidocr_onnxruntime import RapidOCR

            _engine = RapidOCR()
        return _engine


def _boxes(result: Any) -> list[_Box]:
    """RapidOCR's rows [quad, text, score, character boxes, characters, confidences] as _Box."""
    boxes: list[_Box] = []
    for row in result or []:
        quad, text = row[0], str(row[1])
        xs, ys = [float(p[0]) for p in quad], [float(p[1]) for p in quad]
        cells = row[3] if len(row) > 3 else []
        centres = tuple((float(c[0][0]) + float(c[1][0])) / 2 for c in cells) if len(cells) == len(text) else ()
        boxes.append(_Box(text, min(xs), min(ys), max(xs), max(ys), centres))
    return boxes


def lines_of(boxes: Sequence[_Box], grey: NDArray[np.uint8] | None = None) -> list[str]:
    """Boxes grouped into lines by their vertical centres and joined left to right; with the grey image, each
    box's word spaces restored (spaced_text)."""
    lines: list[tuple[float, float, list[_Box]]] = []  # centre, height, boxes
    for box in sorted(boxes, key=lambda b: (b.top + b.bottom) / 2):
        centre, height = (box.top + box.bottom) / 2, box.bottom - box.top
        for line_centre, line_height, members in lines:
            if abs(centre - line_centre) < _SAME_LINE * min(height, line_height):
                members.append(box)
                break
        else:
            lines.append((centre, height, [box]))
    texts: list[str] = []
    for _centre, _height, members in lines:
        parts = [spaced_text(box, grey) if grey is not None else box.text for box in sorted(members, key=_left)]
        texts.append("   ".join(part for part in parts if part.strip()))
    return [text for text in texts if text]


def _left(box: _Box) -> float:
    return box.left


def spaced_text(box: _Box, grey: NDArray[np.uint8]) -> str:
    """A box's text with a space restored between two characters (_may_part) that stand as far apart as a word
    space: a blank run in the ink between them at least _WIDE_GAP pitches wide, or at least _WORD_GAP pitches
    wide with their centres at least _SPACE_STRIDE pitches apart."""
    if len(box.centres) != len(box.text) or len(box.text) < 3:
        return box.text
    pitch = _pitch(box)
    if pitch <= 0:
        return box.text
    gaps = word_gaps(grey, box, min_width=_WORD_GAP * pitch)
    if not gaps:
        return box.text
    out: list[str] = [box.text[0]]
    for index in range(1, len(box.text)):
        before, after = box.centres[index - 1], box.centres[index]
        between = [width for centre, width in gaps if before < centre < after]
        previous, char = box.text[index - 1], box.text[index]
        wide = bool(between) and (
            after - before >= _SPACE_STRIDE * pitch
            or (max(between) >= _WIDE_GAP * pitch and previous.isupper() and char.isupper())
        )
        if wide and _may_part(previous, char):
            out.append(" ")
        out.append(box.text[index])
    return "".join(out)


def _pitch(box: _Box) -> float:
    """The median distance between the centres of neighbouring characters."""
    return float(np.median(np.diff(box.centres)))


def _may_part(previous: str, char: str) -> bool:
    """Whether a word space may be restored between these two characters: between letters, and after a closing
    bracket or a dot before a letter ("(M)SDN", "D.I.Y.SDN"). Never next to a digit (a space inside an amount or a
    date does more harm than one missing beside it), nor before punctuation, whose position the recogniser gives
    loosely ("D .I.Y.")."""
    return char.isalpha() and (previous.isalpha() or previous in ".)")


def word_gaps(grey: NDArray[np.uint8], box: _Box, *, min_width: float) -> list[tuple[float, float]]:
    """The blank runs at least min_width wide inside a box's ink, as (x centre in the image, width); runs
    before the first ink and after the last are margins, not gaps."""
    top, bottom = max(int(box.top), 0), min(int(round(box.bottom)), grey.shape[0])
    left, right = max(int(box.left), 0), min(int(round(box.right)), grey.shape[1])
    height = bottom - top
    if height < 4 or right - left < 4:
        return []
    crop = grey[top:bottom, left:right].astype(np.float32)
    light, dark = float(np.percentile(crop, 95)), float(np.percentile(crop, 5))
    if light - dark < 40:  # no contrast: nothing to tell ink from paper
        return []
    ink = (crop < light - _INK_SHARE * (light - dark)).sum(axis=0) >= max(1.0, _COLUMN_INK * height)
    columns = np.flatnonzero(ink)
    if columns.size < 2:
        return []
    blanks = np.diff(columns) - 1
    return [(left + (columns[i] + columns[i + 1]) / 2, float(blanks[i])) for i in np.flatnonzero(blanks >= min_width)]
