"""The knowledge index on a real database (SQLite and PostgreSQL) and a real Chroma store: a folder in,
an IngestReport, KnowledgeDocument rows and search hits out."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.db import Database
from bot.migrate import upgrade
from bot.models import KnowledgeDocument
from knowledge import index as index_module
from knowledge.index import Hit, KnowledgeIndex, content_hash, source_key
from knowledge.ingest_report import IngestReport
from knowledge.loaders import parse_markdown
from tests.conftest import HANDBOOK

VPN = """---
title: Connecting to the VPN
---
# Connecting to the VPN

## Installing the client

Download the GlobalProtect client from the self-service portal and sign in with your company account.

## When it will not connect

If the VPN client says "gateway unreachable", restart your laptop and try the backup gateway vpn2.larkspur.example.
Still stuck? Open an IT ticket with a screenshot of the error.
"""

EXPENSES = """---
title: Expenses and Per Diem
---
## Meal allowance

The daily meal allowance (per diem) is 45 euros when you travel for work. Keep your receipts.

## Mileage

Mileage for your own car is reimbursed at 0.30 euros per kilometre.
"""

CALIBRATION = """---
title: Performance Review Calibration
audience: managers
---
## Calibration meetings

Managers meet each quarter to calibrate performance ratings across teams before reviews are shared.
Bring your draft ratings and the evidence for each rating to the calibration meeting.
"""


PARKING = """---
title: Bicycle parking
---
## Where bicycles go

Bicycles go in the locked cage on parking level minus two. The cage door code changes every quarter.
"""


@dataclass
class Store:
    database: Database
    index: KnowledgeIndex
    folder: Path

    def ingest(self, *paths: Path) -> IngestReport:
        with self.database.session_scope() as session:
            return self.index.ingest(session, list(paths) or [self.folder])

    def rows(self) -> dict[str, KnowledgeDocument]:
        with self.database.session_scope() as session:
            return {row.source: row for row in session.scalars(select(KnowledgeDocument))}

    def key(self, name: str) -> str:
        return source_key(self.folder / name)

    def publish(self, source: str, markdown: str) -> None:
        """What the policy skill does when HR publishes an answer: one document straight into the index."""
        with self.database.session_scope() as session:
            self.index.upsert_document(
                session,
                source=source,
                document=parse_markdown(markdown, "faq"),
                digest=content_hash(markdown.encode()),
                location="faq",
            )

    def unpublish(self, source: str) -> None:
        with self.database.session_scope() as session:
            self.index.remove_document(session, source)


def ranking(hits: list[Hit]) -> list[tuple[str, int | None, int | None]]:
    return [(h.chunk_id, h.keyword_rank, h.vector_rank) for h in hits]


def _store(tmp_path: Path, url: str, folder: Path) -> Store:
    upgrade(url)
    return Store(Database(url), KnowledgeIndex.persistent(tmp_path / "chroma"), folder)


@pytest.fixture
def sops(tmp_path: Path) -> Path:
    folder = tmp_path / "sops"
    folder.mkdir()
    (folder / "vpn.md").write_text(VPN, encoding="utf-8")
    (folder / "expenses.md").write_text(EXPENSES, encoding="utf-8")
    (folder / "calibration.md").write_text(CALIBRATION, encoding="utf-8")
    return folder


@pytest.fixture
def store(tmp_path: Path, database_url: str, sops: Path) -> Iterator[Store]:
    s = _store(tmp_path, database_url, sops)
    yield s
    s.database.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path, sops: Path) -> Iterator[Store]:
    """For behaviour that does not touch the database beyond what `store` already covers on both kinds."""
    s = _store(tmp_path, f"sqlite:///{tmp_path / 'index.db'}", sops)
    yield s
    s.database.dispose()


QUESTIONS = [
    ("the vpn says gateway unreachable, what do I do?", "vpn.md"),
    ("how much is the per diem for meals when travelling?", "expenses.md"),
    ("what is the mileage rate for my car", "expenses.md"),
    ("when do managers calibrate performance ratings?", "calibration.md"),
]


def test_first_ingest_adds_every_file_rows_and_search_finds_the_right_document(store: Store) -> None:
    assert store.index.search("anything at all") == []  # empty index: no hits, no error
    report = store.ingest()
    assert sorted(report.added) == sorted(store.key(n) for n in ("vpn.md", "expenses.md", "calibration.md"))
    assert (report.updated, report.unchanged, report.removed, report.failed, report.skipped) == ([], [], [], {}, {})
    rows = store.rows()
    assert set(rows) == set(report.added)
    assert report.chunks == sum(r.chunk_count for r in rows.values()) == store.index.count()
    assert all(r.chunk_count >= 1 for r in rows.values())
    vpn = rows[store.key("vpn.md")]
    assert (vpn.title, vpn.audience, len(vpn.content_hash)) == ("Connecting to the VPN", "everyone", 64)
    assert rows[store.key("calibration.md")].audience == "managers"
    assert rows[store.key("expenses.md")].title == "Expenses and Per Diem"
    assert "3 added" in report.summary() and f"{report.chunks} chunks written" in report.summary()

    for question, expected in QUESTIONS:
        hits = store.index.search(question, k=3)
        assert hits and hits[0].source == store.key(expected), (question, [h.source for h in hits])
        assert hits[0].location.endswith(expected)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert store.index.search("   ") == []

    top = store.index.search("backup gateway vpn2", k=1)[0]
    assert top.title == "Connecting to the VPN"
    # The front matter gives the title, so the H1 is the first level of the heading path.
    assert top.heading == "Connecting to the VPN › When it will not connect"
    assert "vpn2.larkspur.example" in top.text
    assert top.audience == "everyone"
    assert top.keyword_rank == 0


def test_second_ingest_changes_nothing_even_from_a_new_process(tmp_path: Path, store: Store) -> None:
    first = store.ingest()
    before = {s: (r.content_hash, r.chunk_count, r.id) for s, r in store.rows().items()}
    second = store.ingest()
    assert sorted(second.unchanged) == sorted(first.added)
    assert (second.added, second.updated, second.removed, second.chunks) == ([], [], [], 0)
    assert {s: (r.content_hash, r.chunk_count, r.id) for s, r in store.rows().items()} == before
    assert store.index.count() == first.chunks
    # A second process (a new KnowledgeIndex over the same folder) sees the same state.
    reopened = Store(store.database, KnowledgeIndex.persistent(tmp_path / "chroma"), store.folder)
    third = reopened.ingest()
    assert len(third.unchanged) == 3 and third.chunks == 0
    assert reopened.index.count() == first.chunks
    assert reopened.index.search("per diem meal allowance", k=1)[0].source == store.key("expenses.md")


def test_editing_one_file_updates_exactly_that_file(store: Store) -> None:
    store.ingest()
    old_hash = store.rows()[store.key("expenses.md")].content_hash
    (store.folder / "expenses.md").write_text(EXPENSES.replace("45 euros", "60 euros"), encoding="utf-8")
    report = store.ingest()
    assert report.updated == [store.key("expenses.md")]
    assert sorted(report.unchanged) == sorted([store.key("vpn.md"), store.key("calibration.md")])
    assert report.added == [] and report.removed == []
    assert report.chunks == store.rows()[store.key("expenses.md")].chunk_count
    assert store.rows()[store.key("expenses.md")].content_hash != old_hash
    texts = " ".join(h.text for h in store.index.search("daily meal allowance per diem", k=5))
    assert "60 euros" in texts and "45 euros" not in texts


def test_deleting_a_file_removes_its_row_and_chunks(store: Store) -> None:
    first = store.ingest()
    vpn_chunks = store.rows()[store.key("vpn.md")].chunk_count
    (store.folder / "vpn.md").unlink()
    report = store.ingest()
    assert report.removed == [store.key("vpn.md")]
    assert sorted(report.unchanged) == sorted([store.key("expenses.md"), store.key("calibration.md")])
    assert store.key("vpn.md") not in store.rows()
    assert store.index.count() == first.chunks - vpn_chunks
    for question in ("vpn gateway unreachable", "GlobalProtect client", "connecting to the VPN"):
        assert all(h.source != store.key("vpn.md") for h in store.index.search(question, k=10))
    # Removing again is a no-op.
    assert store.ingest().removed == []
    # A deleted file named on its own (not through its folder) is removed too.
    (store.folder / "expenses.md").unlink()
    assert store.ingest(store.folder / "expenses.md").removed == [store.key("expenses.md")]
    assert set(store.rows()) == {store.key("calibration.md")}
    missing = store.folder / "nope.md"
    assert store.ingest(missing).failed == {str(missing): "no such file or folder"}


def test_emptying_a_file_stops_its_old_text_being_served(store: Store) -> None:
    """A file edited down to nothing must not keep answering with its old text.
    (This was a bug: _ingest_file reported it as skipped "no text found" and returned before touching the old
    KnowledgeDocument row and its chunks, so search keeps citing text that is no longer in the file.)"""
    store.ingest()
    (store.folder / "vpn.md").write_text("---\ntitle: Connecting to the VPN\n---\n", encoding="utf-8")
    report = store.ingest()
    assert report.skipped == {str(store.folder / "vpn.md"): "no text found"}
    assert all(h.source != store.key("vpn.md") for h in store.index.search("vpn gateway unreachable", k=10))
    row = store.rows().get(store.key("vpn.md"))
    assert row is None or row.chunk_count == 0


def test_corrupt_and_unsupported_files_are_reported_and_leave_no_rows(store: Store) -> None:
    (store.folder / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf\n")
    (store.folder / "junk.md").write_bytes(bytes(range(256)))
    (store.folder / "setup.exe").write_bytes(b"MZ\x90\x00\x03")
    (store.folder / "empty.txt").write_text("   \n", encoding="utf-8")
    (store.folder / ".hidden.md").write_text("# Hidden\n\nnot ingested\n", encoding="utf-8")
    report = store.ingest()
    assert set(report.failed) == {str(store.folder / "broken.pdf"), str(store.folder / "junk.md")}
    assert "PDF" in report.failed[str(store.folder / "broken.pdf")]
    assert report.skipped == {
        str(store.folder / "setup.exe"): "unsupported file type .exe",
        str(store.folder / "empty.txt"): "no text found",
    }
    assert len(report.added) == 3
    assert set(store.rows()) == {store.key(n) for n in ("vpn.md", "expenses.md", "calibration.md")}
    assert store.index.count() == report.chunks


def test_corrupt_docx_is_reported_not_fatal(sqlite_store: Store) -> None:
    """A damaged .docx must land in `failed` like a damaged PDF, and the other files still get ingested.
    (Regression: python-docx raises PackageNotFoundError, which load_document used not to turn into
    CorruptDocument, so the whole ingest blew up.)"""
    store = sqlite_store
    (store.folder / "contract.docx").write_bytes(b"this was never a word document")
    report = store.ingest()
    assert list(report.failed) == [str(store.folder / "contract.docx")]
    assert len(report.added) == 3
    assert store.key("contract.docx") not in store.rows()


def test_audience_filter_never_returns_manager_documents(store: Store) -> None:
    store.ingest()
    question = "performance review calibration meeting ratings"
    unfiltered = store.index.search(question, k=5)
    assert unfiltered[0].source == store.key("calibration.md")
    for q in (question, "managers calibrate ratings quarterly", "calibration"):
        hits = store.index.search(q, k=10, audiences=["everyone"])
        assert all(h.audience == "everyone" for h in hits)
        assert all(h.source != store.key("calibration.md") for h in hits)
    manager_hits = store.index.search(question, k=10, audiences=["everyone", "managers"])
    assert manager_hits[0].source == store.key("calibration.md")
    # Re-publishing the document for everyone updates the filter.
    (store.folder / "calibration.md").write_text(CALIBRATION.replace("audience: managers", "audience: everyone"))
    assert store.ingest().updated == [store.key("calibration.md")]
    assert store.rows()[store.key("calibration.md")].audience == "everyone"
    hits = store.index.search(question, k=3, audiences=["everyone"])
    assert hits[0].source == store.key("calibration.md") and hits[0].audience == "everyone"


def test_no_allowed_audience_means_no_hits(sqlite_store: Store) -> None:
    """audiences=[] allows nothing, so nothing comes back. (Regression: the empty list used to reach Chroma as
    {"$in": []}, which Chroma rejects with ValueError.)"""
    store = sqlite_store
    store.ingest()
    assert store.index.search("performance review calibration", k=10, audiences=[]) == []


BICYCLE = "where do I park my bicycle? what is the cage door code"


def test_a_published_changed_or_removed_document_is_seen_by_the_next_search_here_and_in_another_process(
    tmp_path: Path, sqlite_store: Store
) -> None:
    store = sqlite_store
    store.ingest()
    # Another process: its own KnowledgeIndex and cache over the same store, loaded before the writes.
    other = KnowledgeIndex.persistent(tmp_path / "chroma", store.index.embeddings)
    faq = str(tmp_path / "faq" / "parking.md")
    for index in (store.index, other):
        assert all(h.source != faq for h in index.search(BICYCLE, k=10))
    unseen = store.index.idf_weights(["zzzunseen"])["zzzunseen"]
    assert store.index.idf_weights(["bicycl"])["bicycl"] == unseen

    store.publish(faq, PARKING)
    for index in (store.index, other):
        top = index.search(BICYCLE, k=1)[0]
        assert top.source == faq and "minus two" in top.text and top.keyword_rank == 0
        assert index.idf_weights(["bicycl"])["bicycl"] < unseen  # the document frequencies follow too

    store.publish(faq, PARKING.replace("minus two", "minus three"))
    for index in (store.index, other):
        texts = " ".join(h.text for h in index.search(BICYCLE, k=10))
        assert "minus three" in texts and "minus two" not in texts

    store.unpublish(faq)
    for index in (store.index, other):
        assert all(h.source != faq for h in index.search(BICYCLE, k=10))
        assert index.idf_weights(["bicycl"])["bicycl"] == unseen


def test_after_its_own_writes_the_index_answers_exactly_as_a_fresh_load_would(tmp_path: Path, store: Store) -> None:
    """This process updates its cache from what it wrote instead of reloading everything: the result must be
    the same as a new process reading the store from scratch, on both the vector and the keyword side."""
    store.ingest()
    store.index.search("warm up")  # a cache to update
    store.publish(str(tmp_path / "parking.md"), PARKING)
    (store.folder / "expenses.md").write_text(EXPENSES.replace("45 euros", "60 euros"), encoding="utf-8")
    (store.folder / "vpn.md").unlink()
    store.ingest()
    fresh = KnowledgeIndex.persistent(tmp_path / "chroma", store.index.embeddings)
    assert store.index._reloader is None, "the writer reloaded instead of updating its cache"
    for question, _ in [*QUESTIONS, (BICYCLE, ""), ("vpn gateway", ""), ("daily meal allowance 60 euros", "")]:
        assert ranking(store.index.search(question, k=10)) == ranking(fresh.search(question, k=10)), question
    terms = ["bicycl", "vpn", "euro", "calibr", "zzzunseen"]
    assert store.index.idf_weights(terms) == fresh.idf_weights(terms)


def test_searches_answer_from_the_previous_cache_while_another_process_write_is_reloaded(
    tmp_path: Path, sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write by another process makes a reader reload in the background; its searches wait at most
    STALE_WAIT_SECONDS and otherwise answer from what they had (at 100k chunks a reload takes ~20 s)."""
    monkeypatch.setattr(index_module, "STALE_WAIT_SECONDS", 0.2)
    store = sqlite_store
    store.ingest()
    reader = KnowledgeIndex.persistent(tmp_path / "chroma", store.index.embeddings)
    assert reader.search("per diem meal allowance", k=1)[0].source == store.key("expenses.md")
    faq = str(tmp_path / "parking.md")
    store.publish(faq, PARKING)
    with reader._lock:  # stands for a slow reload: the reader's reload thread waits for it
        started = time.monotonic()
        hits = reader.search(BICYCLE, k=3)
        assert time.monotonic() - started < 2
        assert all(h.source != faq for h in hits)  # the previous cache, still answering
        assert reader.search("per diem meal allowance", k=1)[0].source == store.key("expenses.md")
    deadline = time.monotonic() + 10
    while reader.search(BICYCLE, k=1)[0].source != faq:
        assert time.monotonic() < deadline, "the reload never finished"
        time.sleep(0.05)


@pytest.mark.slow
def test_real_handbook_ingest_is_incremental(tmp_path: Path) -> None:
    if not HANDBOOK.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide the handbook at {HANDBOOK} (../shared beside the clone)")
        pytest.skip(f"handbook not found at {HANDBOOK}")
    pages = tmp_path / "pages"
    shutil.copytree(HANDBOOK, pages)
    store = _store(tmp_path, f"sqlite:///{tmp_path / 'handbook.db'}", pages)
    try:
        first = store.ingest()
        assert len(first.added) == 238
        assert (first.failed, first.skipped, first.updated, first.removed) == ({}, {}, [], [])
        assert first.chunks == store.index.count() > 238
        assert len(store.rows()) == 238

        second = store.ingest()
        assert len(second.unchanged) == 238
        assert (second.added, second.updated, second.removed, second.chunks) == ([], [], [], 0)
        assert store.index.count() == first.chunks

        edited = sorted(pages.rglob("*.md"))[10]
        edited.write_text(edited.read_text(encoding="utf-8") + "\n\nZebrafish onboarding rule: bring a snorkel.\n")
        third = store.ingest()
        assert third.updated == [source_key(edited)]
        assert len(third.unchanged) == 237
        assert third.added == [] and third.removed == []
        assert third.chunks == store.rows()[source_key(edited)].chunk_count
        assert store.index.search("zebrafish onboarding snorkel", k=1)[0].source == source_key(edited)
    finally:
        store.database.dispose()
