"""Files attached in the web chat over real HTTP (issue 19): a receipt photo starts a claim and a screenshot is read
into an IT ticket, as the same files shared in Slack are; a file too big or of the wrong kind gets Slack's clear
message and writes nothing; outside development mode only you can upload as yourself, and who you are is checked
first."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.directory import get_by_slack_id
from bot.models import ChatMessage, Expense
from bot.runtime import Runtime, bootstrap_samples, build_runtime
from bot.tokens import create_token
from skills.it.models import Ticket
from tests.conftest import LiveServer, make_settings
from tests.integrations.test_files_ocr import encoded, error_dialog, normalised
from tests.skills.expenses.test_receipt_claims import RINGGIT, receipt_png

NOW = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # a Monday; the receipt is from the Friday before


def upload(
    http: httpx.Client, base: str, user: str, name: str, data: bytes, text: str = "", **options: Any
) -> httpx.Response:
    return http.post(
        f"{base}/api/upload", data={"user": user, "text": text}, files={"file": (name, data)}, timeout=90, **options
    )


def stored_files(runtime: Runtime) -> list[Path]:
    folder = runtime.settings.uploads_dir
    return sorted(folder.iterdir()) if folder.exists() else []


def count(runtime: Runtime, model: type[ChatMessage | Expense | Ticket]) -> int:
    with runtime.database.session_scope() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_receipt_photo_attached_without_a_word_starts_a_claim(
    offline_server: LiveServer, offline_runtime: Runtime, http: httpx.Client, tesseract: None
) -> None:
    offline_runtime.assistant.clock = lambda: NOW
    reply = upload(http, offline_server.url, "U0000DEVONE", "IMG_2041.png", receipt_png(RINGGIT))

    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["skill"] == "expense" and "claim #" in body["text"] and "42.20 MYR" in body["text"], body["text"]
    assert "Receipt: attached" in body["text"]
    with offline_runtime.database.session_scope() as session:
        [claim] = session.scalars(select(Expense)).all()
        assert (claim.status, claim.amount, claim.currency) == ("draft", Decimal("42.20"), "MYR")
        assert claim.receipt_path is not None and Path(claim.receipt_path).exists()
        assert Path(claim.receipt_path).parent == offline_runtime.settings.uploads_dir
    # The card is in the person's chat like any reply, after the photo, shown by its name.
    feed = http.get(f"{offline_server.url}/api/feed", params={"user": "U0000DEVONE"}).json()["messages"]
    assert "42.20 MYR" in feed[-1]["text"]
    assert (feed[-2]["direction"], feed[-2]["text"], feed[-2]["files"]) == ("in", "", ["IMG_2041.png"])


def test_a_screenshot_with_a_caption_is_read_into_an_it_ticket(
    offline_server: LiveServer, offline_runtime: Runtime, http: httpx.Client, tesseract: None
) -> None:
    offline_runtime.assistant.clock = lambda: NOW
    shot = encoded(error_dialog(), "PNG")
    reply = upload(http, offline_server.url, "U0000DEVONE", "error.png", shot, text="outlook shows this error")

    assert reply.status_code == 200 and reply.json()["skill"] == "it", reply.text
    with offline_runtime.database.session_scope() as session:
        [ticket] = session.scalars(select(Ticket)).all()
        assert "0x80070005 access is denied" in normalised(ticket.ocr_text or "")
        assert "From the screenshot" in ticket.description


def test_a_file_too_big_or_of_the_wrong_kind_gets_the_slack_message_and_writes_nothing(
    offline_server: LiveServer, offline_runtime: Runtime, http: httpx.Client
) -> None:
    base = offline_server.url
    offline_runtime.settings.max_upload_bytes = 50_000  # the one setting, for Slack's files and these
    big = upload(http, base, "U0000DEVONE", "scan.png", b"\x89PNG\r\n\x1a\n" + b"0" * 60_000, text="taxi")
    assert big.status_code == 413
    assert big.json()["detail"] == "That file is 0.1 MB; I can read files up to 0.05 MB. Nothing was saved."

    offline_runtime.settings.max_upload_bytes = 10_000_000
    for name, data, said in (
        ("receipt.png", b"just some text, not a picture", "is named receipt.png but isn't an image"),
        ("receipt.pdf", b"PK\x03\x04" + b"\x00" * 40, "isn't a PDF — it looks like a ZIP archive"),
        ("page.html", b"<!doctype html><script>alert(1)</script>", "page.html is a web page"),
        ("empty.png", b"", "empty.png is empty"),
    ):
        refused = upload(http, base, "U0000DEVONE", name, data)
        assert refused.status_code == 415 and said in refused.json()["detail"], refused.text
        assert refused.json()["detail"].endswith("Nothing was saved.")
    missing = http.post(f"{base}/api/upload", data={"user": "U0000DEVONE", "text": "hi"})
    assert missing.status_code == 422 and "file" in missing.json()["detail"]
    assert upload(http, base, "U0000NOBODY", "a.png", b"x").status_code == 404
    assert upload(http, base, "U\x00", "a.png", b"x").status_code == 422

    assert stored_files(offline_runtime) == []
    assert count(offline_runtime, ChatMessage) == 0 and count(offline_runtime, Expense) == 0


def test_a_skill_reads_fewer_kinds_than_the_upload_takes_and_says_so_like_for_slack(
    offline_server: LiveServer, offline_runtime: Runtime, http: httpx.Client
) -> None:
    # A PDF is a fine receipt but not a screenshot: IT refuses it with the same words as for a Slack file,
    # and the refused upload does not stay on disk.
    pdf = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
    reply = upload(http, offline_server.url, "U0000DEVTWO", "error.pdf", pdf, text="outlook shows this error")

    assert reply.status_code == 200
    body = reply.json()
    assert body["ephemeral"] and "error.pdf is a PDF; I can read" in body["text"], body["text"]
    assert "Nothing was opened" in body["text"]
    assert count(offline_runtime, Ticket) == 0 and stored_files(offline_runtime) == []


@pytest.fixture
def closed(tmp_path: Path) -> Iterator[tuple[LiveServer, Runtime, str]]:
    """The web chat as deployed (no development mode): each person signs in; an API token for Sofia."""
    folder = tmp_path / "closed"  # its own data directory, beside offline_runtime's
    runtime = build_runtime(make_settings(folder, f"sqlite:///{tmp_path / 'closed.db'}", dev_mode=False))
    bootstrap_samples(runtime)
    with runtime.database.session_scope() as session:
        sofia = get_by_slack_id(session, "U0000DEVONE")
        assert sofia is not None
        token = create_token(session, employee=sofia, name="web chat upload test")
    try:
        with LiveServer(runtime) as live:
            yield live, runtime, token
    finally:
        runtime.close()


def test_outside_development_mode_you_upload_only_as_yourself(
    closed: tuple[LiveServer, Runtime, str], http: httpx.Client
) -> None:
    server, runtime, token = closed
    sofia = {"Authorization": f"Bearer {token}"}
    png = encoded(error_dialog(), "PNG")

    assert upload(http, server.url, "U0000DEVONE", "a.png", png).status_code == 401
    someone_else = upload(http, server.url, "U0000HRLEAD", "a.png", png, headers=sofia)
    assert someone_else.status_code == 403 and "only use the chat as yourself" in someone_else.json()["detail"]
    assert stored_files(runtime) == [] and count(runtime, ChatMessage) == 0
    # The queues too: only your own, and only your team's.
    assert http.get(f"{server.url}/api/queue/it", params={"user": "U0000ITDESK"}, headers=sofia).status_code == 403
    assert http.get(f"{server.url}/api/queue/it", params={"user": "U0000DEVONE"}, headers=sofia).status_code == 403
    assert http.get(f"{server.url}/api/queue/it", params={"user": "U0000ITDESK"}).status_code == 401


def test_a_huge_upload_is_refused_before_it_is_read(
    offline_server: LiveServer, closed: tuple[LiveServer, Runtime, str], http: httpx.Client
) -> None:
    head = (
        b'--cut\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n'
        b"Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n"
    )

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(100):
            yield b"0" * 1_000_000

    headers = {"Content-Type": "multipart/form-data; boundary=cut"}
    # Open (development mode): the body limit stops it past twice the file limit.
    chunked = http.post(f"{offline_server.url}/api/upload", content=body(), headers=headers)
    assert chunked.status_code == 413
    declared = http.post(
        f"{offline_server.url}/api/upload", content=body(), headers={**headers, "Content-Length": "100001000"}
    )
    assert declared.status_code == 413
    # Signed-in deployments: nobody signed in is turned away before a byte of the body is read.
    server, _runtime, _token = closed
    assert http.post(f"{server.url}/api/upload", content=body(), headers=headers).status_code == 401
