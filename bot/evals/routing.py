"""The router measured: accuracy, per-skill precision and recall, out-of-scope recall over labelled lines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.router import OUT_OF_SCOPE, Router


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
