"""Files employees share (screenshots, receipts): fetched from Slack with the bot token or uploaded in the web chat,
size-capped while streaming, typed by their content rather than their name, stored once under their SHA-256, and
read on a small shared pool of threads with a time limit."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeVar
from urllib.parse import urljoin, urlsplit

import httpx

from bot.messages import FileRef

IMAGE_KINDS = frozenset({"png", "jpeg", "gif", "webp", "tiff", "bmp"})
ALL_KINDS = IMAGE_KINDS | {"pdf"}

# What a sniffed kind is called in a message, in the order allowed kinds are listed.
_LABELS = {
    "png": "PNG",
    "jpeg": "JPEG",
    "gif": "GIF",
    "webp": "WebP",
    "tiff": "TIFF",
    "bmp": "BMP",
}
_DESCRIPTIONS = {
    "png": "a PNG image",
    "jpeg": "a JPEG image",
    "gif": "a GIF image",
    "webp": "a WebP image",
    "tiff": "a TIFF image",
    "bmp": "a BMP image",
    "pdf": "a PDF",
    # Recognised only to say what a refused file really is.
    "heic": "an iPhone HEIC photo (export it as JPEG or take a screenshot instead)",
    "video": "a video",
    "zip": "a ZIP archive or Office document",
    "gzip": "a compressed archive",
    "exe": "a Windows program",
    "html": "a web page",
    "svg": "an SVG drawing",
    "text": "plain text",
}
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".jfif", ".gif", ".webp", ".tif", ".tiff", ".bmp", ".heic", ".heif"}
_MIMETYPES = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "tiff": "image/tiff",
    "bmp": "image/bmp",
    "pdf": "application/pdf",
}
# A web chat upload's FileRef id: "web:", "new:" when that upload stored it, then its stored name.
WEB_FILE = "web:"
_WEB_ID = re.compile(r"web:(new:)?([0-9a-f]{64})\.(png|jpeg|gif|webp|tiff|bmp|pdf)")
_SNIFF_BYTES = 512
_BMP_HEADER_SIZES = {12, 40, 52, 56, 64, 108, 124}
_CHUNK = 64 * 1024
_MAX_REDIRECTS = 3
_DOWNLOAD_SECONDS = 120
_SLACK_DOMAINS = (".slack.com", ".slack-gov.com")  # files.slack.com; GovSlack's equivalent
# Reading a file (download, PDF parsing, OCR) runs on these few threads, whatever asks for it (Slack listeners,
# event workers, the web chat): files never take more than two cores however many arrive at once.
READ_WORKERS = 2
# How long one file may take, from the moment it is handed to the pool (a wait for a free worker included).
READ_SECONDS = 60.0
_READERS = ThreadPoolExecutor(max_workers=READ_WORKERS, thread_name_prefix="file-reader")

T = TypeVar("T")


class UploadRejected(ValueError):
    """A shared file the bot will not read; the message says why, in words for the employee."""


class TooLargeToRead(UploadRejected):
    """A file whose content would unpack to more than the bot reads (pixels, pages, bytes): refused from its
    headers, before anything is decoded. A decompression bomb is one."""

    def __init__(self, size: str) -> None:
        super().__init__(f"That file is too large to read ({size}).")


class ReadTooSlow(UploadRejected):
    """A file that took longer than its time to read (READ_SECONDS): the employee is told instead of waiting."""


class FetchFailed(RuntimeError):
    """The file could not be downloaded from Slack (auth, network, redirect elsewhere); not the employee's fault."""


@dataclass(frozen=True)
class StoredFile:
    """A file kept under the uploads directory, named by its content hash."""

    path: Path
    sha256: str
    kind: str  # sniffed from the content: "png" | "jpeg" | "gif" | "webp" | "tiff" | "bmp" | "pdf"
    size: int
    name: str  # the name the employee gave it, for display only (never part of the path)
    new: bool = True  # stored by this upload; False when the same content was already there


def megapixels(pixels: int) -> str:
    """A pixel count as a person reads it: "1,600 megapixels"."""
    return f"{pixels / 1_000_000:,.0f} megapixels"


def read_in_pool(read: Callable[[], T], *, name: str, seconds: float = READ_SECONDS) -> T:
    """Run `read` (one file's download and reading) on the shared pool of READ_WORKERS threads and wait for it;
    ReadTooSlow after `seconds`. Its own exceptions (UploadRejected, FetchFailed…) come through unchanged."""
    future = _READERS.submit(read)
    try:
        return future.result(timeout=seconds)
    except TimeoutError as exc:
        # Not started yet: it never will. Already running: it finishes on its own (Tesseract and the download
        # have time limits of their own) and its result is dropped. Its file stays stored: the employee may
        # already have sent the same file again, and that copy is the same path.
        future.cancel()
        raise ReadTooSlow(f"Reading {_display(name)} took longer than {seconds:g} seconds, so I stopped.") from exc


def discard(stored: StoredFile) -> None:
    """Remove a file this upload stored, once it is refused after reading (a bomb, unreadable): refused files
    don't stay on disk. A copy that was there before (`new` False) belongs to an earlier upload and stays."""
    if stored.new:
        stored.path.unlink(missing_ok=True)


def sniff_kind(head: bytes) -> str | None:
    """The file type its first bytes show (a key of the descriptions above), or None when unknown."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    # "BM" alone would match text starting with those letters; the DIB header size pins it down.
    if head.startswith(b"BM") and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return "bmp"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head[4:8] == b"ftyp":
        return "heic" if head[8:12] in {b"heic", b"heix", b"mif1", b"msf1", b"hevc", b"heim"} else "video"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"MZ"):
        return "exe"
    return _sniff_text(head)


def _sniff_text(head: bytes) -> str | None:
    if not head or b"\x00" in head:
        return None
    try:
        # The sniffed window may end inside a multi-byte character; ignore only that tail.
        text = head.decode("utf-8", errors="strict" if len(head) < _SNIFF_BYTES else "ignore")
    except UnicodeDecodeError:
        return None
    if any(ord(c) < 32 and c not in "\t\r\n\f" for c in text):
        return None
    start = text.lstrip("\ufeff \t\r\n").lower()
    if start.startswith(("<!doctype html", "<html")):
        return "html"
    if start.startswith("<svg") or (start.startswith("<?xml") and "<svg" in start):
        return "svg"
    return "text"


def store_bytes(data: bytes, *, name: str, dest_dir: Path, max_bytes: int, allowed: frozenset[str]) -> StoredFile:
    """Check and store bytes already in hand (web chat uploads, tests)."""
    if len(data) > max_bytes:
        raise UploadRejected(too_big(len(data), max_bytes))
    with _Spool(dest_dir, max_bytes) as spool:
        spool.write(data)
        return spool.keep(name=name, allowed=allowed)


def web_file_ref(stored: StoredFile) -> FileRef:
    """A web chat upload (checked and stored by store_bytes) as a message carries it, for fetch_file to find."""
    new = "new:" if stored.new else ""
    return FileRef(
        id=f"{WEB_FILE}{new}{stored.path.name}", name=stored.name, mimetype=_MIMETYPES[stored.kind], size=stored.size
    )


def fetch_file(
    file: FileRef,
    *,
    token: str | None,
    api_base_url: str,
    dest_dir: Path,
    max_bytes: int,
    allowed: frozenset[str],
    http: httpx.Client | None = None,
) -> StoredFile:
    """A file shared with a message, wherever it was shared: a web chat upload is found in dest_dir, a Slack file
    is downloaded with the bot token (fetch_slack_file). The same limits and checks, and messages, either way."""
    if file.id.startswith(WEB_FILE):
        return _web_upload(file, dest_dir=dest_dir, max_bytes=max_bytes, allowed=allowed)
    if not token:
        raise FetchFailed(f"No Slack bot token to download {_display(file.name)} with.")
    return fetch_slack_file(
        file, token=token, api_base_url=api_base_url, dest_dir=dest_dir, max_bytes=max_bytes, allowed=allowed, http=http
    )


def _web_upload(file: FileRef, *, dest_dir: Path, max_bytes: int, allowed: frozenset[str]) -> StoredFile:
    match = _WEB_ID.fullmatch(file.id)
    if match is None:
        raise FetchFailed(f"{_display(file.name)} is not a web chat upload.")
    new, digest, kind = match.groups()
    path = dest_dir / f"{digest}.{kind}"
    try:
        size = path.stat().st_size
        with path.open("rb") as stored:
            head = stored.read(_SNIFF_BYTES)
    except OSError as exc:
        raise FetchFailed(f"{_display(file.name)} is no longer stored.") from exc
    # Checked when it was uploaded against every kind a skill reads; the skill asking may read fewer (IT: images).
    really = sniff_kind(head)
    refused = too_big(size, max_bytes) if size > max_bytes else None
    if refused is None and really not in allowed:
        refused = _wrong_kind(file.name, really, allowed)
    if refused is not None:
        if new:  # refused files don't stay on disk (see discard)
            path.unlink(missing_ok=True)
        raise UploadRejected(refused)
    return StoredFile(path=path, sha256=digest, kind=kind, size=size, name=file.name, new=bool(new))


def fetch_slack_file(
    file: FileRef,
    *,
    token: str,
    api_base_url: str,
    dest_dir: Path,
    max_bytes: int,
    allowed: frozenset[str],
    http: httpx.Client | None = None,
) -> StoredFile:
    """Download a file shared in Slack with the bot token, streaming to disk and stopping past max_bytes."""
    if file.size > max_bytes:
        # Slack's own size is known up front: refuse without spending the bandwidth.
        raise UploadRejected(too_big(file.size, max_bytes))
    if not file.url:
        raise FetchFailed(f"Slack gave no download link for {_display(file.name)}.")
    client = http or httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0))
    try:
        return _download(
            file,
            token=token,
            api_base_url=api_base_url,
            client=client,
            dest_dir=dest_dir,
            max_bytes=max_bytes,
            allowed=allowed,
        )
    except httpx.HTTPError as exc:
        raise FetchFailed(f"Could not download {_display(file.name)} from Slack: {exc.__class__.__name__}.") from exc
    finally:
        if http is None:
            client.close()


def _download(
    file: FileRef,
    *,
    token: str,
    api_base_url: str,
    client: httpx.Client,
    dest_dir: Path,
    max_bytes: int,
    allowed: frozenset[str],
) -> StoredFile:
    assert file.url is not None
    url = urljoin(api_base_url, file.url)  # absolute URLs (the normal case) pass through unchanged
    if not _trusted(url, api_base_url):
        # A FileRef can come from elsewhere than a signed Slack event (web chat); the bot token goes to Slack only.
        raise FetchFailed(f"Not downloading {_display(file.name)}: {urlsplit(url).netloc or url} is not a Slack host.")
    origin = _origin(url)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for _ in range(_MAX_REDIRECTS + 1):
        # Redirects are followed by hand: the bearer token must never reach another host, and Slack answers
        # a bad token or a missing files:read scope with a redirect to its sign-in page.
        with client.stream("GET", url, headers=headers, follow_redirects=False) as response:
            if response.is_redirect:
                target = urljoin(url, response.headers.get("Location", ""))
                if _origin(target) != origin:
                    raise FetchFailed(
                        f"Slack redirected the download of {_display(file.name)} to {urlsplit(target).netloc or '?'}"
                        " instead of sending it; the bot token may be invalid or lack the files:read scope."
                    )
                url = target
                continue
            if response.status_code != 200:
                raise FetchFailed(
                    f"Slack answered {response.status_code} when I downloaded {_display(file.name)}"
                    + ("; the bot token was refused." if response.status_code in (401, 403) else ".")
                )
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise UploadRejected(too_big(int(declared), max_bytes))
            # httpx's timeout is per read; a server trickling bytes would otherwise hold this thread for good.
            deadline = time.monotonic() + _DOWNLOAD_SECONDS
            with _Spool(dest_dir, max_bytes) as spool:
                for chunk in response.iter_bytes(_CHUNK):
                    spool.write(chunk)  # raises as soon as the running total passes max_bytes
                    if time.monotonic() > deadline:
                        raise FetchFailed(f"Downloading {_display(file.name)} took over {_DOWNLOAD_SECONDS}s.")
                served_html = "html" in response.headers.get("Content-Type", "") and "html" not in file.mimetype
                if spool.head_kind() == "html" and served_html:
                    # Slack's sign-in page, served with 200 when the token is not accepted for files.
                    raise FetchFailed(
                        f"Slack sent a web page instead of {_display(file.name)}; the bot token may be invalid"
                        " or lack the files:read scope."
                    )
                return spool.keep(name=file.name, allowed=allowed)
    raise FetchFailed(f"Too many redirects downloading {_display(file.name)}.")


def _trusted(url: str, api_base_url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host.endswith(_SLACK_DOMAINS):
        return parts.scheme == "https"
    # The configured API host (a proxy, or the stand-in in tests) is trusted with the token already.
    return _origin(url) == _origin(api_base_url)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


class _Spool:
    """Bytes on their way into dest_dir: a private temp file next to the final one, hashed and counted as they
    arrive, renamed into place only when whole and accepted (so a crash never leaves a half file under a real name)."""

    def __init__(self, dest_dir: Path, max_bytes: int) -> None:
        self.dest_dir = dest_dir
        self.max_bytes = max_bytes
        self.size = 0
        self.head = b""
        self._hash = hashlib.sha256()
        self._tmp: IO[bytes] | None = None

    def __enter__(self) -> _Spool:
        self.dest_dir.mkdir(parents=True, exist_ok=True)
        # Same directory as the destination so the final rename is atomic; mode 0600 as these are private.
        self._tmp = tempfile.NamedTemporaryFile(dir=self.dest_dir, prefix=".upload-", suffix=".part", delete=False)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._tmp is not None:
            self._tmp.close()
            Path(self._tmp.name).unlink(missing_ok=True)  # already renamed away when kept

    def write(self, chunk: bytes) -> None:
        assert self._tmp is not None
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise UploadRejected(too_big(self.size, self.max_bytes, at_least=True))
        if len(self.head) < _SNIFF_BYTES:
            self.head += chunk[: _SNIFF_BYTES - len(self.head)]
        self._hash.update(chunk)
        self._tmp.write(chunk)

    def head_kind(self) -> str | None:
        return sniff_kind(self.head)

    def keep(self, *, name: str, allowed: frozenset[str]) -> StoredFile:
        assert self._tmp is not None
        if self.size == 0:
            raise UploadRejected(f"{_display(name)} is empty.")
        kind = self.head_kind()
        if kind not in allowed:
            raise UploadRejected(_wrong_kind(name, kind, allowed))
        assert kind is not None
        digest = self._hash.hexdigest()
        final = self.dest_dir / f"{digest}.{kind}"
        self._tmp.flush()
        os.fsync(self._tmp.fileno())
        self._tmp.close()
        new = not final.exists()
        if new:  # same content, same name: an existing copy is left untouched
            os.replace(self._tmp.name, final)
        return StoredFile(path=final, sha256=digest, kind=kind, size=self.size, name=name, new=new)


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def too_big(size: int, max_bytes: int, *, at_least: bool = False) -> str:
    """What to tell someone whose file is over the limit (`at_least`: only a lower bound of its size is known)."""
    limit = f"{max_bytes / 1_000_000:g} MB"
    if at_least:
        return f"That file is larger than the {limit} I can read."
    return f"That file is {_mb(size)}; I can read files up to {limit}."


def _display(name: str) -> str:
    # The name is the sender's text and is echoed back into Slack: drop what could form a mention (<!channel>)
    # or a link, and control characters, and keep it short.
    cleaned = re.sub(r"[<>&\x00-\x1f\x7f]", "", name).strip() or "That file"
    return cleaned if len(cleaned) <= 80 else cleaned[:77] + "…"


def _readable(allowed: frozenset[str]) -> str:
    images = [label for kind, label in _LABELS.items() if kind in allowed]
    parts: list[str] = []
    if images:
        joined = images[0] if len(images) == 1 else ", ".join(images[:-1]) + " or " + images[-1]
        parts.append(f"{joined} images")
    if "pdf" in allowed:
        parts.append("PDFs")
    return " and ".join(parts) or "no files"


def _wrong_kind(name: str, kind: str | None, allowed: frozenset[str]) -> str:
    shown = _display(name)
    really = f" — it looks like {_DESCRIPTIONS[kind]}" if kind in _DESCRIPTIONS else ""
    suffix = Path(name).suffix.lower()
    if suffix in _IMAGE_SUFFIXES and kind not in IMAGE_KINDS | {"heic", "svg"}:  # those are images, just not ours
        claim = "an image"
    elif suffix == ".pdf" and kind != "pdf":
        claim = "a PDF"
    else:
        claim = ""
    if claim:
        return f"That file is named {shown} but isn't {claim}{really}. I can read {_readable(allowed)}."
    if kind in _DESCRIPTIONS:
        return f"{shown} is {_DESCRIPTIONS[kind]}; I can read {_readable(allowed)}."
    return f"I can't tell what kind of file {shown} is; I can read {_readable(allowed)}."
