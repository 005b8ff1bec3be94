"""Quality measured, not guessed: routing and retrieval evaluations over JSONL files."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.db import Database
from bot.migrate import upgrade
from bot.router import OUT_OF_SCOPE, Router
from bot.tickets.classify import CATEGORIES, PRIORITIES, triage
from knowledge.answer import extract_answer
from knowledge.index import KnowledgeIndex, source_key


class EvalFileError(ValueError):
    """The eval file is malformed; the message says which line and why."""


def read_jsonl(path: Path, required: tuple[str, ...]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalFileError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
        if not isinstance(row, dict) or any(key not in row for key in required):
            raise EvalFileError(f"{path}:{number}: each line needs the keys {', '.join(required)}")
        rows.append(row)
    if not rows:
        raise EvalFileError(f"{path}: no lines to evaluate")
    return rows


@dataclass
class RoutingResult:
    total: int
    accuracy: float
    per_skill: dict[str, dict[str, float]]
    out_of_scope_recall: float | None
    predictions: list[dict[str, Any]]

    def figures(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "accuracy": round(self.accuracy, 4),
            "out_of_scope_recall": None if self.out_of_scope_recall is None else round(self.out_of_scope_recall, 4),
            "per_skill": self.per_skill,
        }


def evaluate_routing(router: Router, rows: list[dict[str, Any]]) -> RoutingResult:
    texts = [str(row["text"]) for row in rows]
    gold = [str(row["skill"]) for row in rows]
    routes = [router.classify(text) for text in texts]
    predicted = [route.skill for route in routes]
    correct = sum(p == g for p, g in zip(predicted, gold, strict=True))
    per_skill: dict[str, dict[str, float]] = {}
    labels = sorted(set(gold) | set(predicted))
    for label in labels:
        tp = sum(p == label and g == label for p, g in zip(predicted, gold, strict=True))
        predicted_n = sum(p == label for p in predicted)
        gold_n = sum(g == label for g in gold)
        per_skill[label] = {
            "precision": round(tp / predicted_n, 4) if predicted_n else 0.0,
            "recall": round(tp / gold_n, 4) if gold_n else 0.0,
            "support": gold_n,
        }
    oos = per_skill.get(OUT_OF_SCOPE)
    return RoutingResult(
        total=len(rows),
        accuracy=correct / len(rows),
        per_skill=per_skill,
        out_of_scope_recall=oos["recall"] if oos and oos["support"] else None,
        predictions=[
            {"text": t, "predicted": r.skill, "confidence": round(r.confidence, 4)}
            for t, r in zip(texts, routes, strict=True)
        ],
    )


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
    latencies.sort()
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
        "latency_ms_p50": round(latencies[len(latencies) // 2], 2),
        "latency_ms_p95": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))], 2),
    }
    return RetrievalResult(figures=figures, misses=misses)


TICKET_KEYS = ("text", "category", "priority", "security", "is_problem")


@dataclass
class TicketEvalResult:
    """How offline ticket triage did against hand-labelled lines."""

    total: int
    category_accuracy: float
    priority_accuracy: float
    priority_within_one: float
    security_precision: float | None
    security_recall: float | None
    is_problem_accuracy: float
    per_category: dict[str, dict[str, float]]
    category_confusions: list[dict[str, Any]]
    priority_confusions: list[dict[str, Any]]
    misses: list[dict[str, Any]]

    def figures(self) -> dict[str, Any]:
        """Everything but the per-line misses, rounded, for --json."""

        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {
            "total": self.total,
            "category_accuracy": rounded(self.category_accuracy),
            "priority_accuracy": rounded(self.priority_accuracy),
            "priority_within_one": rounded(self.priority_within_one),
            "security_precision": rounded(self.security_precision),
            "security_recall": rounded(self.security_recall),
            "is_problem_accuracy": rounded(self.is_problem_accuracy),
            "per_category": self.per_category,
            "category_confusions": self.category_confusions,
            "priority_confusions": self.priority_confusions,
        }


def _check_ticket_row(number: int, row: dict[str, Any]) -> None:
    # read_jsonl checks the keys are there; a label outside the vocabulary would silently count as a miss.
    problems = []
    if not isinstance(row["text"], str) or not row["text"].strip():
        problems.append("text must be a non-empty string")
    if row["category"] not in CATEGORIES:
        problems.append(f"category {row['category']!r} is not one of {', '.join(CATEGORIES)}")
    if row["priority"] not in PRIORITIES:
        problems.append(f"priority {row['priority']!r} is not one of {', '.join(PRIORITIES)}")
    for key in ("security", "is_problem"):
        if not isinstance(row[key], bool):
            problems.append(f"{key} must be true or false")
    if problems:
        raise EvalFileError(f"row {number} ({str(row['text'])[:40]!r}): {'; '.join(problems)}")


def _pairs(gold: list[str], predicted: list[str]) -> list[dict[str, Any]]:
    counts: dict[tuple[str, str], int] = {}
    for g, p in zip(gold, predicted, strict=True):
        if g != p:
            counts[(g, p)] = counts.get((g, p), 0) + 1
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [{"gold": g, "predicted": p, "count": n} for (g, p), n in ordered]


def evaluate_tickets(rows: list[dict[str, Any]]) -> TicketEvalResult:
    """Triage every row's text and compare category, priority, security flag and is_problem with its labels."""
    for number, row in enumerate(rows, start=1):
        _check_ticket_row(number, row)
    found = [triage(str(row["text"])) for row in rows]
    gold_category = [str(row["category"]) for row in rows]
    gold_priority = [str(row["priority"]) for row in rows]
    category = [t.category for t in found]
    priority = [t.priority for t in found]
    total = len(rows)
    within_one = sum(
        abs(PRIORITIES.index(p) - PRIORITIES.index(g)) <= 1 for p, g in zip(priority, gold_priority, strict=True)
    )
    flagged = sum(t.security for t in found)
    incidents = sum(bool(row["security"]) for row in rows)
    caught = sum(t.security and bool(row["security"]) for t, row in zip(found, rows, strict=True))
    per_category: dict[str, dict[str, float]] = {}
    for label in CATEGORIES:
        support = gold_category.count(label)
        predicted_n = category.count(label)
        correct = sum(p == g == label for p, g in zip(category, gold_category, strict=True))
        if support or predicted_n:
            per_category[label] = {
                "support": support,
                "predicted": predicted_n,
                "correct": correct,
                "precision": round(correct / predicted_n, 4) if predicted_n else 0.0,
                "recall": round(correct / support, 4) if support else 0.0,
            }
    misses = [
        {
            "text": row["text"],
            "gold": {key: row[key] for key in TICKET_KEYS[1:]},
            "predicted": {
                "category": t.category,
                "priority": t.priority,
                "security": t.security,
                "is_problem": t.is_problem,
            },
            "reasons": list(t.reasons),
        }
        for row, t in zip(rows, found, strict=True)
        if (t.category, t.priority, t.security, t.is_problem)
        != (row["category"], row["priority"], row["security"], row["is_problem"])
    ]
    return TicketEvalResult(
        total=total,
        category_accuracy=sum(p == g for p, g in zip(category, gold_category, strict=True)) / total,
        priority_accuracy=sum(p == g for p, g in zip(priority, gold_priority, strict=True)) / total,
        priority_within_one=within_one / total,
        security_precision=caught / flagged if flagged else None,
        security_recall=caught / incidents if incidents else None,
        is_problem_accuracy=sum(t.is_problem == row["is_problem"] for t, row in zip(found, rows, strict=True)) / total,
        per_category=per_category,
        category_confusions=_pairs(gold_category, category),
        priority_confusions=_pairs(gold_priority, priority),
        misses=misses,
    )
