"""The knowledge index: chunks in Chroma (embedded vectors) plus a bm25s keyword index, fused by
reciprocal rank. Documents are tracked in the database by content hash so re-ingest is incremental."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import math
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import bm25s
import numpy as np
import Stemmer
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.models import KnowledgeDocument
from knowledge.chunking import Chunk, chunk_document, indexed_text
from knowledge.embeddings import MiniLMEmbeddings
from knowledge.loaders import (
    AUDIENCES,
    SUPPORTED_SUFFIXES,
    CorruptDocument,
    LoadedDocument,
    UnsupportedDocument,
    load_document,
)

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
# The chunks and their all-MiniLM-L6-v2 vectors. A store written before (WordLlama vectors, in the collections of
# PREVIOUS_COLLECTIONS) is re-embedded into it once, by `upgrade_store`.
COLLECTION = "knowledge-minilm"
PREVIOUS_COLLECTIONS = ("knowledge",)
UPGRADE_PAGE = 500  # chunks read, embedded and written per step of an upgrade (one progress step)
UpgradeProgress = Callable[[int, int], None]
# In client/server mode every write leaves a fresh random number under this key in the collection's metadata.
VERSION_KEY = "content_version"
RRF_K = 60
# The vector ranking counts twice the keyword ranking in the fusion: with all-MiniLM-L6-v2 the nearest chunk is
# usually the right one even when the words differ ("set up the VPN on my mac" / a section headed "macOS"). On our
# dev sets it changed little (TTS retrieval: recall@5 0.94 -> 0.95, MRR 0.882 -> 0.883; answers: fact hit
# 0.60 -> 0.61 TTS, 0.45 GitLab either way); at 3 recall@5 fell back to 0.94.
VECTOR_WEIGHT = 2.0
CANDIDATES = 30
_STEMMER = Stemmer.Stemmer("english")
ProgressCallback = Callable[[int, int, str], None]
# Chunks written to Chroma per call during ingest: each add and delete has a fixed cost (a transaction, index
# updates), so one write per ~100 files instead of one per file makes a first ingest several times faster.
WRITE_BATCH = 2000
READ_PAGE = 5000  # chunks per Chroma `get` when loading the cache
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


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    chunks: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.removed)} removed, {len(self.failed)} failed, {len(self.skipped)} skipped; "
            f"{self.chunks} chunks written in {self.seconds:.2f}s"
        )


@dataclass
class _PendingChunks:
    """Chunks of whole documents waiting to be embedded and written to Chroma in one go."""

    sources: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    indexed: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    metadatas: list[dict[str, Any]] = field(default_factory=list)

    def remove(self, source: str) -> None:
        """Drop every chunk of `source` (a source with no chunks queued)."""
        self.sources.append(source)

    def extend(self, source: str, chunks: list[Chunk], location: str, audience: str) -> None:
        prefix = _chunk_prefix(source)
        self.sources.append(source)
        self.ids.extend(f"{prefix}:{i}" for i in range(len(chunks)))
        self.indexed.extend(c.indexed_text for c in chunks)
        self.documents.extend(c.text for c in chunks)
        self.metadatas.extend(KnowledgeIndex._meta(c, source, location, audience) for c in chunks)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def source_key(path: Path) -> str:
    return path.resolve().as_posix()


def _chunk_prefix(source: str) -> str:
    # Stable ids: the same source always maps to the same chunk ids.
    return hashlib.sha1(source.encode()).hexdigest()[:16]


def _tokenize(texts: list[str]) -> Any:
    return bm25s.tokenize(texts, stopwords="en", stemmer=_STEMMER, show_progress=False)


def _keyword_text(meta: dict[str, Any], text: str) -> str:
    """What the keyword index and the document frequencies see of a chunk: its title, heading path and text."""
    return f"{meta.get('title', '')} {meta.get('heading', '')}\n{text}"


@dataclass
class _Snapshot:
    """Everything a search reads, for one version of the store. Never changed once published: a write or a reload
    builds a new one and swaps it in, so a search holds one consistent snapshot without taking a lock."""

    version: tuple[int, int] | None  # None: known to be behind the store (reloaded in the background)
    ids: list[str]
    texts: list[str]
    metas: list[dict[str, Any]]
    vectors: np.ndarray
    # Each chunk's keyword tokens, as ids of `tokenizer`'s vocabulary: a write re-indexes from these instead of
    # tokenising every chunk again. The tokenizer's vocabulary only grows, until the next full reload.
    tokens: list[list[int]]
    tokenizer: bm25s.tokenization.Tokenizer
    document_frequency: dict[str, int]
    position: dict[str, int] = field(init=False)
    audience_counts: dict[str, int] = field(init=False)
    bm25: bm25s.BM25 | None = field(init=False)

    def __post_init__(self) -> None:
        self.position = {chunk_id: i for i, chunk_id in enumerate(self.ids)}
        self.audience_counts = {}
        for meta in self.metas:
            audience = str(meta.get("audience", "everyone"))
            self.audience_counts[audience] = self.audience_counts.get(audience, 0) + 1
        self.bm25 = None
        if self.ids:
            self.bm25 = bm25s.BM25()
            # A copy of the vocabulary: the tokenizer keeps growing with later writes, this index must not.
            self.bm25.index((self.tokens, dict(self.tokenizer.get_vocab_dict())), show_progress=False)


def _new_tokenizer() -> bm25s.tokenization.Tokenizer:
    return bm25s.tokenization.Tokenizer(stopwords="en", stemmer=_STEMMER)


def _token_ids(tokenizer: bm25s.tokenization.Tokenizer, texts: list[str]) -> list[list[int]]:
    ids: list[list[int]] = tokenizer.tokenize(texts, update_vocab=True, return_as="ids", show_progress=False)
    return ids


def _count_terms(frequency: dict[str, int], keyword_texts: Iterable[str], step: int) -> None:
    """Add `step` to the document frequency of each term of each text (step -1 takes removed chunks out)."""
    for keyword_text in keyword_texts:
        for term in set(stem_terms(keyword_text)):
            count = frequency.get(term, 0) + step
            if count > 0:
                frequency[term] = count
            else:
                frequency.pop(term, None)


def _updated(
    old: _Snapshot, pending: _PendingChunks, vectors: np.ndarray, version: tuple[int, int] | None
) -> _Snapshot:
    """`old` with the chunks of `pending.sources` replaced by the pending ones: what a reload would find after
    this write, without reading Chroma again or tokenising the unchanged chunks."""
    replaced = set(pending.sources)
    keep: list[int] = []
    dropped: list[int] = []
    for i, meta in enumerate(old.metas):
        (dropped if meta.get("source") in replaced else keep).append(i)
    metas = [dict(m) for m in pending.metadatas]
    added_texts = [_keyword_text(m, t) for m, t in zip(metas, pending.documents, strict=True)]
    frequency = dict(old.document_frequency)
    _count_terms(frequency, (_keyword_text(old.metas[i], old.texts[i]) for i in dropped), -1)
    _count_terms(frequency, added_texts, +1)
    return _Snapshot(
        version,
        [old.ids[i] for i in keep] + pending.ids,
        [old.texts[i] for i in keep] + pending.documents,
        [old.metas[i] for i in keep] + metas,
        np.concatenate([old.vectors[keep], vectors]),
        [old.tokens[i] for i in keep] + _token_ids(old.tokenizer, added_texts),
        old.tokenizer,
        frequency,
    )


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
        # A file whose mtime changes on every write lets other processes (web vs CLI) see new content.
        self._version_file = version_file
        # Web workers on other hosts cannot see a local file: with a server they compare the version stored
        # beside the data, fetched at most every `shared_version_seconds` so most searches cost no extra call.
        self._shared_every = shared_version_seconds
        self._shared_stamp: int | None = None
        self._shared_checked = 0.0
        # Held to build or replace the snapshot (a reload, or this process's own write); searches never take it.
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
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

    def _bump_version(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """Publish a new content version once a write's data is in Chroma; returns (the version before, the new one).
        Other processes compare it with their snapshot's; this one uses "before" to tell whether its own snapshot
        was current, i.e. whether nobody else wrote since it was built."""
        if self._version_file is not None:
            # Under a lock, so no other process's number can land between our read and our write and be lost;
            # replaced atomically, so a reader never sees a half-written file.
            with open(self._version_file.with_name(self._version_file.name + ".lock"), "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                before = self._current_version()
                stamp = time.time_ns()
                temporary = self._version_file.with_name(f"{self._version_file.name}.{os.getpid()}.tmp")
                temporary.write_text(str(stamp), encoding="ascii")
                os.replace(temporary, self._version_file)
                return before, (stamp, 0)
        if self._shared_every is not None:
            # After the data, so a process that sees the new number finds the new chunks. modify() replaces the
            # metadata; the cosine distance is kept in the collection's configuration, which it leaves alone.
            # There is no compare-and-set on a server: a write by another process between these two calls would
            # go unnoticed here (only here) until the next change.
            before = (self._shared_version(0), 0)
            stamp = secrets.randbits(62)
            self._collection.modify(metadata={VERSION_KEY: stamp})
            self._shared_stamp, self._shared_checked = stamp, time.monotonic()
            return before, (stamp, 0)
        return (-1, -1), self._current_version()  # the count: nothing to compare with

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
            self._bump_version()
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
        pending = _PendingChunks()
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

    def _write(self, pending: _PendingChunks) -> None:
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
            before, version = self._bump_version()
            snapshot = self._snapshot
            if snapshot is not None:
                # Current only if nobody else wrote since it was built; if someone did, it still holds this write
                # but stays marked behind, and the next search reloads in the background.
                current = snapshot.version is not None and snapshot.version == before
                self._snapshot = _updated(snapshot, pending, vectors, version if current else None)

    @staticmethod
    def _meta(chunk: Chunk, source: str, location: str, audience: str) -> dict[str, Any]:
        return {
            "source": source,
            "title": chunk.title,
            "heading": chunk.heading,
            "location": location,
            "audience": audience,
        }

    def remove_document(self, session: Session, source: str) -> bool:
        pending = _PendingChunks()
        removed = self._forget(session, source, pending)
        self._write(pending)
        return removed

    @staticmethod
    def _forget(session: Session, source: str, pending: _PendingChunks) -> bool:
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
        pending = _PendingChunks()
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
                pending = _PendingChunks()
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
        pending: _PendingChunks,
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

    def _current_version(self) -> tuple[int, int]:
        if self._shared_every is not None:
            # The number alone, not the count: a changed document is deleted then added, and a reload between
            # the two would serve the index without it.
            return (self._shared_version(self._shared_every), 0)
        if self._version_file is not None:
            # Every write replaces this file with a new number once the data is in (`_bump_version`), so the
            # number alone tells whether this or another process wrote: reading it takes microseconds, where
            # Chroma's count() took milliseconds on every search.
            try:
                return (int(self._version_file.read_text(encoding="ascii") or 0), 0)
            except (OSError, ValueError):
                pass  # a store never written by this code: fall back to the count
        return (0, self._collection.count())

    def _ensure_cache(self) -> _Snapshot:
        """The snapshot to search. When another process wrote, a reload starts in the background; a search waits
        for it at most STALE_WAIT_SECONDS and otherwise answers from the previous snapshot. Only the very first
        search waits for the whole load, as there is nothing to answer from yet."""
        snapshot = self._snapshot
        if snapshot is None:
            with self._lock:
                if self._snapshot is None:
                    self._snapshot = self._load(self._current_version())
                return self._snapshot
        if snapshot.version != self._current_version():
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
                version = self._current_version()  # before reading: a write during the read shows as a newer one
                if self._snapshot is None or self._snapshot.version != version:
                    self._snapshot = self._load(version)
        except Exception:
            log.exception("reloading the knowledge index failed; still answering from the previous one")

    def _load(self, version: tuple[int, int]) -> _Snapshot:
        """Every chunk's id, text, metadata and vector, read in pages (one `get` of everything fails past ~30k
        chunks: SQLite's limit on query variables), tokenised and indexed."""
        ids: list[str] = []
        texts: list[str] = []
        metas: list[dict[str, Any]] = []
        vectors: list[np.ndarray] = []
        while True:
            page = self._collection.get(
                include=["documents", "metadatas", "embeddings"], limit=READ_PAGE, offset=len(ids)
            )
            ids.extend(page["ids"])
            texts.extend(page["documents"] or [])
            metas.extend(dict(m) for m in (page["metadatas"] or []))
            embeddings = page.get("embeddings")
            if embeddings is not None and len(embeddings):
                vectors.append(np.asarray(embeddings, dtype=np.float32))
            if len(page["ids"]) < READ_PAGE:
                break
        matrix = np.concatenate(vectors) if vectors else np.zeros((0, self._embeddings.dimensions), dtype=np.float32)
        keyword_texts = [_keyword_text(m, t) for m, t in zip(metas, texts, strict=True)]
        frequency: dict[str, int] = {}
        _count_terms(frequency, keyword_texts, +1)
        tokenizer = _new_tokenizer()
        tokens = _token_ids(tokenizer, keyword_texts)
        return _Snapshot(version, ids, texts, metas, matrix, tokens, tokenizer, frequency)

    def _shared_version(self, every: float) -> int:
        now = time.monotonic()
        if self._shared_stamp is None or now - self._shared_checked >= every:
            collection = self._client.get_collection(COLLECTION, embedding_function=None)
            self._shared_stamp = int((collection.metadata or {}).get(VERSION_KEY, 0))
            self._shared_checked = now
        return self._shared_stamp

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
        vector_ids = self._vector_ids(snapshot, query_vector, n, allowed)
        keyword_ids = _keyword_ids(snapshot, query, n, allowed)
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

    def _vector_ids(self, snapshot: _Snapshot, query_vector: np.ndarray, n: int, allowed: set[str] | None) -> list[str]:
        """The `n` nearest chunks the asker may see. Chroma's query with a metadata filter took ~30 ms at 10k
        chunks, against ~1.5 ms for 10n neighbours without one; so when most chunks are allowed, take those and
        keep the allowed ones. Chroma filters only for rare audiences, or when fewer than n were allowed. Both
        are approximate: on our dev questions at 10k chunks, 3/4 of them for everyone, the top 30 matched an
        exact search in 133 of 175 questions this way and in 104 with Chroma's filter."""
        embedding = [query_vector.tolist()]
        if allowed is None:
            return list(self._collection.query(query_embeddings=embedding, n_results=n, include=[])["ids"][0])
        share = sum(snapshot.audience_counts.get(a, 0) for a in allowed) / max(len(snapshot.ids), 1)
        if share >= 0.25:
            wide = min(n * 10, len(snapshot.ids))
            nearest = self._collection.query(query_embeddings=embedding, n_results=wide, include=[])["ids"][0]
            ids: list[str] = []
            for chunk_id in nearest:
                if _audience(snapshot, chunk_id) in allowed:
                    ids.append(chunk_id)
                    if len(ids) >= n:
                        break
            if len(ids) >= n or wide >= len(snapshot.ids):
                return ids
        where = {"audience": {"$in": sorted(allowed)}}
        return list(self._collection.query(query_embeddings=embedding, n_results=n, where=where, include=[])["ids"][0])

    def idf_weights(self, terms: Iterable[str]) -> dict[str, float]:
        """Inverse document frequency over chunks for each stemmed term; unseen terms weigh the most."""
        snapshot = self._ensure_cache()
        total = max(len(snapshot.ids), 1)
        return {term: math.log((total + 1) / (snapshot.document_frequency.get(term, 0) + 0.5)) for term in terms}


def _audience(snapshot: _Snapshot, chunk_id: str) -> str | None:
    position = snapshot.position.get(chunk_id)
    return None if position is None else str(snapshot.metas[position].get("audience", "everyone"))


def _keyword_ids(snapshot: _Snapshot, query: str, n: int, allowed: set[str] | None) -> list[str]:
    if snapshot.bm25 is None:
        return []
    tokens = _tokenize([query])
    if not tokens.vocab:
        return []
    try:
        # What BM25.retrieve does for one query, without its per-call progress-bar set-up (~1 ms).
        terms = bm25s.tokenization.convert_tokenized_to_string_list(tokens)[0]
        all_scores = snapshot.bm25.get_scores(terms)
        scores, results = bm25s.selection.topk(all_scores, k=min(len(snapshot.ids), n * 3), sorted=True)
    except (ValueError, KeyError):
        return []
    ids = []
    for position, score in zip(results, scores, strict=True):
        if score <= 0:
            continue
        meta = snapshot.metas[int(position)]
        if allowed is not None and meta.get("audience", "everyone") not in allowed:
            continue
        ids.append(snapshot.ids[int(position)])
        if len(ids) >= n:
            break
    return ids


def stem_terms(text: str) -> list[str]:
    """Content words of `text`, stemmed like the keyword index."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return [_STEMMER.stemWord(w) for w in words if w not in _STOPWORDS and len(w) > 1]


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


_STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
    nor not now of off on once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours yourself yourselves
    get got im ive id whats hey hi please thanks thank tell know need want like much many also us lot""".split()
)
