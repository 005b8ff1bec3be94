"""The baseline the benchmarks compare against: what a first, straightforward version of our retrieval would be.

- keywords: `rank_bm25.BM25Okapi` over every chunk, scored in full for each question (`get_scores`);
- vectors: Chroma's plain query path, `collection.query(query_texts=…)` with the embedding function attached
  to the collection, returning documents and metadata from Chroma for every question;
- the two rankings fused by reciprocal rank exactly like ours, and the same answer extraction afterwards.

It runs on the same Chroma store, questions and tokenisation (our stemmer and stop words) as `KnowledgeIndex`,
so the difference measured is the engineering, not the data."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings

from knowledge.embeddings import WordLlamaEmbeddings
from knowledge.index import CANDIDATES, COLLECTION, RRF_K, Hit, KnowledgeIndex
from knowledge.terms import stem_terms


class WordLlamaFunction(EmbeddingFunction[Documents]):
    """Our embeddings as a Chroma embedding function, so Chroma embeds the query text itself."""

    def __init__(self, embeddings: WordLlamaEmbeddings) -> None:
        self._embeddings = embeddings

    def __call__(self, input: Documents) -> Embeddings:  # noqa: A002 - Chroma's protocol names it so
        return list(self._embeddings.embed_array(list(input)))

    @staticmethod
    def name() -> str:
        return "bench-wordllama"

    def get_config(self) -> dict[str, Any]:
        return {}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> WordLlamaFunction:
        return WordLlamaFunction(WordLlamaEmbeddings())


class NaiveIndex(KnowledgeIndex):
    """`KnowledgeIndex.search` and `idf_weights` done the straightforward way (see the module docstring)."""

    def __init__(self, client: Any, embeddings: WordLlamaEmbeddings) -> None:
        from rank_bm25 import BM25Okapi

        super().__init__(client, embeddings)
        self._plain = client.get_collection(COLLECTION, embedding_function=WordLlamaFunction(embeddings))
        self._all_ids: list[str] = []
        self._all_texts: list[str] = []
        self._all_metas: list[dict[str, Any]] = []
        while True:  # in pages: one get of everything fails past ~30k chunks
            page = self._plain.get(include=["documents", "metadatas"], limit=5000, offset=len(self._all_ids))
            self._all_ids.extend(page["ids"])
            self._all_texts.extend(page["documents"] or [])
            self._all_metas.extend(dict(m) for m in (page["metadatas"] or []))
            if len(page["ids"]) < 5000:
                break
        corpus = [
            stem_terms(f"{m.get('title', '')} {m.get('heading', '')} {t}")
            for m, t in zip(self._all_metas, self._all_texts, strict=True)
        ]
        self._frequency = Counter(term for terms in corpus for term in set(terms))
        self._okapi = BM25Okapi(corpus)

    def search(self, query: str, *, k: int = 5, audiences: Iterable[str] | None = None) -> list[Hit]:
        allowed = set(audiences) if audiences is not None else None
        if not self._all_ids or not query.strip() or (allowed is not None and not allowed):
            return []
        n = min(CANDIDATES, len(self._all_ids))
        where = {"audience": {"$in": sorted(allowed)}} if allowed is not None else None
        result = self._plain.query(
            query_texts=[query], n_results=n, where=where, include=["documents", "metadatas", "distances"]
        )
        vector_ids = list(result["ids"][0])
        found: dict[str, tuple[str, dict[str, Any]]] = {
            chunk_id: (text, dict(meta))
            for chunk_id, text, meta in zip(
                vector_ids, (result["documents"] or [[]])[0], (result["metadatas"] or [[]])[0], strict=True
            )
        }
        scores = self._okapi.get_scores(stem_terms(query))
        keyword_ids: list[str] = []
        for position in np.argsort(-scores):
            if scores[position] <= 0 or len(keyword_ids) >= n:
                break
            meta = self._all_metas[int(position)]
            if allowed is not None and meta.get("audience", "everyone") not in allowed:
                continue
            chunk_id = self._all_ids[int(position)]
            keyword_ids.append(chunk_id)
            found.setdefault(chunk_id, (self._all_texts[int(position)], meta))
        fused: dict[str, float] = {}
        for ranking in (vector_ids, keyword_ids):
            for rank, chunk_id in enumerate(ranking):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
        best = sorted(fused.items(), key=lambda item: item[1], reverse=True)[:k]
        if not best:
            return []
        # The similarity of each hit to the question needs its vector: fetched from Chroma.
        stored = self._plain.get(ids=[chunk_id for chunk_id, _ in best], include=["embeddings"])
        vectors = dict(zip(stored["ids"], np.asarray(stored["embeddings"], dtype=np.float32), strict=True))
        query_vector = self._embeddings.embed_array([query])[0]
        hits = []
        for chunk_id, score in best:
            text, meta = found[chunk_id]
            hits.append(
                Hit(
                    chunk_id=chunk_id,
                    source=str(meta["source"]),
                    title=str(meta.get("title", "")),
                    heading=str(meta.get("heading", "")),
                    location=str(meta.get("location", "")),
                    audience=str(meta.get("audience", "everyone")),
                    text=text,
                    score=score,
                    similarity=float(vectors[chunk_id] @ query_vector),
                    keyword_rank=keyword_ids.index(chunk_id) if chunk_id in keyword_ids else None,
                    vector_rank=vector_ids.index(chunk_id) if chunk_id in vector_ids else None,
                )
            )
        return hits

    def idf_weights(self, terms: Iterable[str]) -> dict[str, float]:
        total = max(len(self._all_ids), 1)
        return {term: math.log((total + 1) / (self._frequency.get(term, 0) + 0.5)) for term in terms}
