"""Ticket triage measured offline: category, priority, security flag and how-to detection against labelled lines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.evals.jsonl import EvalFileError
from skills.it.classify import CATEGORIES, PRIORITIES
from skills.it.incidents import IncidentModel, triage_report

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


def evaluate_tickets(rows: list[dict[str, Any]], incidents: IncidentModel | None = None) -> TicketEvalResult:
    """Triage every row's text as the IT skill does (the cue patterns, and `incidents` for plain-worded security
    incidents) and compare category, priority, security flag and is_problem with its labels."""
    for number, row in enumerate(rows, start=1):
        _check_ticket_row(number, row)
    found = [triage_report(str(row["text"]), incidents) for row in rows]
    gold_category = [str(row["category"]) for row in rows]
    gold_priority = [str(row["priority"]) for row in rows]
    category = [t.category for t in found]
    priority = [t.priority for t in found]
    total = len(rows)
    within_one = sum(
        abs(PRIORITIES.index(p) - PRIORITIES.index(g)) <= 1 for p, g in zip(priority, gold_priority, strict=True)
    )
    flagged = sum(t.security for t in found)
    reported = sum(bool(row["security"]) for row in rows)
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
        security_recall=caught / reported if reported else None,
        is_problem_accuracy=sum(t.is_problem == row["is_problem"] for t, row in zip(found, rows, strict=True)) / total,
        per_category=per_category,
        category_confusions=_pairs(gold_category, category),
        priority_confusions=_pairs(gold_priority, priority),
        misses=misses,
    )
