"""Approvers see a claim's receipt (issue 19): the claim's console page shows it, the receipt is served only to who
may see the claim, as what it is and never from outside the uploads folder, and the approver's card links to the
page; over real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import html
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.directory import get_by_slack_id
from bot.messages import Message
from bot.models import Expense, OutboxItem
from bot.runtime import Runtime
from skills.expenses import action_ids
from skills.expenses import service as expenses
from skills.expenses.service import Draft
from tests.bot.test_console import browser, csrf_of, sign_in
from tests.conftest import LiveServer

JAMAL, DANIEL, SOFIA = "U0000DEVTWO", "U0000ENGMGR", "U0000DEVONE"  # Jamal and Sofia report to Daniel
FINANCE, ADMIN, IT_DESK = "U0000FINANC", "U0000ADMIN1", "U0000ITDESK"
SUBMITTED = datetime(2026, 12, 8, 22, 5, tzinfo=UTC)
# A real 1×1 PNG: what the receipt reader stores is whatever the employee shared, named by its hash.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def store(runtime: Runtime, content: bytes, suffix: str) -> Path:
    """The file as the receipt reader keeps it: under the uploads folder, named by its SHA-256."""
    folder = runtime.settings.uploads_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(content).hexdigest()}{suffix}"
    path.write_bytes(content)
    return path


def claim(runtime: Runtime, receipt: Path | None, *, submit: bool = True) -> int:
    """Jamal's MYR 42.50 lunch, with `receipt`, submitted to Daniel (or left a draft)."""
    policy = runtime.expense_policy
    with runtime.database.session_scope() as db:
        jamal = get_by_slack_id(db, JAMAL)
        assert jamal is not None
        draft = Draft(
            amount=Decimal("42.50"),
            currency="MYR",
            spent_on=date(2026, 12, 7),
            category="meals",
            merchant="Nasi Kandar Pelita",
            description="Lunch with a customer",
            receipt_sha256=receipt.stem if receipt else None,
            receipt_path=str(receipt) if receipt else None,
        )
        expense = expenses.create_draft(
            db,
            policy=policy,
            employee=jamal,
            draft=draft,
            flags=[],
            platform="web",
            channel=f"web:{JAMAL}",
            thread_ts=None,
            conversation_id=None,
        )
        if submit:
            expenses.transition(db, expense, "submitted", actor=jamal, now=SUBMITTED, policy=policy)
            expense.approver_id = jamal.manager_id
        return expense.id


def test_the_approver_reads_the_claim_with_its_receipt_and_decides_it_there(
    server: LiveServer, runtime: Runtime
) -> None:
    expense_id = claim(runtime, store(runtime, PNG, ".png"))
    path = f"/console/items/expense/{expense_id}"
    with browser(server.url) as client:
        sign_in(client, DANIEL)
        page = client.get(path).text
        words = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.split("<main>", 1)[1])))
        for shown in (
            "Claimed by Jamal Carter",
            "Amount MYR 42.50 (about USD 9.35)",
            "Spent on Mon 7 Dec 2026",
            "Merchant Nasi Kandar Pelita",
            "Waiting for the manager's approval",
            "Approver Daniel Kim",
            "Submitted Tue 8 Dec 2026, 14:05",
            "Submitted by Jamal Carter",
        ):
            assert shown in words, (shown, words)
        assert "receipt_path" not in page and "manager_approved" not in words
        assert f'<img src="/console/items/expense/{expense_id}/receipt"' in page
        assert set(re.findall(r'<button type="submit"[^>]* name="(\w+)"', page)) == {"approve", "reject"}
        receipt = client.get(f"{path}/receipt")
        assert receipt.status_code == 200 and receipt.content == PNG
        assert receipt.headers["content-type"] == "image/png"
        assert receipt.headers["content-disposition"].startswith("inline")
        assert receipt.headers["x-content-type-options"] == "nosniff"
        done = client.post(
            f"/console/expenses/{expense_id}/approve", data={"csrf": csrf_of(client.get(path)), "to": path}
        )
        assert done.status_code == 303 and done.headers["location"] == path
        assert "Approved by Daniel Kim" in client.get(path).text
    with runtime.database.session_scope() as db:
        assert db.get_one(Expense, expense_id).status == "approved"


@pytest.mark.parametrize(
    ("slack_id", "sees"), [(JAMAL, True), (FINANCE, True), (ADMIN, True), (SOFIA, False), (IT_DESK, False)]
)
def test_the_receipt_is_served_to_the_claimant_the_approver_finance_and_admins_only(
    server: LiveServer, runtime: Runtime, slack_id: str, sees: bool
) -> None:
    expense_id = claim(runtime, store(runtime, PNG, ".png"))
    with browser(server.url) as client:
        sign_in(client, slack_id)
        receipt = client.get(f"/console/items/expense/{expense_id}/receipt", headers={"Accept": "text/html"})
        if sees:
            assert receipt.status_code == 200 and receipt.content == PNG
        else:
            assert receipt.status_code == 403 and receipt.headers["content-type"].startswith("text/html")
            assert "not yours to see" in receipt.text and PNG not in receipt.content
            forced = client.post(
                f"/console/expenses/{expense_id}/approve", data={"csrf": csrf_of(client.get("/console"))}
            )
            assert forced.status_code == 303  # the click reaches the skill, which refuses it
    with runtime.database.session_scope() as db:
        assert db.get_one(Expense, expense_id).status == "submitted"


def test_a_pdf_receipt_is_linked_and_served_as_a_pdf(server: LiveServer, runtime: Runtime) -> None:
    expense_id = claim(runtime, store(runtime, PDF, ".pdf"))
    with browser(server.url) as client:
        sign_in(client, DANIEL)
        page = client.get(f"/console/items/expense/{expense_id}").text
        assert "<img" not in page and "Open the receipt (PDF)" in page
        receipt = client.get(f"/console/items/expense/{expense_id}/receipt")
    assert receipt.status_code == 200 and receipt.content == PDF
    assert receipt.headers["content-type"] == "application/pdf"
    assert receipt.headers["content-disposition"] == f'inline; filename="receipt-{expense_id}.pdf"'


def test_only_files_under_the_uploads_folder_are_ever_served(
    server: LiveServer, runtime: Runtime, tmp_path: Path
) -> None:
    outside = tmp_path / "secret.png"
    outside.write_bytes(PNG)
    inside = store(runtime, PNG, ".png")
    for stored in (outside, inside.parent / ".." / ".." / "secret.png", Path("/etc/passwd")):
        expense_id = claim(runtime, None)
        with runtime.database.session_scope() as db:
            db.get_one(Expense, expense_id).receipt_path = str(stored)
        with browser(server.url) as client:
            sign_in(client, DANIEL)
            assert client.get(f"/console/items/expense/{expense_id}/receipt").status_code == 404, stored
            assert "<img" not in client.get(f"/console/items/expense/{expense_id}").text


def test_the_approval_card_links_to_the_claims_page(runtime: Runtime) -> None:
    expense_id = claim(runtime, store(runtime, PNG, ".png"), submit=False)
    reply = runtime.assistant.handle(Message.web_click(JAMAL, action_ids.CONFIRM, str(expense_id)))
    assert "Daniel Kim" in reply.text, reply.text
    with runtime.database.session_scope() as db:
        card = db.scalars(select(OutboxItem).where(OutboxItem.update_key == f"expense:{expense_id}:approval")).one()
        assert card.channel == f"web:{DANIEL}"
        url = f"{runtime.settings.public_url.rstrip('/')}/console/items/expense/{expense_id}"
        assert f"<{url}|See the claim and its receipt in the console>" in card.text
