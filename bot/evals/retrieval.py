"""Retrieval measured in-process: recall@k, MRR, answer keywords and abstention over a fresh index of a corpus."""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.db import Database
from bot.evals.latency import latency_figures
from bot.migrate import upgrade
from knowledge.answer import extract_answer
from knowledge.index import KnowledgeIndex, source_key


@dataclass
class RetrievalResult:
    figures: dict[str, Any]
    misses: list[dict[str, Any]]


def evaluate_retrieval(
    rows: list[dict[str, Any]], corpus: Path, *, k: int = 5, min_score: float, work_dir: Path | None = None
) -> RetrievalResult:
    """Ingest `corpus` into a fresh temporary store, then ask every question."""
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        url = f"sqlite:///{Path(tmp) / 'eval.db'}"
        upgrade(url)
        database = Database(url)
        index = KnowledgeIndex.persistent(Path(tmp) / "chroma")
        with database.session_scope() as session:
            report = index.ingest(session, [corpus], location_base=corpus)
        result = _ask_all(index, rows, corpus, k=k, min_score=min_score)
        result.figures["ingest_seconds"] = round(report.seconds, 2)
        result.figures["documents"] = len(report.added)
        database.dispose()
        return result


def _ask_all(
    index: KnowledgeIndex, rows: list[dict[str, Any]], corpus: Path, *, k: int, min_score: float
) -> RetrievalResult:
    root = source_key(corpus) + "/"
    reciprocal: list[float] = []
    recall_at = {1: 0, 3: 0, 5: 0}
    keyword_hits = keyword_total = 0
    answerable_n = unanswerable_n = abstained_on_unanswerable = answered_answerable = 0
    latencies: list[float] = []
    misses: list[dict[str, Any]] = []
    for row in rows:
        question = str(row["question"])
        relevant = {str(p) for p in row.get("relevant", [])}
        answerable = bool(row.get("answerable", bool(relevant)))
        started = time.perf_counter()
        hits = index.search(question, k=max(k, 10))
        answer = extract_answer(question, hits, index, min_score=min_score)
        latencies.append((time.perf_counter() - started) * 1000)
        if not answerable:
            unanswerable_n += 1
            abstained_on_unanswerable += not answer.confident
            continue
        answerable_n += 1
        answered_answerable += answer.confident
        ranked = [h.source[len(root) :] if h.source.startswith(root) else h.source for h in hits]
        first = next((i for i, source in enumerate(ranked[:10]) if source in relevant), None)
        reciprocal.append(1.0 / (first + 1) if first is not None else 0.0)
        for cutoff in recall_at:
            recall_at[cutoff] += first is not None and first < cutoff
        keywords = [str(w).lower() for w in row.get("answer_keywords", [])]
        if keywords:
            keyword_total += 1
            text = answer.text.lower()
            found = answer.confident and all(w in text for w in keywords)
            keyword_hits += found
            if not found:
                misses.append({"question": question, "answer": answer.text[:200], "top": ranked[:3]})
        if first is None or first >= k:
            misses.append({"question": question, "top": ranked[:3], "relevant": sorted(relevant)})
    figures: dict[str, Any] = {
        "questions": len(rows),
        "answerable": answerable_n,
        "recall@1": round(recall_at[1] / answerable_n, 4) if answerable_n else None,
        "recall@3": round(recall_at[3] / answerable_n, 4) if answerable_n else None,
        "recall@5": round(recall_at[5] / answerable_n, 4) if answerable_n else None,
        "mrr@10": round(statistics.fmean(reciprocal), 4) if reciprocal else None,
        "answer_keyword_hit_rate": round(keyword_hits / keyword_total, 4) if keyword_total else None,
        "answered_rate_on_answerable": round(answered_answerable / answerable_n, 4) if answerable_n else None,
        "abstention_rate_on_unanswerable": (
            round(abstained_on_unanswerable / unanswerable_n, 4) if unanswerable_n else None
        ),
        **latency_figures(latencies, digits=2),
    }
    return RetrievalResult(figures=figures, misses=misses)
