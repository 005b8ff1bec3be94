"""Text from screenshots with Tesseract (Debian's `tesseract-ocr`, run as a subprocess), and the lines of it
that look like error messages, for IT tickets."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from integrations.files import TooLargeToRead, megapixels

TESSERACT = "tesseract"
# Measured on rendered error dialogs and full-screen screenshots (9–24 px text, PNG and JPEG): 2x Lanczos raised
# full-screen accuracy from 0.44–0.97 to 0.90–1.00 and never hurt dialog crops; 3x hurt large text. Images
# already past this size are HiDPI captures or photos whose text is big enough, and would only get slower.
_UPSCALE = 2
_UPSCALE_MAX_PIXELS = 16_000_000
# Larger images are refused from their header, before they are decoded: a small PNG can expand to gigabytes.
MAX_PIXELS = 50_000_000
# --psm 11 (sparse text) finds dialog text inside a busy screenshot that the default page layout misses
# (worst full-screen case 0.24 → 0.78), at the same accuracy on crops. One OpenMP thread: 2–4x faster on
# small images, where Tesseract's thread start-up costs more than it saves.
_ARGS = ("--psm", "11", "-l", "eng")

_ERROR_WORDS = re.compile(
    r"""\b(?:errors?|fail(?:ed|ure|s)?|denied|exception|fatal|refused|forbidden|unauthori[sz]ed|timed\ out|timeout
         |unable|cannot|can\ not|can['’]t|could\ not|couldn['’]t|not\ responding|not\ found|invalid)\b
       | \b[0O]x[0-9A-Fa-f]{4,}\b""",  # HRESULT-style codes; OCR often reads the 0 as O
    re.IGNORECASE | re.VERBOSE,
)


class OcrUnavailable(RuntimeError):
    """No text could be read: Tesseract is missing, failed or timed out, or the image cannot be decoded."""


def tesseract_available() -> bool:
    """Whether the tesseract binary is on PATH."""
    return shutil.which(TESSERACT) is not None


def ocr_image(path: Path, *, timeout: float = 30) -> str:
    """The text Tesseract reads in an image (English), one line per text line, blank lines collapsed.
    TooLargeToRead for an image past MAX_PIXELS (nothing decoded)."""
    if not tesseract_available():
        raise OcrUnavailable("Tesseract is not installed (Debian: apt-get install tesseract-ocr).")
    return run_tesseract(_prepared(path), _ARGS, name=path.name, timeout=timeout)


def run_tesseract(png: bytes, args: Sequence[str], *, name: str, timeout: float) -> str:
    """Run Tesseract on a prepared PNG (piped, no temp files) and tidy its text; OcrUnavailable on failure."""
    # One OpenMP thread: Tesseract's thread start-up costs more than it saves on an image this size.
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(
            [TESSERACT, "stdin", "stdout", *args],
            input=png,
            capture_output=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise OcrUnavailable(f"Tesseract took longer than {timeout:g}s on {name}.") from exc
    except OSError as exc:
        raise OcrUnavailable(f"Tesseract could not be started: {exc}") from exc
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise OcrUnavailable(f"Tesseract failed on {name}: {detail[-1] if detail else done.returncode}")
    text = done.stdout.decode("utf-8", "replace").replace("\f", "")
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in text.splitlines())).strip()


def open_image(path: Path) -> Image.Image:
    """An image file decoded (first frame, upright), after its header showed it within MAX_PIXELS:
    TooLargeToRead otherwise, OcrUnavailable when it is not an image Pillow can decode."""
    try:
        with Image.open(path) as opened:
            # The header gives the size; nothing is decoded before load() (exif_transpose) below.
            if opened.width * opened.height > MAX_PIXELS:
                raise TooLargeToRead(megapixels(opened.width * opened.height))
            opened.seek(0)  # first frame of an animated GIF or multi-page TIFF
            image = ImageOps.exif_transpose(opened)  # phone photos arrive rotated
            image.load()
            return image
    except TooLargeToRead:
        raise  # a ValueError too: not "could not be decoded" below
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own check at open: an error past twice its limit, a warning (an error under -W error) past it.
        raise TooLargeToRead(f"over {megapixels(Image.MAX_IMAGE_PIXELS or MAX_PIXELS)}") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise OcrUnavailable(f"{path.name} could not be decoded as an image: {exc}") from exc


def _prepared(path: Path) -> bytes:
    """The image as Tesseract reads it best: upright, flattened on white, grey, upscaled; as PNG bytes."""
    image = open_image(path)
    try:
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            # Transparent pixels are often black underneath: dark text on them would vanish.
            rgba = image.convert("RGBA")
            image = Image.new("RGBA", rgba.size, "white")
            image.alpha_composite(rgba)
        grey = image.convert("L")
    except (OSError, ValueError) as exc:
        raise OcrUnavailable(f"{path.name} could not be decoded as an image: {exc}") from exc
    if grey.width * grey.height * _UPSCALE**2 <= _UPSCALE_MAX_PIXELS:
        grey = grey.resize((grey.width * _UPSCALE, grey.height * _UPSCALE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    grey.save(buffer, "PNG", compress_level=1)  # piped straight to Tesseract: speed over size
    return buffer.getvalue()


def error_lines(text: str, limit: int = 5) -> list[str]:
    """The lines of OCR text that look like error messages, in reading order, without repeats."""
    found: list[str] = []
    seen: set[str] = set()
    for raw in text.splitlines():
        line = " ".join(raw.split())
        key = line.casefold()
        if len(line) < 4 or key in seen or not _ERROR_WORDS.search(line):
            continue
        seen.add(key)
        found.append(line if len(line) <= 200 else line[:199] + "…")
        if len(found) >= limit:
            break
    return found
