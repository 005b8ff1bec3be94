"""The snapshot searches read (every chunk, its vector and keyword tokens), its updates and its two rankings."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import bm25s
import numpy as np

from knowledge.chunking import Chunk
from knowledge.terms import STEMMER, stem_terms

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
READ_PAGE = 5000  # chunks per Chroma `get` when loading the cache


@dataclass
class PendingChunks:
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
        prefix = chunk_prefix(source)
        self.sources.append(source)
        self.ids.extend(f"{prefix}:{i}" for i in range(len(chunks)))
        self.indexed.extend(c.indexed_text for c in chunks)
        self.documents.extend(c.text for c in chunks)
        self.metadatas.extend(chunk_metadata(c, source, location, audience) for c in chunks)


def chunk_prefix(source: str) -> str:
    # Stable ids: the same source always maps to the same chunk ids.
    return hashlib.sha1(source.encode()).hexdigest()[:16]


def tokenize(texts: list[str]) -> Any:
    return bm25s.tokenize(texts, stopwords="en", stemmer=STEMMER, show_progress=False)


def keyword_text(meta: dict[str, Any], text: str) -> str:
    """What the keyword index and the document frequencies see of a chunk: its title, heading path and text."""
    return f"{meta.get('title', '')} {meta.get('heading', '')}\n{text}"


@dataclass
class Snapshot:
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


def new_tokenizer() -> bm25s.tokenization.Tokenizer:
    return bm25s.tokenization.Tokenizer(stopwords="en", stemmer=STEMMER)


def token_ids(tokenizer: bm25s.tokenization.Tokenizer, texts: list[str]) -> list[list[int]]:
    ids: list[list[int]] = tokenizer.tokenize(texts, update_vocab=True, return_as="ids", show_progress=False)
    return ids


def count_terms(frequency: dict[str, int], keyword_texts: Iterable[str], step: int) -> None:
    """Add `step` to the document frequency of each term of each text (step -1 takes removed chunks out)."""
    for keyword_text in keyword_texts:
        for term in set(stem_terms(keyword_text)):
            count = frequency.get(term, 0) + step
            if count > 0:
                frequency[term] = count
            else:
                frequency.pop(term, None)


def updated_snapshot(
    old: Snapshot, pending: PendingChunks, vectors: np.ndarray, version: tuple[int, int] | None
) -> Snapshot:
    """`old` with the chunks of `pending.sources` replaced by the pending ones: what a reload would find after
    this write, without reading Chroma again or tokenising the unchanged chunks."""
    replaced = set(pending.sources)
    keep: list[int] = []
    dropped: list[int] = []
    for i, meta in enumerate(old.metas):
        (dropped if meta.get("source") in replaced else keep).append(i)
    metas = [dict(m) for m in pending.metadatas]
    added_texts = [keyword_text(m, t) for m, t in zip(metas, pending.documents, strict=True)]
    frequency = dict(old.document_frequency)
    count_terms(frequency, (keyword_text(old.metas[i], old.texts[i]) for i in dropped), -1)
    count_terms(frequency, added_texts, +1)
    return Snapshot(
        version,
        [old.ids[i] for i in keep] + pending.ids,
        [old.texts[i] for i in keep] + pending.documents,
        [old.metas[i] for i in keep] + metas,
        np.concatenate([old.vectors[keep], vectors]),
        [old.tokens[i] for i in keep] + token_ids(old.tokenizer, added_texts),
        old.tokenizer,
        frequency,
    )


def chunk_metadata(chunk: Chunk, source: str, location: str, audience: str) -> dict[str, Any]:
    return {
        "source": source,
        "title": chunk.title,
        "heading": chunk.heading,
        "location": location,
        "audience": audience,
    }


def load_snapshot(collection: Any, dimensions: int, version: tuple[int, int]) -> Snapshot:
    """Every chunk's id, text, metadata and vector, read in pages (one `get` of everything fails past ~30k
    chunks: SQLite's limit on query variables), tokenised and indexed."""
    ids: list[str] = []
    texts: list[str] = []
    metas: list[dict[str, Any]] = []
    vectors: list[np.ndarray] = []
    while True:
        page = collection.get(include=["documents", "metadatas", "embeddings"], limit=READ_PAGE, offset=len(ids))
        ids.extend(page["ids"])
        texts.extend(page["documents"] or [])
        metas.extend(dict(m) for m in (page["metadatas"] or []))
        embeddings = page.get("embeddings")
        if embeddings is not None and len(embeddings):
            vectors.append(np.asarray(embeddings, dtype=np.float32))
        if len(page["ids"]) < READ_PAGE:
            break
    matrix = np.concatenate(vectors) if vectors else np.zeros((0, dimensions), dtype=np.float32)
    keyword_texts = [keyword_text(m, t) for m, t in zip(metas, texts, strict=True)]
    frequency: dict[str, int] = {}
    count_terms(frequency, keyword_texts, +1)
    tokenizer = new_tokenizer()
    tokens = token_ids(tokenizer, keyword_texts)
    return Snapshot(version, ids, texts, metas, matrix, tokens, tokenizer, frequency)


def audience_of(snapshot: Snapshot, chunk_id: str) -> str | None:
    position = snapshot.position.get(chunk_id)
    return None if position is None else str(snapshot.metas[position].get("audience", "everyone"))


def keyword_ranking(snapshot: Snapshot, query: str, n: int, allowed: set[str] | None) -> list[str]:
    if snapshot.bm25 is None:
        return []
    tokens = tokenize([query])
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


def vector_ranking(
    collection: Any, snapshot: Snapshot, query_vector: np.ndarray, n: int, allowed: set[str] | None
) -> list[str]:
    """The `n` nearest chunks the asker may see. Chroma's query with a metadata filter took ~30 ms at 10k
    chunks, against ~1.5 ms for 10n neighbours without one; so when most chunks are allowed, take those and
    keep the allowed ones. Chroma filters only for rare audiences, or when fewer than n were allowed. Both
    are approximate: on our dev questions at 10k chunks, 3/4 of them for everyone, the top 30 matched an
    exact search in 133 of 175 questions this way and in 104 with Chroma's filter."""
    embedding = [query_vector.tolist()]
    if allowed is None:
        return list(collection.query(query_embeddings=embedding, n_results=n, include=[])["ids"][0])
    share = sum(snapshot.audience_counts.get(a, 0) for a in allowed) / max(len(snapshot.ids), 1)
    if share >= 0.25:
        wide = min(n * 10, len(snapshot.ids))
        nearest = collection.query(query_embeddings=embedding, n_results=wide, include=[])["ids"][0]
        ids: list[str] = []
        for chunk_id in nearest:
            if audience_of(snapshot, chunk_id) in allowed:
                ids.append(chunk_id)
                if len(ids) >= n:
                    break
        if len(ids) >= n or wide >= len(snapshot.ids):
            return ids
    where = {"audience": {"$in": sorted(allowed)}}
    return list(collection.query(query_embeddings=embedding, n_results=n, where=where, include=[])["ids"][0])
