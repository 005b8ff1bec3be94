"""Screenshots shared in Slack: fetched from the stand-in over real HTTP with the bot token, checked, stored once,
read by the real Tesseract, and their error lines picked out for the ticket."""

from __future__ import annotations

import difflib
import io
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw, ImageFont

from bot.messages import FileRef
from bot.slack_payloads import event_message
from integrations.files import (
    ALL_KINDS,
    IMAGE_KINDS,
    FetchFailed,
    UploadRejected,
    fetch_slack_file,
    sniff_kind,
    store_bytes,
)
from integrations.ocr import OcrUnavailable, error_lines, ocr_image, tesseract_available
from tests.slack_standin import SlackStandIn

MB = 1_000_000
DIALOG_LINES = ("Outlook cannot connect to the server.", "Error 0x80070005: Access is denied.")
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
)


# ------------------------------------------------------------------ helpers


def font(px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A system TrueType font, else Pillow's bundled one (also TrueType when Pillow has FreeType)."""
    for candidate in FONT_CANDIDATES:
        if Path(candidate).exists():
            return ImageFont.truetype(candidate, px)
    return ImageFont.load_default(size=px)


def error_dialog(px: int = 12) -> Image.Image:
    """A Windows-style error dialog at screenshot scale (9pt UI text is 12 px at 96 dpi)."""
    text = font(px)
    width = int(max(text.getlength(line) for line in DIALOG_LINES)) + 100
    height = 150
    image = Image.new("RGB", (width, height), (240, 240, 240))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 30), fill=(255, 255, 255))
    draw.text((10, 8), "Microsoft Outlook", font=text, fill=(0, 0, 0))
    draw.text((width - 22, 7), "×", font=text, fill=(0, 0, 0))
    draw.ellipse((18, 46, 50, 78), fill=(196, 43, 28))
    draw.text((28, 49), "X", font=font(20), fill=(255, 255, 255))
    for row, line in enumerate(DIALOG_LINES):
        draw.text((66, 48 + row * int(px * 1.7)), line, font=text, fill=(30, 30, 30))
    draw.rectangle((width - 96, height - 38, width - 16, height - 12), outline=(0, 120, 215), fill=(225, 225, 225))
    draw.text((width - 64, height - 33), "OK", font=text, fill=(0, 0, 0))
    return image


def full_screen(dialog: Image.Image) -> Image.Image:
    """The dialog on a 1920×1080 desktop with other text around it, as people usually capture it."""
    screen = Image.new("RGB", (1920, 1080), (24, 72, 112))
    draw = ImageDraw.Draw(screen)
    for y in range(10, 1080, 42):
        draw.text((18, y), "Documents   Downloads   Recycle Bin", font=font(12), fill=(230, 230, 230))
    draw.rectangle((0, 1040, 1920, 1080), fill=(32, 32, 32))
    draw.text((1800, 1052), "14:32", font=font(12), fill=(255, 255, 255))
    screen.paste(dialog, (760, 420))
    return screen


def encoded(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def normalised(text: str) -> str:
    # OCR noise we tolerate: case, punctuation, spacing, and the letter O read for a zero.
    text = re.sub(r"\b[oO]x", "0x", text)
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def shared_file(slack: SlackStandIn, obj: dict[str, Any]) -> FileRef:
    """The FileRef the Slack edge builds from a message event carrying this file."""
    event = {"type": "message", "user": "U0NEWHIRE1", "channel": "D0NEWHIRE1", "ts": "1.0", "files": [obj]}
    return event_message(event, "im").files[0]


def fetch(slack: SlackStandIn, ref: FileRef, dest: Path, **overrides: Any) -> Any:
    options: dict[str, Any] = {
        "token": slack.token,
        "api_base_url": slack.base_url,
        "dest_dir": dest,
        "max_bytes": 10 * MB,
        "allowed": ALL_KINDS,
    }
    options.update(overrides)
    return fetch_slack_file(ref, **options)


def stored_files(dest: Path) -> list[Path]:
    """Everything in the uploads directory, temp files included (none may be left behind)."""
    return sorted(dest.iterdir()) if dest.exists() else []


class CountingTransport(httpx.BaseTransport):
    """A real HTTP transport that counts the body bytes the client actually pulled off the wire."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.received = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        assert isinstance(response.stream, httpx.SyncByteStream)  # HTTPTransport's are; AsyncByteStream is typed too
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Counted(response.stream, self),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self.inner.close()


class _Counted(httpx.SyncByteStream):
    def __init__(self, stream: httpx.SyncByteStream, owner: CountingTransport) -> None:
        self.stream = stream
        self.owner = owner

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.stream:
            self.owner.received += len(chunk)
            yield chunk

    def close(self) -> None:
        self.stream.close()


# ------------------------------------------------------------------ the whole path, real Tesseract


@pytest.mark.slow
@pytest.mark.parametrize("capture", ["dialog-png", "full-screen-jpeg"])
def test_shared_screenshot_is_fetched_read_and_its_error_lines_found(
    tesseract: None, slack: SlackStandIn, tmp_path: Path, capture: str
) -> None:
    if capture == "dialog-png":
        data, name, mimetype = encoded(error_dialog(), "PNG"), "screenshot.png", "image/png"
    else:
        data, name, mimetype = encoded(full_screen(error_dialog()), "JPEG", quality=75), "IMG_2024.jpg", "image/jpeg"
    ref = shared_file(slack, slack.add_file("F0SHOT1", data, name, mimetype))
    dest = tmp_path / "uploads"

    stored = fetch(slack, ref, dest)
    started = time.perf_counter()
    text = ocr_image(stored.path)
    elapsed = time.perf_counter() - started

    downloads = slack.calls_to("files.download")
    assert [c.token for c in downloads] == [slack.token]
    assert stored.kind == ("png" if capture == "dialog-png" else "jpeg")
    assert stored.path.read_bytes() == data and stored.size == len(data) and stored.name == name
    lines = error_lines(text)
    assert lines, f"no error line found in OCR text {text!r}"
    found = [normalised(line) for line in lines]
    for expected in DIALOG_LINES:
        best = max(difflib.SequenceMatcher(None, normalised(expected), got).ratio() for got in found)
        assert best >= 0.9, f"{expected!r} not among {lines!r} (best match {best:.2f})"
    joined = " ".join(found)
    assert "0x80070005" in joined and "access is denied" in joined and "cannot connect" in joined
    assert elapsed < 20, f"OCR took {elapsed:.1f}s"


def test_ocr_reads_dark_text_on_a_transparent_background(tesseract: None, tmp_path: Path) -> None:
    # Transparent pixels are black underneath; without flattening on white this image reads as nothing.
    image = Image.new("RGBA", (440, 60), (0, 0, 0, 0))
    ImageDraw.Draw(image).text((10, 18), "Error 0x80070005: Access is denied.", font=font(14), fill=(0, 0, 0, 255))
    path = tmp_path / "clip.png"
    image.save(path)
    assert "access is denied" in normalised(ocr_image(path))


def test_ocr_of_something_that_is_not_an_image_is_unavailable(tesseract: None, tmp_path: Path) -> None:
    path = tmp_path / "receipt.pdf"
    path.write_bytes(b"%PDF-1.7\n%garbage")
    with pytest.raises(OcrUnavailable, match="could not be decoded"):
        ocr_image(path)


def test_ocr_without_tesseract_on_path_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "shot.png"
    error_dialog().save(path)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not tesseract_available()
    with pytest.raises(OcrUnavailable, match="apt-get install tesseract-ocr"):
        ocr_image(path)


# ------------------------------------------------------------------ fetching: limits, types, auth


def test_file_over_the_limit_is_refused_before_any_download(slack: SlackStandIn, tmp_path: Path) -> None:
    big = b"\x89PNG\r\n\x1a\n" + bytes(20 * MB - 8)
    ref = shared_file(slack, slack.add_file("F0BIG01", big, "huge.png", "image/png"))

    with pytest.raises(UploadRejected) as refused:
        fetch(slack, ref, tmp_path / "uploads")

    assert str(refused.value) == "That file is 20.0 MB; I can read files up to 10 MB."
    assert slack.calls_to("files.download") == []
    assert stored_files(tmp_path / "uploads") == []


def test_download_that_lies_about_its_size_is_cut_off_at_the_limit(slack: SlackStandIn, tmp_path: Path) -> None:
    # Slack says 2 KB and the server sends no Content-Length, then streams 30 MB.
    body = b"\x89PNG\r\n\x1a\n" + bytes(30 * MB)
    ref = shared_file(slack, slack.add_file("F0LIAR1", body, "small.png", "image/png", declared_size=2048))
    transport = CountingTransport()

    with httpx.Client(transport=transport, timeout=30) as client, pytest.raises(UploadRejected) as refused:
        fetch(slack, ref, tmp_path / "uploads", max_bytes=1 * MB, http=client)

    assert str(refused.value) == "That file is larger than the 1 MB I can read."
    assert 1 * MB < transport.received <= 1 * MB + 256 * 1024, transport.received
    assert stored_files(tmp_path / "uploads") == []  # the partial download is gone too


def test_content_length_over_the_limit_is_refused_without_reading_the_body(slack: SlackStandIn, tmp_path: Path) -> None:
    slack.add_file("F0BIG02", b"\x89PNG\r\n\x1a\n" + bytes(20 * MB - 8), "huge.png", "image/png")
    ref = FileRef(
        id="F0BIG02",
        name="huge.png",
        mimetype="image/png",
        size=0,  # size unknown to the caller
        url=f"{slack.root_url}files-pri/T0001-F0BIG02/download/huge.png",
    )
    transport = CountingTransport()

    with httpx.Client(transport=transport, timeout=30) as client, pytest.raises(UploadRejected, match="20.0 MB"):
        fetch(slack, ref, tmp_path / "uploads", http=client)

    assert transport.received == 0
    assert len(slack.calls_to("files.download")) == 1


def test_text_file_named_png_is_refused_saying_what_it_is(slack: SlackStandIn, tmp_path: Path) -> None:
    data = b"Error 0x80070005: Access is denied.\nI copied this from the dialog.\n"
    ref = shared_file(slack, slack.add_file("F0TEXT1", data, "screenshot.png", "image/png"))

    with pytest.raises(UploadRejected) as refused:
        fetch(slack, ref, tmp_path / "uploads")

    assert str(refused.value) == (
        "That file is named screenshot.png but isn't an image — it looks like plain text. "
        "I can read PNG, JPEG, GIF, WebP, TIFF or BMP images and PDFs."
    )
    assert stored_files(tmp_path / "uploads") == []


@pytest.mark.parametrize(("token", "error"), [("", "not_authed"), ("xoxb-wrong", "invalid_auth")])
def test_missing_or_wrong_token_is_an_error(slack: SlackStandIn, tmp_path: Path, token: str, error: str) -> None:
    ref = shared_file(slack, slack.add_file("F0SHOT2", encoded(error_dialog(), "PNG"), "shot.png", "image/png"))

    with pytest.raises(FetchFailed, match="answered 401 .*the bot token was refused"):
        fetch(slack, ref, tmp_path / "uploads", token=token)

    (call,) = slack.calls_to("files.download")
    assert call.token == (token or None)
    assert stored_files(tmp_path / "uploads") == []


def test_same_bytes_are_stored_once(slack: SlackStandIn, tmp_path: Path) -> None:
    dest = tmp_path / "uploads"
    data = encoded(error_dialog(), "PNG")
    first = store_bytes(data, name="a.png", dest_dir=dest, max_bytes=10 * MB, allowed=IMAGE_KINDS)
    before = first.path.stat()
    second = store_bytes(data, name="again.png", dest_dir=dest, max_bytes=10 * MB, allowed=IMAGE_KINDS)
    ref = shared_file(slack, slack.add_file("F0SHOT3", data, "from-slack.png", "image/png"))
    third = fetch(slack, ref, dest)

    assert first.path == second.path == third.path == dest / f"{first.sha256}.png"
    assert (second.name, third.name) == ("again.png", "from-slack.png")
    assert stored_files(dest) == [first.path]
    after = first.path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not rewritten
    assert first.path.stat().st_mode & 0o077 == 0  # employees' screenshots are private to the bot


def test_redirect_to_another_host_is_not_followed(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def slack_files(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/moved.png"):
            return httpx.Response(302, headers={"Location": "/files-pri/T1-F1/download/shot.png"})
        if request.url.host == "files.slack.com":
            # What Slack does with a token it will not accept for files: off to the sign-in page.
            return httpx.Response(302, headers={"Location": "https://acme.slack.com/?redir=%2Ffiles-pri%2FT1-F1"})
        return httpx.Response(200, content=b"<!DOCTYPE html><html>sign in</html>")

    ref = FileRef(
        id="F1",
        name="moved.png",
        mimetype="image/png",
        size=10,
        url="https://files.slack.com/files-pri/T1-F1/download/moved.png",
    )
    with (
        httpx.Client(transport=httpx.MockTransport(slack_files)) as client,
        pytest.raises(FetchFailed, match="redirected .* to acme.slack.com .*files:read"),
    ):
        fetch_slack_file(
            ref,
            token="xoxb-real",
            api_base_url="https://slack.com/api/",
            dest_dir=tmp_path,
            max_bytes=MB,
            allowed=ALL_KINDS,
            http=client,
        )

    # The same-host redirect was followed with the token; the other host was never contacted.
    assert [r.url.host for r in seen] == ["files.slack.com", "files.slack.com"]
    assert all(r.headers["Authorization"] == "Bearer xoxb-real" for r in seen)


def test_sign_in_page_instead_of_the_file_is_a_fetch_error(tmp_path: Path) -> None:
    def sign_in(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": "text/html"}, content=b"<!DOCTYPE html><html></html>")

    ref = FileRef(
        id="F1",
        name="shot.png",
        mimetype="image/png",
        size=10,
        url="https://files.slack.com/files-pri/T1-F1/download/shot.png",
    )
    with (
        httpx.Client(transport=httpx.MockTransport(sign_in)) as client,
        pytest.raises(FetchFailed, match="web page instead of shot.png"),
    ):
        fetch_slack_file(
            ref,
            token="xoxb-real",
            api_base_url="https://slack.com/api/",
            dest_dir=tmp_path,
            max_bytes=MB,
            allowed=ALL_KINDS,
            http=client,
        )


@pytest.mark.parametrize(
    "url",
    ["https://attacker.example/files-pri/T1-F1/shot.png", "http://files.slack.com/files-pri/T1-F1/shot.png"],
)
def test_the_bot_token_only_goes_to_slack(tmp_path: Path, url: str) -> None:
    seen: list[httpx.Request] = []

    def anything(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=encoded(error_dialog(), "PNG"))

    ref = FileRef(id="F1", name="shot.png", mimetype="image/png", size=10, url=url)
    with httpx.Client(transport=httpx.MockTransport(anything)) as client:
        with pytest.raises(FetchFailed, match="is not a Slack host"):
            fetch_slack_file(
                ref,
                token="xoxb-real",
                api_base_url="https://slack.com/api/",
                dest_dir=tmp_path,
                max_bytes=MB,
                allowed=ALL_KINDS,
                http=client,
            )
    assert seen == []


def test_network_failure_is_a_fetch_error(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}/"
    ref = FileRef(id="F1", name="shot.png", mimetype="image/png", size=10, url=f"{base}files-pri/T1-F1/shot.png")
    with pytest.raises(FetchFailed, match="Could not download shot.png from Slack: ConnectError"):
        fetch_slack_file(
            ref, token="xoxb-real", api_base_url=f"{base}api/", dest_dir=tmp_path, max_bytes=MB, allowed=ALL_KINDS
        )
    assert stored_files(tmp_path) == []


# ------------------------------------------------------------------ sniffing and messages


@pytest.mark.parametrize(
    ("fmt", "kind"),
    [
        ("PNG", "png"),
        ("JPEG", "jpeg"),
        ("GIF", "gif"),
        ("WEBP", "webp"),
        ("TIFF", "tiff"),
        ("BMP", "bmp"),
        ("PDF", "pdf"),
    ],
)
def test_kind_comes_from_the_content_not_the_name(tmp_path: Path, fmt: str, kind: str) -> None:
    data = encoded(error_dialog(), fmt)
    stored = store_bytes(data, name="upload.bin", dest_dir=tmp_path, max_bytes=10 * MB, allowed=ALL_KINDS)
    assert (stored.kind, stored.path.name) == (kind, f"{stored.sha256}.{kind}")


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (
            b"PK\x03\x04" + bytes(40),
            "report.docx",
            "report.docx is a ZIP archive or Office document; I can read PNG or JPEG images.",
        ),
        (
            b"<!DOCTYPE html><html><body>hi</body></html>",
            "page.png",
            "That file is named page.png but isn't an image — it looks like a web page. I can read PNG or JPEG images.",
        ),
        (
            bytes(range(256)) * 2,
            "blob.dat",
            "I can't tell what kind of file blob.dat is; I can read PNG or JPEG images.",
        ),
        (
            b"\x00\x00\x00\x18ftypheic" + bytes(20),
            "IMG_0001.HEIC",
            "IMG_0001.HEIC is an iPhone HEIC photo (export it as JPEG or take a screenshot instead);"
            " I can read PNG or JPEG images.",
        ),
        (b"%PDF-1.7\n", "<!channel>.pdf", "!channel.pdf is a PDF; I can read PNG or JPEG images."),
        (
            b"%PDF-1.7\n",
            "<!here> shot.png",
            "That file is named !here shot.png but isn't an image — it looks like a PDF."
            " I can read PNG or JPEG images.",
        ),
        (b"", "empty.png", "empty.png is empty."),
    ],
)
def test_refusals_say_what_the_file_really_is(tmp_path: Path, data: bytes, name: str, message: str) -> None:
    with pytest.raises(UploadRejected) as refused:
        store_bytes(data, name=name, dest_dir=tmp_path, max_bytes=MB, allowed=frozenset({"png", "jpeg"}))
    assert str(refused.value) == message
    assert stored_files(tmp_path) == []


def test_bmp_needs_more_than_two_letters() -> None:
    assert sniff_kind(b"BMW quarterly report, figures attached") == "text"


# ------------------------------------------------------------------ error lines


def test_error_lines_picks_the_error_messages_in_order() -> None:
    text = """Microsoft Outlook

    Outlook cannot connect to the server.
    Error Ox80070005: Access is denied.
    Check your network connection and try again.
    Outlook cannot connect to the server.
    We can’t sign you in right now
    The operation failed because the mailbox is full
    OK"""
    assert error_lines(text) == [
        "Outlook cannot connect to the server.",
        "Error Ox80070005: Access is denied.",
        "We can’t sign you in right now",
        "The operation failed because the mailbox is full",
    ]
    assert error_lines(text, limit=1) == ["Outlook cannot connect to the server."]
    assert error_lines("Unable to open 0x8004010F\nall good here\nException in thread main") == [
        "Unable to open 0x8004010F",
        "Exception in thread main",
    ]
    assert error_lines("Your files are synced\nTerrorist threat level: none") == []
