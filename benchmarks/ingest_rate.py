"""Ingest speed: pages per second into a fresh store, ours (`KnowledgeIndex.ingest`) against the naive way
(load each file, then embed and add its chunks to Chroma one at a time). The embedding model is loaded
before the clock starts for both."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import chroma_client, cpu_seconds, log, peak_rss_mb


def _pages(corpus: Path, limit: int | None) -> list[Path]:
    from knowledge.loaders import SUPPORTED_SUFFIXES

    files = sorted(p for p in corpus.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)
    return files[:limit] if limit else files


def run(*, corpus: Path, impl: str, limit: int | None) -> dict[str, Any]:
    from bot.db import Database
    from bot.migrate import upgrade
    from knowledge.embeddings import WordLlamaEmbeddings
    from knowledge.index import KnowledgeIndex

    files = _pages(corpus, limit)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if limit:  # a subset: copy it, so a folder ingest sees exactly these pages
            subset = work / "pages"
            for file in files:
                target = subset / file.relative_to(corpus)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(file.read_bytes())
            corpus, files = subset, _pages(subset, None)
        embeddings = WordLlamaEmbeddings()
        embeddings.embed_array(["warm up"])
        url = f"sqlite:///{work / 'ingest.db'}"
        upgrade(url)
        database = Database(url)
        index = KnowledgeIndex.persistent(work / "chroma", embeddings)
        log(f"  ingest ({impl}): {len(files)} pages from {corpus}…")
        cpu_before = cpu_seconds()
        started = time.perf_counter()
        if impl == "ours":
            with database.session_scope() as session:
                report = index.ingest(session, [corpus])
            chunks = report.chunks
        else:
            chunks = _naive_ingest(chroma_client(work / "chroma"), index.embeddings, files)
        seconds = time.perf_counter() - started
        cpu = cpu_seconds() - cpu_before
        stored = index.count()
        database.dispose()
    return {
        "impl": impl,
        "pages": len(files),
        "chunks": chunks,
        "stored_chunks": stored,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "pages_per_s": round(len(files) / seconds, 1),
        "peak_rss_mb": peak_rss_mb(),
    }


def _naive_ingest(client: Any, embeddings: Any, files: list[Path]) -> int:
    """Each chunk embedded and added to Chroma on its own, as a first version would (and no bookkeeping of
    which files are in, so no incremental re-ingest)."""
    from knowledge.chunking import chunk_document
    from knowledge.index import COLLECTION, source_key
    from knowledge.loaders import load_document

    collection = client.get_collection(COLLECTION, embedding_function=None)
    count = 0
    for file in files:
        document = load_document(file)
        source = source_key(file)
        for n, chunk in enumerate(chunk_document(document)):
            vector = embeddings.embed_array([chunk.indexed_text])
            collection.add(
                ids=[f"{source}:{n}"],
                embeddings=vector,
                documents=[chunk.text],
                metadatas=[{"source": source, "title": chunk.title, "heading": chunk.heading, "audience": "everyone"}],
            )
            count += 1
    return count
