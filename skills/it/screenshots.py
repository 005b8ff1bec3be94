"""Screenshots shared with an IT report: downloaded and read (the error lines) before the ticket's transaction."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import partial

from bot.messages import FileRef, Message
from bot.settings import Settings
from integrations.files import (
    IMAGE_KINDS,
    FetchFailed,
    TooLargeToRead,
    UploadRejected,
    discard,
    fetch_file,
    read_in_pool,
)
from integrations.ocr import OcrUnavailable, error_lines, ocr_image

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Screenshots:
    """The text read from a message's images before the ticket's transaction opens, or why they were refused
    (in words for the employee)."""

    text: str = ""
    refused: str | None = None


def read_screenshots(message: Message, settings: Settings, *, seconds: float) -> Screenshots:
    """The error lines (else all text) read from images shared with the message, each downloaded and read on
    the shared file pool within `seconds` (integrations.files.read_in_pool)."""
    found: list[str] = []
    for ref in message.files[:3]:
        deadline = time.monotonic() + seconds
        try:
            text = read_in_pool(
                partial(_fetch_and_ocr, ref, settings, deadline=deadline),
                name=ref.name,
                seconds=seconds,
            )
        except (FetchFailed, OcrUnavailable) as exc:
            log.warning("screenshot %s not read: %s", ref.id, exc)
            continue
        except UploadRejected as exc:
            return Screenshots(refused=str(exc))
        lines = error_lines(text) or [line for line in text.splitlines() if line.strip()][:5]
        found += lines
    return Screenshots(text="\n".join(found)[:2000])


def _fetch_and_ocr(ref: FileRef, settings: Settings, *, deadline: float) -> str:
    """Fetch a screenshot (from Slack or the web chat's uploads) and read it (on the file pool); one too large to
    read is not kept."""
    stored = fetch_file(
        ref,
        token=settings.slack_bot_token,
        api_base_url=settings.slack_api_url,
        dest_dir=settings.uploads_dir,
        max_bytes=settings.max_upload_bytes,
        allowed=IMAGE_KINDS,
    )
    try:
        return ocr_image(stored.path, timeout=max(deadline - time.monotonic(), 1.0))
    except TooLargeToRead:
        discard(stored)
        raise
