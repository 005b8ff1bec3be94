"""Intents measured end to end: a CLINC150 split over HTTP, graded by where each reply went."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.evals.deployment import deployed, post_chat
from bot.evals.jsonl import EvalFileError
from bot.evals.latency import latency_figures

NO_SKILL = ("out_of_scope", "smalltalk")  # replies that take no action: the smalltalk reply or the menu


@dataclass
class IntentOutcome:
    text: str
    intent: str
    accepted: tuple[str, ...]  # the skills that may take it; () for an out-of-scope message
    skill: str | None
    actions: tuple[str, ...]  # the skills whose buttons the reply offers
    ms: float

    @property
    def group(self) -> str:
        if not self.accepted:
            return "out_of_scope"
        return "smalltalk" if self.accepted == ("smalltalk",) else "in_scope"

    @property
    def correct(self) -> bool:
        if self.group != "in_scope":
            return self.skill in NO_SKILL  # small talk may get the menu too ("tell me a joke"): no skill acts
        if self.skill in self.accepted:
            return True
        # A question on a skill's subject is answered (or sent to HR) with that skill's action offered.
        return self.skill == "policy" and any(skill in self.accepted for skill in self.actions)


@dataclass
class IntentEvalResult:
    outcomes: list[IntentOutcome]

    @property
    def figures(self) -> dict[str, Any]:
        def share(group: str, hit: Callable[[IntentOutcome], bool]) -> float | None:
            rows = [o for o in self.outcomes if o.group == group]
            return round(sum(map(hit, rows)) / len(rows), 4) if rows else None

        return {
            "messages": len(self.outcomes),
            "in_scope_accuracy": share("in_scope", lambda o: o.correct),
            "out_of_scope_recall": share("out_of_scope", lambda o: o.correct),
            "smalltalk_no_action": share("smalltalk", lambda o: o.correct),
            "smalltalk_reply": share("smalltalk", lambda o: o.skill == "smalltalk"),
            **latency_figures([o.ms for o in self.outcomes]),
        }

    def confusions(self, top: int = 15) -> list[dict[str, Any]]:
        """The commonest (intent, where it went) mistakes, with an example each."""
        counts: dict[tuple[str, str], list[str]] = {}
        for o in self.outcomes:
            if not o.correct:
                counts.setdefault((o.intent, str(o.skill)), []).append(o.text)
        ranked = sorted(counts.items(), key=lambda item: -len(item[1]))[:top]
        return [{"intent": i, "went_to": s, "count": len(texts), "example": texts[0]} for (i, s), texts in ranked]


def intent_rows(data_file: Path, mapping_file: Path, split: str, per_intent: int | None = None) -> list[dict[str, Any]]:
    """CLINC150's `data_full.json` split (`val` or `test`, with its out-of-scope lines) as rows with the skills
    that may take each message, by our mapping (an intent it does not list is out of scope)."""
    data = json.loads(data_file.read_text(encoding="utf-8"))
    mapping = json.loads(mapping_file.read_text(encoding="utf-8"))["intents"]
    if split not in data or f"oos_{split}" not in data:
        raise EvalFileError(f"{data_file}: no split {split!r} (and oos_{split})")
    pairs = [(str(t), str(i)) for t, i in data[split]] + [(str(t), "oos") for t, _ in data[f"oos_{split}"]]
    seen: dict[str, int] = {}
    rows = []
    for text, intent in pairs:
        seen[intent] = seen.get(intent, 0) + 1
        if per_intent is not None and seen[intent] > per_intent:
            continue
        skills = mapping.get(intent, [])
        rows.append(
            {"text": text, "intent": intent, "accepted": tuple([skills] if isinstance(skills, str) else skills)}
        )
    return rows


def evaluate_intents(
    corpus: Path | None,
    rows: list[dict[str, Any]],
    *,
    work_dir: Path | None = None,
    on_step: Callable[[str], None] | None = None,
) -> IntentEvalResult:
    """Every message over HTTP to a deployment with only `corpus` (or no documents), each from another employee;
    graded by where the reply went."""
    step = on_step or (lambda _text: None)
    outcomes = []
    with deployed(corpus, len(rows), work_dir=work_dir, on_step=step) as (http, url, people, _database):
        step(f"sending {len(rows)} messages over HTTP")
        for who, row in zip(people, rows, strict=True):
            body, ms = post_chat(http, url, who, row["text"])
            actions = tuple(str(b.get("action_id", "")).split(":", 1)[0] for b in body.get("buttons", []))
            outcomes.append(
                IntentOutcome(
                    text=row["text"],
                    intent=row["intent"],
                    accepted=row["accepted"],
                    skill=body.get("skill"),
                    actions=actions,
                    ms=ms,
                )
            )
    return IntentEvalResult(outcomes)
