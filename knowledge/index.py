"""The knowledge index: chunks in Chroma (embedded vectors) plus a bm25s keyword index, fused by
reciprocal rank. Documents are tracked in the database by content hash so re-ingest is incremental."""

from __future__ import annotations

import hashlib
import logging
import math
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
from knowledge.chunking import Chunk, chunk_document
from knowledge.embeddings import WordLlamaEmbeddings
from knowledge.loaders import (
    SUPPORTED_SUFFIXES,
    CorruptDocument,
    LoadedDocument,
    UnsupportedDocument,
    load_document,
)

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
COLLECTION = "knowledge"
# In client/server mode every write leaves a fresh random number under this key in the collection's metadata.
VERSION_KEY = "content_version"
RRF_K = 60
CANDIDATES = 30
_STEMMER = Stemmer.Stemmer("english")
ProgressCallback = Callable[[int, int, str], None]
# Chunks written to Chroma per call during ingest: each add and delete has a fixed cost (a transaction, index
# updates), so one write per ~100 files instead of one per file makes a first ingest several times faster.
WRITE_BATCH = 2000
READ_PAGE = 5000  # chunks per Chroma `get` when loading the cache


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


class KnowledgeIndex:
    """Hybrid (vector + keyword) index over SOP chunks."""

    def __init__(
        self,
        client: Any,
        embeddings: WordLlamaEmbeddings,
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
        # A file whose mtime changes on every write lets other processes (web vs CLI) see new content.
        self._version_file = version_file
        # Web workers on other hosts cannot see a local file: with a server they compare the version stored
        # beside the data, fetched at most every `shared_version_seconds` so most searches cost no extra call.
        self._shared_every = shared_version_seconds
        self._shared_stamp: int | None = None
        self._shared_checked = 0.0
        self._lock = threading.Lock()
        self._cache_version: tuple[int, int] | None = None
        self._ids: list[str] = []
        self._texts: list[str] = []
        self._metas: list[dict[str, Any]] = []
        self._vectors = np.zeros((0, embeddings.dimensions), dtype=np.float32)
        self._bm25: bm25s.BM25 | None = None
        self._position: dict[str, int] = {}
        self._document_frequency: dict[str, int] = {}
        self._audience_counts: dict[str, int] = {}

    @classmethod
    def persistent(cls, directory: Path, embeddings: WordLlamaEmbeddings | None = None) -> KnowledgeIndex:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        directory.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(
            path=str(directory), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=True)
        )
        return cls(client, embeddings or WordLlamaEmbeddings(), version_file=directory / "index.version")

    @classmethod
    def server(
        cls, url: str, embeddings: WordLlamaEmbeddings | None = None, *, version_check_seconds: float = 1.0
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
        return cls(client, embeddings or WordLlamaEmbeddings(), shared_version_seconds=version_check_seconds)

    @property
    def embeddings(self) -> WordLlamaEmbeddings:
        return self._embeddings

    # ---------------------------------------------------------------- writing

    def _touch(self) -> None:
        self._cache_version = None
        if self._version_file is not None:
            self._version_file.write_text(str(time.time_ns()))
        if self._shared_every is not None:
            # After the data, so a process that sees the new number finds the new chunks. modify() replaces the
            # metadata; the cosine distance is kept in the collection's configuration, which it leaves alone.
            stamp = secrets.randbits(62)
            self._collection.modify(metadata={VERSION_KEY: stamp})
            self._shared_stamp, self._shared_checked = stamp, time.monotonic()

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
        self._write_chunks(pending)
        row = session.scalar(select(KnowledgeDocument).where(KnowledgeDocument.source == source))
        self._save_row(session, row, source=source, document=document, digest=digest, chunk_count=len(chunks))
        self._touch()
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

    def _write_chunks(self, pending: _PendingChunks) -> None:
        """Replace the chunks of every source in `pending` with the pending ones."""
        if not pending.sources:
            return
        # Sorted by length, so each embedding batch pads its texts to about the same length.
        order = sorted(range(len(pending.indexed)), key=lambda i: len(pending.indexed[i]))
        vectors = np.empty((len(order), self._embeddings.dimensions), dtype=np.float32)
        vectors[order] = self._embeddings.embed_array([pending.indexed[i] for i in order])
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
        row = session.scalar(select(KnowledgeDocument).where(KnowledgeDocument.source == source))
        self._collection.delete(where={"source": source})
        self._touch()
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
    ) -> IngestReport:
        """Ingest files and folders. Unchanged files are skipped by content hash, changed ones replaced,
        files deleted from an ingested folder removed."""
        started = time.perf_counter()
        report = IngestReport()
        files: list[Path] = []
        rows = {row.source: row for row in session.scalars(select(KnowledgeDocument))}
        known = {source: row.content_hash for source, row in rows.items()}
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
                        self.remove_document(session, source)
                        report.removed.append(source)
            elif path.is_file():
                files.append(path)
            elif source_key(path) in known:
                self.remove_document(session, source_key(path))
                report.removed.append(source_key(path))
            else:
                report.failed[str(path)] = "no such file or folder"
        # The same file named twice (a folder and a file in it) is ingested once.
        unique: dict[str, Path] = {}
        for file in files:
            unique.setdefault(source_key(file), file)
        files = list(unique.values())
        pending = _PendingChunks()
        for done, file in enumerate(files, start=1):
            self._ingest_file(session, file, rows, report, location_base, pending)
            if len(pending.ids) >= WRITE_BATCH:
                self._flush(pending)
                pending = _PendingChunks()
            if on_progress:
                on_progress(done, len(files), str(file))
        # Written before the caller commits: if Chroma fails, the caller's transaction rolls the rows back.
        self._flush(pending)
        report.seconds = time.perf_counter() - started
        return report

    def _flush(self, pending: _PendingChunks) -> None:
        if pending.sources:
            self._write_chunks(pending)
            self._touch()

    def _ingest_file(
        self,
        session: Session,
        file: Path,
        rows: dict[str, KnowledgeDocument],
        report: IngestReport,
        location_base: Path | None,
        pending: _PendingChunks,
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
        if document.is_empty:
            report.skipped[str(file)] = "no text found"
            if known is not None:  # it had text before: stop citing what is no longer there
                self.remove_document(session, source)
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
            # Every write rewrites this file with a new number once the data is in (`_touch`), so the number alone
            # tells whether this or another process wrote: reading it takes microseconds, where Chroma's count()
            # took milliseconds on every search.
            try:
                return (int(self._version_file.read_text(encoding="ascii") or 0), 0)
            except (OSError, ValueError):
                pass  # a store never written by this code: fall back to the count
        return (0, self._collection.count())

    def _ensure_cache(self) -> None:
        version = self._current_version()
        if self._cache_version == version:
            return
        with self._lock:
            if self._cache_version == version:
                return
            self._ids, self._texts, self._metas, self._vectors = self._read_all()
            self._position = {chunk_id: i for i, chunk_id in enumerate(self._ids)}
            audiences: dict[str, int] = {}
            for meta in self._metas:
                audience = str(meta.get("audience", "everyone"))
                audiences[audience] = audiences.get(audience, 0) + 1
            self._audience_counts = audiences
            frequency: dict[str, int] = {}
            for meta, text in zip(self._metas, self._texts, strict=True):
                for term in set(stem_terms(f"{meta.get('title', '')} {meta.get('heading', '')} {text}")):
                    frequency[term] = frequency.get(term, 0) + 1
            self._document_frequency = frequency
            if self._ids:
                corpus = [
                    f"{m.get('title', '')} {m.get('heading', '')}\n{t}"
                    for m, t in zip(self._metas, self._texts, strict=True)
                ]
                retriever = bm25s.BM25()
                retriever.index(_tokenize(corpus), show_progress=False)
                self._bm25 = retriever
            else:
                self._bm25 = None
            self._cache_version = version

    def _read_all(self) -> tuple[list[str], list[str], list[dict[str, Any]], np.ndarray]:
        """Every chunk's id, text, metadata and vector, read in pages: one `get` of everything fails past
        ~30k chunks (SQLite's limit on query variables)."""
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
        return ids, texts, metas, matrix

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
        self._ensure_cache()
        if not self._ids or not query.strip():
            return []
        allowed = set(audiences) if audiences is not None else None
        if allowed is not None and not allowed:
            return []
        query_vector = self._embeddings.embed_array([query])[0]
        n = min(CANDIDATES, len(self._ids))
        vector_ids = self._vector_ids(query_vector, n, allowed)
        keyword_ids = self._keyword_ids(query, n, allowed)
        fused: dict[str, float] = {}
        for ranking in (vector_ids, keyword_ids):
            for rank, chunk_id in enumerate(ranking):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
        keyword_rank = {chunk_id: rank for rank, chunk_id in enumerate(keyword_ids)}
        vector_rank = {chunk_id: rank for rank, chunk_id in enumerate(vector_ids)}
        best = sorted(fused.items(), key=lambda item: item[1], reverse=True)[:k]
        hits = []
        for chunk_id, score in best:
            position = self._position.get(chunk_id)
            if position is None:
                continue
            meta = self._metas[position]
            hits.append(
                Hit(
                    chunk_id=chunk_id,
                    source=str(meta["source"]),
                    title=str(meta.get("title", "")),
                    heading=str(meta.get("heading", "")),
                    location=str(meta.get("location", "")),
                    audience=str(meta.get("audience", "everyone")),
                    text=self._texts[position],
                    score=score,
                    similarity=float(self._vectors[position] @ query_vector),
                    keyword_rank=keyword_rank.get(chunk_id),
                    vector_rank=vector_rank.get(chunk_id),
                )
            )
        return hits

    def _vector_ids(self, query_vector: np.ndarray, n: int, allowed: set[str] | None) -> list[str]:
        """The `n` nearest chunks the asker may see. Chroma's query with a metadata filter took ~30 ms at 10k
        chunks, against ~1.5 ms for 10n neighbours without one; so when most chunks are allowed, take those and
        keep the allowed ones. Chroma filters only for rare audiences, or when fewer than n were allowed. Both
        are approximate: on our dev questions at 10k chunks, 3/4 of them for everyone, the top 30 matched an
        exact search in 133 of 175 questions this way and in 104 with Chroma's filter."""
        embedding = [query_vector.tolist()]
        if allowed is None:
            return list(self._collection.query(query_embeddings=embedding, n_results=n, include=[])["ids"][0])
        share = sum(self._audience_counts.get(a, 0) for a in allowed) / max(len(self._ids), 1)
        if share >= 0.25:
            wide = min(n * 10, len(self._ids))
            nearest = self._collection.query(query_embeddings=embedding, n_results=wide, include=[])["ids"][0]
            ids: list[str] = []
            for chunk_id in nearest:
                if self._audience(chunk_id) in allowed:
                    ids.append(chunk_id)
                    if len(ids) >= n:
                        break
            if len(ids) >= n or wide >= len(self._ids):
                return ids
        where = {"audience": {"$in": sorted(allowed)}}
        return list(self._collection.query(query_embeddings=embedding, n_results=n, where=where, include=[])["ids"][0])

    def _audience(self, chunk_id: str) -> str | None:
        position = self._position.get(chunk_id)
        return None if position is None else str(self._metas[position].get("audience", "everyone"))

    def _keyword_ids(self, query: str, n: int, allowed: set[str] | None) -> list[str]:
        if self._bm25 is None:
            return []
        tokens = _tokenize([query])
        if not tokens.vocab:
            return []
        try:
            # What BM25.retrieve does for one query, without its per-call progress-bar set-up (~1 ms).
            terms = bm25s.tokenization.convert_tokenized_to_string_list(tokens)[0]
            all_scores = self._bm25.get_scores(terms)
            scores, results = bm25s.selection.topk(all_scores, k=min(len(self._ids), n * 3), sorted=True)
        except (ValueError, KeyError):
            return []
        ids = []
        for position, score in zip(results, scores, strict=True):
            if score <= 0:
                continue
            meta = self._metas[int(position)]
            if allowed is not None and meta.get("audience", "everyone") not in allowed:
                continue
            ids.append(self._ids[int(position)])
            if len(ids) >= n:
                break
        return ids

    def idf_weights(self, terms: Iterable[str]) -> dict[str, float]:
        """Inverse document frequency over chunks for each stemmed term; unseen terms weigh the most."""
        self._ensure_cache()
        total = max(len(self._ids), 1)
        return {term: math.log((total + 1) / (self._document_frequency.get(term, 0) + 0.5)) for term in terms}


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
