"""Answers measured end to end: questions over HTTP to a deployment with only the company's documents."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.evals.deployment import deployed, post_chat
from bot.evals.latency import latency_figures


@dataclass
class AnswerOutcome:
    """One question as the employee saw it."""

    question: str
    kind: str
    expected: str  # "answer", "abstain" or a skill name (a personal question that skill's records answer)
    skill: str | None
    answered: bool
    fact_hit: bool
    ms: float
    text: str

    @property
    def misrouted(self) -> bool:
        """Neither answered from the documents nor sent to HR: a form, a ticket, the menu, another skill."""
        if self.expected == "answer":
            return not self.answered and self.skill != "policy"
        if self.expected == "abstain":
            return False
        return self.skill != self.expected or self.answered


@dataclass
class AnswerEvalResult:
    outcomes: list[AnswerOutcome]

    def _share(self, rows: list[AnswerOutcome], hit: Callable[[AnswerOutcome], bool]) -> float | None:
        return round(sum(map(hit, rows)) / len(rows), 4) if rows else None

    @property
    def figures(self) -> dict[str, Any]:
        factual = [o for o in self.outcomes if o.expected == "answer"]
        personal = [o for o in self.outcomes if o.expected not in ("answer", "abstain")]
        unanswerable = [o for o in self.outcomes if o.expected == "abstain"]
        figures: dict[str, Any] = {
            "questions": len(self.outcomes),
            "fact_hit": self._share(factual, lambda o: o.fact_hit),
            "answered_on_answerable": self._share(factual, lambda o: o.answered),
            "abstain_on_unanswerable": self._share(unanswerable, lambda o: not o.answered),
            "misrouted": self._share(factual + personal, lambda o: o.misrouted),
            "personal_to_records": self._share(personal, lambda o: not o.misrouted),
            **latency_figures([o.ms for o in self.outcomes]),
        }
        for kind in sorted({o.kind for o in factual}):
            figures[f"fact_hit[{kind}]"] = self._share([o for o in factual if o.kind == kind], lambda o: o.fact_hit)
        return figures

    @property
    def misses(self) -> list[dict[str, Any]]:
        found = []
        for o in self.outcomes:
            wrong = (
                o.misrouted or (o.expected == "answer" and not o.fact_hit) or (o.expected == "abstain" and o.answered)
            )
            if wrong:
                found.append({"question": o.question, "kind": o.kind, "skill": o.skill, "reply": o.text[:240]})
        return found


def answer_rows(qa: list[dict[str, Any]], unanswerable: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Both files as one list with what each question expects."""
    rows = []
    for row in qa:
        if row.get("answerable") is False:  # a retrieval dev set mixes both
            unanswerable = [*unanswerable, row]
            continue
        expected = str(row["skill"]) if row.get("skill") else "answer"
        rows.append(
            {**row, "expected": expected, "kind": row.get("kind", "fact" if expected == "answer" else "personal")}
        )
    for row in unanswerable:
        rows.append({**row, "expected": "abstain", "kind": row.get("kind", "unanswerable"), "answer_keywords": []})
    return rows


def evaluate_answers(
    corpus: Path,
    rows: list[dict[str, Any]],
    *,
    work_dir: Path | None = None,
    on_step: Callable[[str], None] | None = None,
) -> AnswerEvalResult:
    """Deploy as a company would, with nothing but `corpus` (see `deployed`), then ask every question over HTTP
    (POST /api/chat), each as a different employee, and grade the reply the employee would see."""
    step = on_step or (lambda _text: None)
    with deployed(corpus, len(rows), work_dir=work_dir, on_step=step) as (http, url, people, _database):
        step(f"asking {len(rows)} questions over HTTP")
        outcomes = [_ask_over_http(http, url, who, row) for who, row in zip(people, rows, strict=True)]
    return AnswerEvalResult(outcomes)


def _ask_over_http(http: Any, url: str, who: str, row: dict[str, Any]) -> AnswerOutcome:
    question = str(row["question"])
    body, ms = post_chat(http, url, who, question)
    text = str(body.get("text", ""))
    answered = bool(body.get("answered"))
    keywords = [str(k).lower() for k in row.get("answer_keywords", [])]
    return AnswerOutcome(
        question=question,
        kind=str(row["kind"]),
        expected=str(row["expected"]),
        skill=body.get("skill"),
        answered=answered,
        fact_hit=answered and bool(keywords) and all(k in text.lower() for k in keywords),
        ms=ms,
        text=text,
    )
