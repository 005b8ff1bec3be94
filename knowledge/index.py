"""The knowledge index: chunks in Chroma (embedded vectors) plus a bm25s keyword index, fused by
reciprocal rank. Documents are tracked in the database by content hash so re-ingest is incremental."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.models import KnowledgeDocument
from knowledge.chunking import chunk_document, indexed_text
from knowledge.embeddings import MiniLMEmbeddings
from knowledge.ingest_report import IngestReport, ProgressCallback
from knowledge.loaders import (
    AUDIENCES,
    SUPPORTED_SUFFIXES,
    CorruptDocument,
    LoadedDocument,
    UnsupportedDocument,
    load_document,
)
from knowledge.snapshot import (
    PendingChunks,
    Snapshot,
    keyword_ranking,
    load_snapshot,
    updated_snapshot,
    vector_ranking,
)
from knowledge.store_version import ContentVersion

# The chunks and their all-MiniLM-L6-v2 vectors. A store written before (WordLlama vectors, in the collections of
# PREVIOUS_COLLECTIONS) is re-embedded into it once, by `upgrade_store`.
COLLECTION = "knowledge-minilm"
PREVIOUS_COLLECTIONS = ("knowledge",)
UPGRADE_PAGE = 500  # chunks read, embedded and written per step of an upgrade (one progress step)
UpgradeProgress = Callable[[int, int], None]
RRF_K = 60
# The vector ranking counts twice the keyword ranking in the fusion: with all-MiniLM-L6-v2 the nearest chunk is
# usually the right one even when the words differ ("set up the VPN on my mac" / a section headed "macOS"). On our
# dev sets it changed little (TTS retrieval: recall@5 0.94 -> 0.95, MRR 0.882 -> 0.883; answers: fact hit
# 0.60 -> 0.61 TTS, 0.45 GitLab either way); at 3 recall@5 fell back to 0.94.
VECTOR_WEIGHT = 2.0
CANDIDATES = 30
# Chunks written to Chroma per call during ingest: each add and delete has a fixed cost (a transaction, index
# updates), so one write per ~100 files instead of one per file makes a first ingest several times faster.
WRITE_BATCH = 2000
# When another process wrote, a search waits at most this long for the reload (milliseconds on a small store), then
# answers from the previous cache while the reload finishes in the background (~20 s at 100k chunks).
STALE_WAIT_SECONDS = 2.0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hit:
    chunk_id: str
    source: str
    title: str
    heading: str
    location: str
    audience: str
    text: str
    score: float
    similarity: float
    keyword_rank: int | None
    vector_rank: int | None = None


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def source_key(path: Path) -> str:
    return path.resolve().as_posix()


class KnowledgeIndex:
    """Hybrid (vector + keyword) index over SOP chunks."""

    def __init__(
        self,
        client: Any,
        embeddings: MiniLMEmbeddings,
        version_file: Path | None = None,
        *,
        shared_version_seconds: float | None = None,
    ) -> None:
        """`shared_version_seconds` (client/server mode): the content version lives in the collection's metadata
        on the server, re-read at most that often, instead of in `version_file` on this host."""
        self._client = client
        self._embeddings = embeddings
        self._collection = client.get_or_create_collection(
            COLLECTION, embedding_function=None, metadata={"hnsw:space": "cosine"}
        )
        self._upgrade_lock = version_file.with_name("upgrade.lock") if version_file is not None else None
        self._version = ContentVersion(client, self._collection, version_file, shared_version_seconds)
        # Held to build or replace the snapshot (a reload, or this process's own write); searches never take it.
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._reload_guard = threading.Lock()
        self._reloader: threading.Thread | None = None

    @classmethod
    def persistent(cls, directory: Path, embeddings: MiniLMEmbeddings | None = None) -> KnowledgeIndex:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        directory.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(
            path=str(directory), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=True)
        )
        return cls(client, embeddings or MiniLMEmbeddings(), version_file=directory / "index.version")

    @classmethod
    def server(
        cls, url: str, embeddings: MiniLMEmbeddings | None = None, *, version_check_seconds: float = 1.0
    ) -> KnowledgeIndex:
        """The index on a Chroma server (`chroma run`) at `url`, e.g. http://chroma.internal:8001. Every process
        using it sees the others' writes within `version_check_seconds`."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/"):
            raise ValueError(f"a Chroma server URL looks like http://host:8001, not {url!r}")
        client = chromadb.HttpClient(
            host=parts.hostname,
            port=parts.port or (443 if parts.scheme == "https" else 8000),
            ssl=parts.scheme == "https",
            settings=ChromaSettings(anonymized_telemetry=False),
        )
        return cls(client, embeddings or MiniLMEmbeddings(), shared_version_seconds=version_check_seconds)

    @property
    def embeddings(self) -> MiniLMEmbeddings:
        return self._embeddings

    # ---------------------------------------------------------------- writing

    def _previous_collections(self) -> list[str]:
        listed = self._client.list_collections()
        names = {c if isinstance(c, str) else c.name for c in listed}
        return [name for name in PREVIOUS_COLLECTIONS if name in names]

    def needs_upgrade(self) -> bool:
        """Whether chunks embedded by the previous model are waiting to be re-embedded (`upgrade_store`)."""
        return bool(self._previous_collections())

    def upgrade_store(self, on_progress: UpgradeProgress | None = None) -> int:
        """Re-embed every chunk of a store written with the previous embedding model into this model's collection,
        then drop the old collection; returns the chunks moved (0 when there was nothing to do). Resumable: chunk
        ids are stable and written with upsert, and the old collection is deleted only once all of its chunks are
        in the new one, so an interrupted upgrade loses nothing and the next start runs it again. Every write
        (`_write`) upgrades first, so an ingest never mixes old and new chunks."""
        if not self.needs_upgrade():
            return 0
        lock = open(self._upgrade_lock, "a") if self._upgrade_lock is not None else None  # noqa: SIM115
        try:
            if lock is not None:
                fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be upgrading the same store
            moved = 0
            for name in self._previous_collections():
                old = self._client.get_collection(name, embedding_function=None)
                total = old.count()
                done = 0
                while True:
                    page = old.get(include=["documents", "metadatas"], limit=UPGRADE_PAGE, offset=done)
                    ids = list(page["ids"])
                    if not ids:
                        break
                    documents = list(page["documents"] or [])
                    metadatas = [dict(m) for m in (page["metadatas"] or [])]
                    texts = [
                        indexed_text(str(m.get("title", "")), str(m.get("heading", "")), d)
                        for m, d in zip(metadatas, documents, strict=True)
                    ]
                    vectors = self._embeddings.embed_array(texts)
                    self._collection.upsert(ids=ids, embeddings=vectors, documents=documents, metadatas=metadatas)
                    done += len(ids)
                    if on_progress:
                        on_progress(done, total)
                    if len(ids) < UPGRADE_PAGE:
                        break
                self._client.delete_collection(name)
                moved += done
                log.warning("re-embedded %d chunks of the knowledge index for %s", done, self._embeddings.name)
        finally:
            if lock is not None:
                lock.close()
        with self._lock:
            self._version.bump()
            self._snapshot = None
        return moved

    def upsert_document(
        self,
        session: Session,
        *,
        source: str,
        document: LoadedDocument,
        digest: str,
        location: str,
    ) -> int:
        """Replace every chunk of `source` with the chunks of `document`; returns the chunk count."""
        chunks = chunk_document(document)
        pending = PendingChunks()
        pending.extend(source, chunks, location, document.audience)
        self._write(pending)
        row = session.scalar(select(KnowledgeDocument).where(KnowledgeDocument.source == source))
        self._save_row(session, row, source=source, document=document, digest=digest, chunk_count=len(chunks))
        return len(chunks)

    @staticmethod
    def _save_row(
        session: Session,
        row: KnowledgeDocument | None,
        *,
        source: str,
        document: LoadedDocument,
        digest: str,
        chunk_count: int,
    ) -> None:
        if row is None:
            row = KnowledgeDocument(source=source, title=document.title, content_hash=digest)
            session.add(row)
        row.title = document.title[:500]
        row.url = document.url
        row.audience = document.audience
        row.content_hash = digest
        row.chunk_count = chunk_count
        row.ingested_at = utcnow()
        session.flush()

    def _write(self, pending: PendingChunks) -> None:
        """Replace the chunks of every source in `pending` with the pending ones, publish a new version for other
        processes, and bring this process's snapshot up to date from what was written (no reload)."""
        if not pending.sources:
            return
        self.upgrade_store()
        vectors = self._embeddings.embed_array(pending.indexed)  # it batches texts of about the same length
        for start in range(0, len(pending.sources), WRITE_BATCH):
            sources = pending.sources[start : start + WRITE_BATCH]
            self._collection.delete(where={"source": {"$in": sources}} if len(sources) > 1 else {"source": sources[0]})
        for start in range(0, len(pending.ids), WRITE_BATCH):
            end = start + WRITE_BATCH
            self._collection.add(
                ids=pending.ids[start:end],
                embeddings=vectors[start:end],
                documents=pending.documents[start:end],
                metadatas=pending.metadatas[start:end],
            )
        with self._lock:
            before, version = self._version.bump()
            snapshot = self._snapshot
            if snapshot is not None:
                # Current only if nobody else wrote since it was built; if someone did, it still holds this write
                # but stays marked behind, and the next search reloads in the background.
                current = snapshot.version is not None and snapshot.version == before
                self._snapshot = updated_snapshot(snapshot, pending, vectors, version if current else None)

    def remove_document(self, session: Session, source: str) -> bool:
        pending = PendingChunks()
        removed = self._forget(session, source, pending)
        self._write(pending)
        return removed

    @staticmethod
    def _forget(session: Session, source: str, pending: PendingChunks) -> bool:
        """Delete the row of `source` and queue the removal of its chunks."""
        pending.remove(source)
        row = session.scalar(select(KnowledgeDocument).where(KnowledgeDocument.source == source))
        if row is None:
            return False
        session.delete(row)
        session.flush()
        return True

    def ingest(
        self,
        session: Session,
        paths: Sequence[Path],
        *,
        on_progress: ProgressCallback | None = None,
        location_base: Path | None = None,
        audience: str | None = None,
    ) -> IngestReport:
        """Ingest files and folders. Unchanged files are skipped by content hash, changed ones replaced,
        files deleted from an ingested folder removed. `audience`, when given, is every file's audience instead of
        what its front matter says (documents uploaded in the console with an audience chosen there)."""
        if audience is not None and audience not in AUDIENCES:
            raise ValueError(f"unknown audience {audience!r}; use one of: {', '.join(AUDIENCES)}")
        started = time.perf_counter()
        report = IngestReport()
        files: list[Path] = []
        rows = {row.source: row for row in session.scalars(select(KnowledgeDocument))}
        known = {source: row.content_hash for source, row in rows.items()}
        # Removals and new chunks are written to Chroma together, ~WRITE_BATCH chunks at a time.
        pending = PendingChunks()
        for path in paths:
            if path.is_dir():
                found = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
                for candidate in found:
                    if candidate.suffix.lower() in SUPPORTED_SUFFIXES:
                        files.append(candidate)
                    else:
                        report.skipped[str(candidate)] = f"unsupported file type {candidate.suffix or '(none)'}"
                prefix = source_key(path) + "/"
                present = {source_key(p) for p in found}
                for source in known:
                    if source.startswith(prefix) and source not in present:
                        self._forget(session, source, pending)
                        report.removed.append(source)
            elif path.is_file():
                files.append(path)
            elif source_key(path) in known:
                self._forget(session, source_key(path), pending)
                report.removed.append(source_key(path))
            else:
                report.failed[str(path)] = "no such file or folder"
        # The same file named twice (a folder and a file in it) is ingested once.
        unique: dict[str, Path] = {}
        for file in files:
            unique.setdefault(source_key(file), file)
        files = list(unique.values())
        for done, file in enumerate(files, start=1):
            self._ingest_file(session, file, rows, report, location_base, pending, audience)
            if len(pending.ids) >= WRITE_BATCH:
                self._write(pending)
                pending = PendingChunks()
            if on_progress:
                on_progress(done, len(files), str(file))
        # Written before the caller commits: if Chroma fails, the caller's transaction rolls the rows back.
        self._write(pending)
        report.seconds = time.perf_counter() - started
        return report

    def _ingest_file(
        self,
        session: Session,
        file: Path,
        rows: dict[str, KnowledgeDocument],
        report: IngestReport,
        location_base: Path | None,
        pending: PendingChunks,
        audience: str | None = None,
    ) -> None:
        source = source_key(file)
        known = rows.get(source)
        try:
            data = file.read_bytes()
        except OSError as exc:
            report.failed[str(file)] = f"cannot read: {exc.strerror}"
            return
        digest = content_hash(data)
        if known is not None and known.content_hash == digest:
            report.unchanged.append(source)
            return
        try:
            document = load_document(file)
        except (UnsupportedDocument, CorruptDocument) as exc:
            report.failed[str(file)] = str(exc)
            return
        if audience is not None:
            document.audience = audience
        if document.is_empty:
            report.skipped[str(file)] = "no text found"
            if known is not None:  # it had text before: stop citing what is no longer there
                self._forget(session, source, pending)
                report.removed.append(source)
            return
        location = document.url or _display_path(file, location_base)
        chunks = chunk_document(document)
        # A savepoint per file: one bad file never leaves half its rows behind. Its chunks are queued only once
        # its row is written, and the queue is written to Chroma before ingest returns.
        with session.begin_nested():
            self._save_row(session, known, source=source, document=document, digest=digest, chunk_count=len(chunks))
        pending.extend(source, chunks, location, document.audience)
        report.chunks += len(chunks)
        (report.updated if known is not None else report.added).append(source)

    # ---------------------------------------------------------------- reading

    def _ensure_cache(self) -> Snapshot:
        """The snapshot to search. When another process wrote, a reload starts in the background; a search waits
        for it at most STALE_WAIT_SECONDS and otherwise answers from the previous snapshot. Only the very first
        search waits for the whole load, as there is nothing to answer from yet."""
        snapshot = self._snapshot
        if snapshot is None:
            with self._lock:
                if self._snapshot is None:
                    self._snapshot = load_snapshot(
                        self._collection, self._embeddings.dimensions, self._version.current()
                    )
                return self._snapshot
        if snapshot.version != self._version.current():
            self._start_reload().join(STALE_WAIT_SECONDS)
        return self._snapshot or snapshot

    def _start_reload(self) -> threading.Thread:
        with self._reload_guard:
            if self._reloader is None or not self._reloader.is_alive():
                self._reloader = threading.Thread(target=self._reload, name="knowledge-index-reload", daemon=True)
                self._reloader.start()
            return self._reloader

    def _reload(self) -> None:
        try:
            with self._lock:
                version = self._version.current()  # before reading: a write during the read shows as a newer one
                if self._snapshot is None or self._snapshot.version != version:
                    self._snapshot = load_snapshot(self._collection, self._embeddings.dimensions, version)
        except Exception:
            log.exception("reloading the knowledge index failed; still answering from the previous one")

    def count(self) -> int:
        return int(self._collection.count())

    def search(self, query: str, *, k: int = 5, audiences: Iterable[str] | None = None) -> list[Hit]:
        """Top-k chunks by reciprocal-rank fusion of vector and keyword rankings."""
        snapshot = self._ensure_cache()
        if not snapshot.ids or not query.strip():
            return []
        allowed = set(audiences) if audiences is not None else None
        if allowed is not None and not allowed:
            return []
        query_vector = self._embeddings.embed_array([query])[0]
        n = min(CANDIDATES, len(snapshot.ids))
        vector_ids = vector_ranking(self._collection, snapshot, query_vector, n, allowed)
        keyword_ids = keyword_ranking(snapshot, query, n, allowed)
        fused: dict[str, float] = {}
        for ranking, weight in ((vector_ids, VECTOR_WEIGHT), (keyword_ids, 1.0)):
            for rank, chunk_id in enumerate(ranking):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (RRF_K + rank + 1)
        keyword_rank = {chunk_id: rank for rank, chunk_id in enumerate(keyword_ids)}
        vector_rank = {chunk_id: rank for rank, chunk_id in enumerate(vector_ids)}
        best = sorted(fused.items(), key=lambda item: item[1], reverse=True)[:k]
        hits = []
        for chunk_id, score in best:
            position = snapshot.position.get(chunk_id)
            if position is None:
                continue
            meta = snapshot.metas[position]
            hits.append(
                Hit(
                    chunk_id=chunk_id,
                    source=str(meta["source"]),
                    title=str(meta.get("title", "")),
                    heading=str(meta.get("heading", "")),
                    location=str(meta.get("location", "")),
                    audience=str(meta.get("audience", "everyone")),
                    text=snapshot.texts[position],
                    score=score,
                    similarity=float(snapshot.vectors[position] @ query_vector),
                    keyword_rank=keyword_rank.get(chunk_id),
                    vector_rank=vector_rank.get(chunk_id),
                )
            )
        return hits

    def idf_weights(self, terms: Iterable[str]) -> dict[str, float]:
        """Inverse document frequency over chunks for each stemmed term; unseen terms weigh the most."""
        snapshot = self._ensure_cache()
        total = max(len(snapshot.ids), 1)
        return {term: math.log((total + 1) / (snapshot.document_frequency.get(term, 0) + 0.5)) for term in terms}


def _display_path(file: Path, base: Path | None) -> str:
    resolved = file.resolve()
    for root in (base, Path.cwd()):
        if root is None:
            continue
        try:
            return resolved.relative_to(root.resolve()).as_posix()
        except ValueError:
            continue
    return resolved.as_posix()
