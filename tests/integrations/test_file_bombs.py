"""Decompression bombs (issue 17, point 10): a PDF or image that is small on disk but would decode to gigabytes is
refused from its headers and dictionaries, before anything is decoded, with a clear answer, quickly, within a
few hundred MB, and is not kept on disk. End to end over signed Slack HTTP, with files served by the Slack
stand-in; and each kind of bomb against the readers directly."""

from __future__ import annotations

import hashlib
import re
import struct
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import httpx
import pytest
from sqlalchemy import select

from bot.models import Expense
from bot.runtime import Runtime
from integrations.files import TooLargeToRead
from integrations.ocr import ocr_image
from skills.expenses.receipts import read_receipt
from skills.it.models import Ticket
from tests.conftest import LiveServer
from tests.knowledge.test_loaders import make_pdf
from tests.slack_payloads import message_event, post_event
from tests.slack_standin import Call, SlackStandIn

MB = 1_000_000
RSS_LIMIT_MB = 300
SECONDS_LIMIT = 10.0


# ------------------------------------------------------------------ building bombs (small on disk)


def constant_flate(byte: int, size: int) -> bytes:
    """A zlib stream of `size` copies of `byte`, built without compressing them all: one 16 MiB block is
    compressed and flushed to a byte boundary, and its (identical) compressed form repeated."""
    chunk = bytes([byte]) * (16 << 20)
    compressor = zlib.compressobj(9)
    first = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    whole, rest = divmod(size, len(chunk))
    assert whole >= 2
    end = compressor.compress(chunk[:rest]) + compressor.flush()
    checksum = 1
    for _ in range(whole):
        checksum = zlib.adler32(chunk, checksum)
    checksum = zlib.adler32(chunk[:rest], checksum)
    return first + block * (whole - 1) + end[:-4] + checksum.to_bytes(4, "big")


def pdf_with_image(
    width: int, height: int, data: bytes, *, colour_space: str = "/DeviceGray", bits: int = 8, pages: int = 1
) -> bytes:
    """A valid PDF whose first page is one Flate-compressed image, as a scanner writes it."""
    draw = b"q 595 0 0 842 0 0 cm /Im0 Do Q"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im0 5 0 R >> >>"
        b" /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(draw) + draw + b"\nendstream",
        (
            f"<< /Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace {colour_space}"
            f" /BitsPerComponent {bits} /Filter /FlateDecode /Length {len(data)} >>\nstream\n"
        ).encode()
        + data
        + b"\nendstream",
    ]
    return _pdf(objects)


def pdf_with_content(data: bytes) -> bytes:
    """A valid PDF whose one page's content stream is `data`, Flate-compressed (a text layer)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Filter /FlateDecode /Length %d >>\nstream\n" % len(data) + data + b"\nendstream",
    ]
    return _pdf(objects)


def _pdf(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def black_png(width: int, height: int) -> bytes:
    """A valid greyscale PNG of `width` × `height` black pixels (each row: filter byte 0, then zeros)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = constant_flate(0, (width + 1) * height)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


# ------------------------------------------------------------------ measuring


def _status_kb(field: str) -> int:
    found = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    assert found, field
    return int(found.group(1))


class PeakRss:
    """How far this process's resident memory (the test, and the server it runs) rose during the block, in MB:
    the kernel's high-water mark, reset on entry (/proc/self/clear_refs), and where that is not allowed, VmRSS
    sampled every 2 ms."""

    growth_mb = 0.0

    def __enter__(self) -> PeakRss:
        if not Path("/proc/self/status").exists():
            pytest.skip("needs Linux /proc to measure memory")
        self._start = _status_kb("VmRSS")
        try:
            Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
            self._reset = True
        except OSError:
            self._reset = False
        self._sampled = self._start
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self._sampled = max(self._sampled, _status_kb("VmRSS"))

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        self._sampler.join()
        peak = max(self._sampled, _status_kb("VmHWM") if self._reset else 0)
        self.growth_mb = (peak - self._start) / 1024


def wait_for_call(slack: SlackStandIn, method: str, match: Callable[[Call], bool], timeout: float) -> Call:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for call in slack.calls_to(method):
            if match(call):
                return call
        time.sleep(0.02)
    raise AssertionError(f"no matching {method} in {[(c.method, c.params.get('text')) for c in slack.calls]}")


def share(http: httpx.Client, server: LiveServer, user: str, channel: str, text: str, file: dict[str, object]) -> None:
    event = message_event(user, text, channel, "im", files=[file])
    event["event"]["subtype"] = "file_share"
    assert post_event(http, server.url, event).status_code == 200


def uploads(runtime: Runtime) -> list[Path]:
    """Everything under the uploads directory, temp files included."""
    folder = runtime.settings.uploads_dir
    return sorted(folder.iterdir()) if folder.exists() else []


# ------------------------------------------------------------------ end to end, over Slack


def test_a_pdf_image_bomb_shared_in_slack_is_refused_fast_within_memory_and_not_kept(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client
) -> None:
    # 40,000 × 40,000 white pixels: 1.6 GB once decoded, 1.5 MB on disk.
    bomb = pdf_with_image(40_000, 40_000, constant_flate(0xFF, 40_000 * 40_000))
    assert len(bomb) < 2 * MB
    # One ordinary receipt first, so the pipeline (router, expense skill, pypdf) is loaded before measuring.
    receipt = make_pdf(["CAFE ROMA\nDATE: 14/04/2025\nTOTAL EUR 12.50"])
    warm = slack.add_file("F0WARM0001", receipt, "receipt.pdf", "application/pdf")
    share(http, server, "U0000DEVTWO", "D0JAMAL001", "coffee with a client", warm)
    slack.wait_for_post(lambda c: c.params["channel"] == "D0JAMAL001", timeout=60)
    shared = slack.add_file("F0BOMB0001", bomb, "scan.pdf", "application/pdf")

    with PeakRss() as rss:
        started = time.monotonic()
        share(http, server, "U0000DEVONE", "D0SOFIA001", "taxi receipt", shared)
        refusal = wait_for_call(slack, "chat.postEphemeral", lambda c: c.params["channel"] == "D0SOFIA001", 120)
        elapsed = time.monotonic() - started

    print(f"\nPDF image bomb ({len(bomb) / MB:.1f} MB): refused in {elapsed:.2f}s, RSS +{rss.growth_mb:.0f} MB")
    assert refusal.params["text"] == (
        "That file is too large to read (1,600 megapixels). Please send a smaller scan or a photo of the receipt."
        " Nothing was saved."
    )
    assert elapsed < SECONDS_LIMIT, f"refused after {elapsed:.1f}s"
    assert rss.growth_mb < RSS_LIMIT_MB, f"RSS grew {rss.growth_mb:.0f} MB"
    kept = [path.name for path in uploads(runtime)]
    assert f"{hashlib.sha256(bomb).hexdigest()}.pdf" not in kept and not [n for n in kept if n.endswith(".part")]
    with runtime.database.session_scope() as session:
        assert not session.scalars(select(Expense).where(Expense.channel == "D0SOFIA001")).all()


@pytest.mark.parametrize(
    ("text", "tail"),
    [
        ("taxi receipt", "Please send a smaller scan or a photo of the receipt. Nothing was saved."),
        ("outlook shows this error", "Nothing was opened; please send a screenshot (PNG or JPEG)."),
    ],
    ids=["receipt", "screenshot"],
)
def test_a_png_with_huge_dimensions_gets_the_same_clear_answer(
    server: LiveServer, slack: SlackStandIn, runtime: Runtime, http: httpx.Client, text: str, tail: str
) -> None:
    # 30,000 × 30,000 pixels: 900 MB decoded, under 1 MB on disk. Pillow's own check stops it at open.
    bomb = black_png(30_000, 30_000)
    assert len(bomb) < MB
    shared = slack.add_file("F0PNGBOMB1", bomb, "screenshot.png", "image/png")

    with PeakRss() as rss:
        started = time.monotonic()
        share(http, server, "U0000DEVONE", "D0SOFIA001", text, shared)
        refusal = wait_for_call(slack, "chat.postEphemeral", lambda c: c.params["channel"] == "D0SOFIA001", 60)
        elapsed = time.monotonic() - started

    print(f"\nPNG bomb ({len(bomb) / MB:.1f} MB): refused in {elapsed:.2f}s, RSS +{rss.growth_mb:.0f} MB")
    assert refusal.params["text"] == f"That file is too large to read (over 89 megapixels). {tail}"
    assert elapsed < SECONDS_LIMIT and rss.growth_mb < RSS_LIMIT_MB
    assert not [path for path in uploads(runtime) if path.suffix in (".png", ".part")]
    with runtime.database.session_scope() as session:
        assert not session.scalars(select(Expense)).all() and not session.scalars(select(Ticket)).all()


# ------------------------------------------------------------------ each kind of bomb, against the readers


def _image_bomb() -> bytes:
    return pdf_with_image(40_000, 40_000, constant_flate(0xFF, 40_000 * 40_000))


def _one_bit_bomb() -> bytes:
    # 1 bit a pixel: "only" 75 MB of stream, but 600 million pixels once an image.
    return pdf_with_image(40_000, 15_000, constant_flate(0xFF, 5_000 * 15_000), bits=1)


def _flate_bomb() -> bytes:
    # A 100 × 100 image whose stream unpacks to 1.6 GB: its dictionary is harmless, its data is not.
    return pdf_with_image(100, 100, constant_flate(0xFF, 1_600 * MB))


def _content_bomb() -> bytes:
    # A text layer whose content stream unpacks to 1.6 GB of spaces.
    return pdf_with_content(constant_flate(0x20, 1_600 * MB))


def _many_pages() -> bytes:
    return make_pdf(["x"] * 60)


@pytest.mark.parametrize(
    ("build", "size"),
    [
        (_image_bomb, "1,600 megapixels"),
        (_one_bit_bomb, "600 megapixels"),
        (_flate_bomb, "it unpacks to more than I can read"),
        (_content_bomb, "it unpacks to more than I can read"),
        (_many_pages, "60 pages"),
    ],
    ids=["image-40000x40000", "1-bit-image", "flate-stream", "content-stream", "60-pages"],
)
def test_pdf_bombs_are_refused_before_decoding(tmp_path: Path, build: Callable[[], bytes], size: str) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(build())
    with PeakRss() as rss:
        started = time.monotonic()
        with pytest.raises(TooLargeToRead) as refused:
            read_receipt(path, "pdf")
        elapsed = time.monotonic() - started
    assert str(refused.value) == f"That file is too large to read ({size})."
    assert elapsed < SECONDS_LIMIT and rss.growth_mb < RSS_LIMIT_MB, (elapsed, rss.growth_mb)


@pytest.mark.parametrize(("width", "height", "size"), [(30_000, 30_000, "over 89"), (10_000, 6_000, "60")])
@pytest.mark.parametrize("reader", ["receipt", "screenshot"])
def test_images_past_the_pixel_limit_are_refused_from_their_header(
    tmp_path: Path, width: int, height: int, size: str, reader: str
) -> None:
    path = tmp_path / "shot.png"
    path.write_bytes(black_png(width, height))
    with PeakRss() as rss, pytest.raises(TooLargeToRead) as refused:
        if reader == "receipt":
            read_receipt(path, "png")
        else:
            ocr_image(path)
    assert str(refused.value) == f"That file is too large to read ({size} megapixels)."
    assert rss.growth_mb < 100, rss.growth_mb  # nothing was decoded
