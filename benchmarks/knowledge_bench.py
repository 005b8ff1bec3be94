"""Knowledge phases: build (or reuse) a synthetic knowledge base of N chunks, then time retrieval
(`KnowledgeIndex.search`) and policy answers end to end offline (`Assistant.handle`: route → skill → retrieve →
extract → reply, on SQLite) with our index or the naive baseline (benchmarks/naive.py)."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import ASKER, chroma_client, cpu_seconds, latency_summary, log, peak_rss_mb, policy_questions
from benchmarks.synthetic import SECTIONS_PER_PAGE, write_corpus

GENERATOR_VERSION = 1  # bump when benchmarks/synthetic.py changes what it writes
# One new document published while the index is in use (as HR publishing an FAQ), and a question only it answers.
FAQ = """---
title: Bicycle parking FAQ
---
## Where bicycles go

Bicycles go in the locked cage on parking level minus two; the cage door code is on the Facilities intranet
page and changes every quarter. Charge e-bike batteries in the cage, never at your desk.
"""
FAQ_QUESTION = "where do I park my bicycle, and what is the cage door code?"


def _sample_chunks() -> int:
    from bot.runtime import SAMPLE_SOPS
    from knowledge.chunking import chunk_document
    from knowledge.loaders import load_document

    return sum(len(chunk_document(load_document(path))) for path in SAMPLE_SOPS.glob("*.md"))


def prepare_kb(chunks: int, *, cache: Path, seed: int = 7, rebuild: bool = False) -> tuple[Path, dict[str, Any]]:
    """A data dir whose Chroma store holds the sample SOPs plus synthetic pages, about `chunks` chunks in all,
    built with `KnowledgeIndex.ingest`. Reused from `cache` when it was built the same way before."""
    from bot.db import Database
    from bot.migrate import upgrade
    from bot.runtime import SAMPLE_SOPS
    from knowledge.index import KnowledgeIndex

    kb = cache / f"kb-{chunks}-seed{seed}-v{GENERATOR_VERSION}"
    ready = kb / "READY.json"
    if ready.exists() and not rebuild:
        info: dict[str, Any] = json.loads(ready.read_text(encoding="utf-8"))
        log(f"knowledge base of {info['chunks']} chunks reused from {kb} (--rebuild to build it again)")
        return kb, info | {"reused": True}
    if kb.exists():
        shutil.rmtree(kb)
    synthetic = max(0, chunks - _sample_chunks())
    log(f"building a knowledge base of ~{chunks} chunks in {kb} ({synthetic} synthetic)…")
    pages = write_corpus(kb / "corpus", synthetic, seed=seed) if synthetic else 0
    url = f"sqlite:///{kb / 'kb.db'}"
    upgrade(url)
    database = Database(url)
    index = KnowledgeIndex.persistent(kb / "chroma")
    started = time.perf_counter()
    step = max(1, pages // 20)

    def progress(done: int, total: int, _name: str) -> None:
        if done % step == 0 or done == total:
            elapsed = time.perf_counter() - started
            log(f"  ingested {done}/{total} files, {done * SECTIONS_PER_PAGE} chunks, {elapsed:.0f}s")

    with database.session_scope() as session:
        report = index.ingest(session, [SAMPLE_SOPS, kb / "corpus"], on_progress=progress)
    database.dispose()
    info = {
        "chunks": index.count(),
        "pages": pages + len(list(SAMPLE_SOPS.glob("*.md"))),
        "build_seconds": round(time.perf_counter() - started, 1),
        "seed": seed,
    }
    ready.write_text(json.dumps(info), encoding="utf-8")
    log(f"  built: {report.summary()}")
    return kb, info | {"reused": False}


def run(
    *,
    chunks: int,
    impl: str,
    cache: Path,
    rounds: int,
    answer_rounds: int,
    questions: int | None,
    rebuild: bool,
) -> dict[str, Any]:
    """Retrieval and policy-answer latency on a knowledge base of `chunks` chunks, with `impl` = ours | naive."""
    from bot.messages import Message
    from bot.runtime import build_runtime
    from bot.settings import Settings
    from skills.policy.skill import UNSURE

    kb, info = prepare_kb(chunks, cache=cache, rebuild=rebuild)
    asked = policy_questions(questions)
    with tempfile.TemporaryDirectory() as tmp:
        data = kb
        if impl == "ours":  # ours also publishes a document at the end: on a copy, so the cached store stays as built
            data = Path(tmp) / "data"
            shutil.copytree(kb / "chroma", data / "chroma")
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            BACKOFFICE_DATA_DIR=str(data),
            BACKOFFICE_DATABASE_URL=f"sqlite:///{Path(tmp) / 'answers.db'}",
        )
        runtime = build_runtime(settings)
        index = runtime.index
        started = time.perf_counter()
        if impl == "naive":
            from benchmarks.naive import NaiveIndex

            index = NaiveIndex(chroma_client(kb / "chroma"), runtime.index.embeddings)
            runtime.assistant.index = index
        index.search("warm up", k=5, audiences=["everyone"])  # ours loads its cache; both load the model
        load_seconds = time.perf_counter() - started
        log(f"  {impl}: index ready in {load_seconds:.1f}s; timing retrieval over {len(asked)} questions…")
        cpu_before = cpu_seconds()
        retrieval_ms: list[float] = []
        for _ in range(rounds):
            for question in asked:
                t0 = time.perf_counter()
                index.search(question, k=5, audiences=["everyone"])
                retrieval_ms.append((time.perf_counter() - t0) * 1000)
        retrieval_cpu = cpu_seconds() - cpu_before

        # Only what the router sends to the policy skill counts as a policy answer.
        def ask(text: str) -> tuple[float, Any]:
            t0 = time.perf_counter()
            reply = runtime.assistant.handle(Message(user_id=ASKER, text=text, channel=f"web:{ASKER}", platform="web"))
            return (time.perf_counter() - t0) * 1000, reply

        policy = [q for q in asked if ask(q)[1].skill == "policy"]
        log(f"  {impl}: timing {len(policy)} policy answers × {answer_rounds}…")
        answer_ms: list[float] = []
        confident = 0
        for _ in range(answer_rounds):
            for question in policy:
                elapsed, reply = ask(question)
                answer_ms.append(elapsed)
                confident += not reply.text.startswith(UNSURE)
        peak = peak_rss_mb()  # before the write below, which loads a second index
        write = _publish_one_document(runtime, data, Path(tmp)) if impl == "ours" else {}
        runtime.close()
    return {
        "impl": impl,
        "chunks": info["chunks"],
        "kb": info,
        "index_load_seconds": round(load_seconds, 2),
        "retrieval_ms": latency_summary(retrieval_ms),
        "retrieval_cpu_ms_per_query": round(retrieval_cpu * 1000 / max(len(retrieval_ms), 1), 3),
        "answer_ms": latency_summary(answer_ms),
        "answered_share": round(confident / max(len(answer_ms), 1), 3),
        "policy_questions": len(policy),
        "peak_rss_mb": peak,
        **write,
    }


def _publish_one_document(runtime: Any, data: Path, tmp: Path) -> dict[str, Any]:
    """Publish FAQ through the running index (as the policy skill does when HR adds an answer), then time the
    next search in this process and in another one (a second index on the same store, its cache loaded before
    the write), and how long until that other one finds the new document."""
    from knowledge.index import KnowledgeIndex, content_hash
    from knowledge.loaders import parse_markdown

    other = KnowledgeIndex.persistent(data / "chroma", runtime.index.embeddings)
    other.search("warm up", k=5, audiences=["everyone"])
    faq = tmp / "bicycle-parking.md"
    faq.write_text(FAQ, encoding="utf-8")
    source = str(faq)

    def found(index: Any) -> tuple[float, bool]:
        """Timed search; whether the new document is among the 5 hits (the policy skill reads 5)."""
        t0 = time.perf_counter()
        hits = index.search(FAQ_QUESTION, k=5, audiences=["everyone"])
        return (time.perf_counter() - t0) * 1000, any(hit.source == source for hit in hits)

    log("  ours: publishing one document…")
    started = time.perf_counter()
    with runtime.database.session_scope() as session:
        runtime.index.upsert_document(
            session,
            source=source,
            document=parse_markdown(FAQ, "faq"),
            digest=content_hash(FAQ.encode()),
            location="faq",
        )
    write_seconds = time.perf_counter() - started
    first_ms, first_found = found(runtime.index)
    other_ms, other_found = found(other)
    while not other_found and time.perf_counter() - started < 180:
        time.sleep(0.1)
        other_found = found(other)[1]
    return {
        "publish_one_document_seconds": round(write_seconds, 3),
        "first_search_after_publish_ms": round(first_ms, 2),
        "first_search_after_publish_found": first_found,
        "other_process_first_search_after_publish_ms": round(other_ms, 2),
        "other_process_sees_publish_after_s": round(time.perf_counter() - started, 2) if other_found else None,
    }
