"""Quality measured, not guessed: routing and retrieval evaluations over JSONL files."""

from __future__ import annotations

import json
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from bot.db import Database
from bot.migrate import upgrade
from bot.router import OUT_OF_SCOPE, Router
from knowledge.answer import extract_answer
from knowledge.index import KnowledgeIndex, source_key
from skills.it.classify import CATEGORIES, PRIORITIES
from skills.it.incidents import IncidentModel, triage_report


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


# ------------------------------------------------------------------ receipts

RECEIPT_FIELDS = ("total", "date", "company")
_RECEIPT_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".gif", ".pdf"}
_LENIENT_F1 = 0.8


@dataclass
class ReceiptEvalResult:
    """How receipt reading did against key files {company, date, total}, field by field."""

    receipts: int
    graded: dict[str, int]  # per field: receipts whose ground truth was usable
    correct: dict[str, int]
    skipped: dict[str, int]  # per field: empty or unparsable ground truth, left out of that field's accuracy
    company_lenient: int  # token F1 ≥ 0.8 after normalising
    unreadable: int  # receipts that raised (no text could be read); they count as misses
    seconds: list[float]
    misses: list[dict[str, Any]]

    def accuracy(self, field: str) -> float | None:
        """Share of graded receipts where the field matched; None when none could be graded."""
        graded = self.graded[field]
        return self.correct[field] / graded if graded else None

    @property
    def company_lenient_rate(self) -> float | None:
        """Share of graded receipts whose merchant matched the company with token F1 ≥ 0.8."""
        graded = self.graded["company"]
        return self.company_lenient / graded if graded else None

    def figures(self) -> dict[str, Any]:
        """Everything but the per-receipt misses, rounded, for --json."""

        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        ordered = sorted(self.seconds)
        return {
            "receipts": self.receipts,
            "total_accuracy": rounded(self.accuracy("total")),
            "date_accuracy": rounded(self.accuracy("date")),
            "company_exact": rounded(self.accuracy("company")),
            "company_lenient_f1_0_8": rounded(self.company_lenient_rate),
            "graded": dict(self.graded),
            "skipped": dict(self.skipped),
            "unreadable": self.unreadable,
            "seconds_per_receipt": round(statistics.fmean(ordered), 3) if ordered else None,
            "seconds_p50": round(ordered[len(ordered) // 2], 3) if ordered else None,
            "seconds_max": round(ordered[-1], 3) if ordered else None,
        }


def receipt_pairs(directory: Path) -> list[tuple[Path, Path]]:
    """(receipt file, key JSON) pairs in SROIE layout (img/NNN.jpg + key/NNN.json) or side by side (NNN.jpg +
    NNN.json), sorted by name; receipts without a key file are left out."""
    if not directory.is_dir():
        raise EvalFileError(f"{directory} is not a folder")
    images_dir, keys_dir = directory / "img", directory / "key"
    if not (images_dir.is_dir() and keys_dir.is_dir()):
        images_dir = keys_dir = directory
    pairs = [
        (path, keys_dir / f"{path.stem}.json")
        for path in sorted(images_dir.iterdir())
        if path.suffix.lower() in _RECEIPT_SUFFIXES and (keys_dir / f"{path.stem}.json").is_file()
    ]
    if not pairs:
        raise EvalFileError(
            f"{directory}: no receipts with key files (expected img/NNN.jpg + key/NNN.json, or NNN.jpg + NNN.json)"
        )
    return pairs


def _receipt_key(path: Path) -> dict[str, str]:
    try:
        key = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvalFileError(f"{path}: not readable JSON ({exc})") from exc
    if not isinstance(key, dict):
        raise EvalFileError(f"{path}: expected an object with company, date and total")
    return {field: str(key.get(field) or "").strip() for field in RECEIPT_FIELDS}


def _gold_total(text: str) -> Decimal | None:
    cleaned = re.sub(r"(?i)\b(?:RM|MYR)\b|[\s,$€£]", "", text)
    try:
        return Decimal(cleaned) if re.fullmatch(r"-?\d+(?:\.\d+)?", cleaned) else None
    except InvalidOperation:
        return None


def company_tokens(text: str) -> list[str]:
    """A company name as compared: case folded, punctuation dropped (dots and apostrophes join: A.B.C. is abc,
    JOE'S is joes; others separate), whitespace collapsed."""
    return re.sub(r"[^\w\s]|_", " ", re.sub(r"[.'’]", "", text.casefold())).split()


def token_f1(predicted: list[str], gold: list[str]) -> float:
    """Token-overlap F1 between two token lists (as in SQuAD), 0 when either is empty."""
    if not predicted or not gold:
        return 0.0
    remaining = list(gold)
    common = 0
    for token in predicted:
        if token in remaining:
            remaining.remove(token)
            common += 1
    if not common:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def evaluate_receipts(
    directory: Path,
    *,
    limit: int | None = None,
    ocr_timeout: float = 60,
    on_progress: Callable[[int, int], None] | None = None,
) -> ReceiptEvalResult:
    """Read every receipt in directory and compare total (to the cent), date (same day, ground truth parsed
    from its mixed formats) and company (normalised exact, and token F1 ≥ 0.8) with its key file."""
    from integrations.files import sniff_kind
    from skills.expenses.receipts import ReceiptUnreadable, parse_date, read_receipt

    pairs = receipt_pairs(directory)[: limit if limit and limit > 0 else None]
    graded = dict.fromkeys(RECEIPT_FIELDS, 0)
    correct = dict.fromkeys(RECEIPT_FIELDS, 0)
    skipped = dict.fromkeys(RECEIPT_FIELDS, 0)
    lenient = unreadable = 0
    seconds: list[float] = []
    misses: list[dict[str, Any]] = []
    for done, (receipt, key_path) in enumerate(pairs, start=1):
        key = _receipt_key(key_path)
        gold_total = _gold_total(key["total"])
        # Ground truth dates come as 25/12/2018, 12-01-19, 15 MAR 2018, 20180315: read them as the receipts are.
        gold_date = parse_date(key["date"]) if key["date"] else None
        gold_company = company_tokens(key["company"])
        with receipt.open("rb") as handle:
            kind = sniff_kind(handle.read(512)) or ""
        started = time.perf_counter()
        error: str | None = None
        try:
            fields = read_receipt(receipt, kind, ocr_timeout=ocr_timeout)
            got_total, got_date, got_company = fields.total, fields.date, fields.merchant or ""
        except ReceiptUnreadable as exc:
            unreadable += 1
            error = str(exc)
            got_total, got_date, got_company = None, None, ""
        seconds.append(time.perf_counter() - started)
        # Per field: (ground truth usable, the reading matches it, the reading as shown in a miss).
        checks = {
            "total": (gold_total is not None, got_total == gold_total, got_total),
            "date": (gold_date is not None, got_date == gold_date, got_date),
            "company": (bool(gold_company), company_tokens(got_company) == gold_company, got_company or None),
        }
        missed: dict[str, Any] = {}
        for field, (usable, hit, got) in checks.items():
            if not usable:
                skipped[field] += 1
                continue
            graded[field] += 1
            correct[field] += hit
            if not hit:
                missed[field] = {"expected": key[field], "got": None if got is None else str(got)}
        if gold_company:
            lenient += token_f1(company_tokens(got_company), gold_company) >= _LENIENT_F1
        if missed or error:
            misses.append({"receipt": receipt.name, **({"error": error} if error else {}), **missed})
        if on_progress:
            on_progress(done, len(pairs))
    return ReceiptEvalResult(
        receipts=len(pairs),
        graded=graded,
        correct=correct,
        skipped=skipped,
        company_lenient=lenient,
        unreadable=unreadable,
        seconds=seconds,
        misses=misses,
    )


# ------------------------------------------------------------------------------------- answers, end to end

EVAL_MANAGER = "U0EVALMGR01"


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


@contextmanager
def deployed(
    corpus: Path | None,
    employees: int,
    *,
    work_dir: Path | None = None,
    on_step: Callable[[str], None] | None = None,
    clock: datetime | None = None,
) -> Iterator[tuple[Any, str, list[str], str]]:
    """A deployment as a company makes one, in a temporary folder: `migrate`, `directory import` (`employees`
    people, so that no conversation carries over from one message to the next), `ingest CORPUS` (when given),
    `serve --no-samples`. Yields an HTTP client, the server's URL, the employees' Slack ids and the deployment's
    database URL.

    `clock` starts every process at that moment (it ticks from there), through the test suite's clock shim
    (needs the dev install: time-machine)."""
    import os
    import signal
    import socket
    import subprocess
    import sys

    import httpx

    step = on_step or (lambda _text: None)
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        folder = Path(tmp)
        env = {key: value for key, value in os.environ.items() if not key.startswith(("SLACK_", "BACKOFFICE_"))}
        env.update(
            BACKOFFICE_DATABASE_URL=f"sqlite:///{folder / 'eval.db'}",
            BACKOFFICE_DATA_DIR=str(folder / "var"),
            BACKOFFICE_LLM="",
        )
        if clock is not None:
            env.update(_clock_env(clock))
        cli = [sys.executable, "-m", "bot.cli"]

        def run(*args: str) -> None:
            done = subprocess.run([*cli, *args], env=env, cwd=folder, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"backoffice {' '.join(args)} failed:\n{done.stdout}{done.stderr}")

        people = [f"U0EVAL{n:05d}" for n in range(1, employees + 1)]
        directory = folder / "directory.csv"
        lines = [
            "slack_id,name,email,tz,country,manager_slack_id,roles",
            f"{EVAL_MANAGER},Eval Manager,,UTC,US,,manager",
        ]
        lines += [f"{who},Employee {who[-5:]},,UTC,US,{EVAL_MANAGER},employee" for who in people]
        directory.write_text("\n".join(lines) + "\n", encoding="utf-8")
        step("migrate")
        run("migrate")
        step("directory import")
        run("directory", "import", str(directory))
        if corpus is not None:
            step(f"ingest {corpus}")
            run("ingest", str(corpus.resolve()))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        step("serve --no-samples")
        log = (folder / "serve.log").open("wb")
        server = subprocess.Popen(
            [*cli, "serve", "--no-samples", "--no-scheduler", "--port", str(port)],
            env=env,
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(timeout=60) as http:
                deadline = time.monotonic() + 300
                while True:
                    if server.poll() is not None:
                        raise RuntimeError(f"serve exited:\n{(folder / 'serve.log').read_text(errors='replace')}")
                    try:
                        if http.get(f"{url}/healthz").status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError("serve did not become ready in 300 s")
                    time.sleep(0.2)
                yield http, url, people, env["BACKOFFICE_DATABASE_URL"]
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()


CLOCK_SHIM = Path(__file__).resolve().parents[1] / "tests" / "clock_shim"


def _clock_env(moment: datetime) -> dict[str, str]:
    """What makes a Python process started with it run at `moment` (tests/clock_shim, as `pytest --at`)."""
    import importlib.util
    import os

    if importlib.util.find_spec("time_machine") is None or not (CLOCK_SHIM / "sitecustomize.py").is_file():
        raise RuntimeError("a pinned clock needs the dev install (pip install -e '.[dev]') and tests/clock_shim")
    path = os.environ.get("PYTHONPATH", "")
    return {
        "PYTHONPATH": f"{CLOCK_SHIM}{os.pathsep}{path}" if path else str(CLOCK_SHIM),
        "BACKOFFICE_TEST_CLOCK_OFFSET": str(moment.timestamp() - time.time()),
        "BACKOFFICE_TEST_CLOCK_ZONE": "UTC",
    }


def latency_figures(ms: list[float], *, digits: int = 1) -> dict[str, float | None]:
    """p50 and p95 of the latencies, in ms (None for none)."""
    latencies = sorted(ms)
    if not latencies:
        return {"latency_ms_p50": None, "latency_ms_p95": None}
    return {
        "latency_ms_p50": round(latencies[len(latencies) // 2], digits),
        "latency_ms_p95": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))], digits),
    }


def _chat(http: Any, url: str, who: str, text: str) -> tuple[dict[str, Any], float]:
    """POST /api/chat as `who`: the reply's JSON (an HTTP error as its text and skill) and the ms it took."""
    return _post(http, f"{url}/api/chat", {"user": who, "text": text})


def _post(http: Any, endpoint: str, payload: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """POST to a chat endpoint: the reply's JSON (an HTTP error as its text and skill) and the ms it took."""
    started = time.perf_counter()
    response = http.post(endpoint, json=payload)
    ms = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        error = f"HTTP {response.status_code}"
        return {"text": error, "skill": error}, ms
    return dict(response.json()), ms


def _ask_over_http(http: Any, url: str, who: str, row: dict[str, Any]) -> AnswerOutcome:
    question = str(row["question"])
    body, ms = _chat(http, url, who, question)
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


# ------------------------------------------------------------------------- intents (CLINC150), end to end

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
            body, ms = _chat(http, url, who, row["text"])
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


# ----------------------------------------------------------------------------------- dialogues, end to end

DIALOGUE_TODAY = datetime(2027, 3, 9, 10, 0, tzinfo=UTC)  # a Tuesday with no US holiday near it
DIALOGUE_SKILLS = ("leave", "expense", "it", "policy", "smalltalk", "out_of_scope", "sensitive")
RECORD_KINDS = ("leave", "expenses", "tickets")
_RELATIVE_DAY = re.compile(r"^today(?:([+-])(\d+))?$")


def dialogue_rows(path: Path) -> list[dict[str, Any]]:
    """The dialogues of a JSONL file, checked: each has an id, turns (say or click, with what to expect) and
    optionally the records the employee must have at the end (see docs/benchmarks.md)."""
    rows = read_jsonl(path, ("id", "turns"))
    for number, row in enumerate(rows, start=1):
        where = f"{path}:{number} ({row['id']})"
        if not isinstance(row["turns"], list) or not row["turns"]:
            raise EvalFileError(f"{where}: turns must be a non-empty list")
        for turn in row["turns"]:
            if not isinstance(turn, dict) or ("say" in turn) == ("click" in turn):
                raise EvalFileError(f"{where}: each turn has either 'say' or 'click'")
            expect = turn.get("expect", {})
            for key in ("skill", "not_skill"):
                if key in expect and expect[key] not in DIALOGUE_SKILLS:
                    raise EvalFileError(f"{where}: {key} {expect[key]!r} is not one of {', '.join(DIALOGUE_SKILLS)}")
        unknown = set(row.get("records", {})) - set(RECORD_KINDS)
        if unknown:
            raise EvalFileError(f"{where}: unknown record kinds {sorted(unknown)}")
    return rows


def resolve_day(value: str, today: date) -> date:
    """ "today", "today+N", "today-N" (calendar days) or an ISO date."""
    found = _RELATIVE_DAY.match(value.strip())
    if found is None:
        return date.fromisoformat(value)
    sign, days = found.groups()
    return today + timedelta(days=int(days or 0) * (-1 if sign == "-" else 1))


@dataclass
class DialogueOutcome:
    id: str
    behaviour: str
    problems: list[str] = dataclass_field(default_factory=list)
    transcript: list[str] = dataclass_field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


@dataclass
class DialogueEvalResult:
    outcomes: list[DialogueOutcome]

    @property
    def figures(self) -> dict[str, Any]:
        figures: dict[str, Any] = {
            "dialogues": len(self.outcomes),
            "passed": round(sum(o.passed for o in self.outcomes) / len(self.outcomes), 4) if self.outcomes else None,
        }
        for behaviour in sorted({o.behaviour for o in self.outcomes}):
            group = [o for o in self.outcomes if o.behaviour == behaviour]
            figures[f"passed[{behaviour}]"] = f"{sum(o.passed for o in group)}/{len(group)}"
        return figures

    @property
    def misses(self) -> list[dict[str, Any]]:
        return [
            {"id": o.id, "problems": "; ".join(o.problems), "transcript": " | ".join(o.transcript)}
            for o in self.outcomes
            if not o.passed
        ]


def evaluate_dialogues(
    corpus: Path | None,
    rows: list[dict[str, Any]],
    *,
    today: datetime = DIALOGUE_TODAY,
    work_dir: Path | None = None,
    on_step: Callable[[str], None] | None = None,
) -> DialogueEvalResult:
    """Deploy (as `eval answers` does) with the clock at `today`, play every dialogue over HTTP as a new
    employee (POST /api/chat, and /api/action for a button pressed), check each turn's reply and, at the end,
    the employee's leave requests, expense claims and tickets in the deployment's database."""
    step = on_step or (lambda _text: None)
    outcomes: list[DialogueOutcome] = []
    with deployed(corpus, len(rows), work_dir=work_dir, on_step=step, clock=today) as (http, url, people, db_url):
        step(f"playing {len(rows)} dialogues over HTTP")
        database = Database(db_url)
        try:
            for who, row in zip(people, rows, strict=True):
                outcome = _play(http, url, who, row)
                outcome.problems += check_records(database, who, row.get("records", {}), today.date())
                outcomes.append(outcome)
        finally:
            database.dispose()
    return DialogueEvalResult(outcomes)


def _play(http: Any, url: str, who: str, row: dict[str, Any]) -> DialogueOutcome:
    outcome = DialogueOutcome(id=str(row["id"]), behaviour=str(row.get("behaviour", "other")))
    last: dict[str, Any] = {}
    for number, turn in enumerate(row["turns"], start=1):
        if "say" in turn:
            said = str(turn["say"])
            body, _ms = _chat(http, url, who, said)
        else:
            said = f"[{turn['click']}]"
            button = next(
                (b for b in last.get("buttons", []) if str(turn["click"]).lower() in str(b.get("text", "")).lower()),
                None,
            )
            if button is None:
                outcome.problems.append(f"turn {number}: no button {turn['click']!r} to press")
                outcome.transcript.append(f"{said} -> (no such button)")
                break
            pressed = {"user": who, "action_id": button["action_id"], "value": button["value"]}
            body, _ms = _post(http, f"{url}/api/action", pressed)
        text = str(body.get("text", ""))
        skill = body.get("skill")
        outcome.transcript.append(f"{said} -> {skill}: {' '.join(text.split())[:160]}")
        outcome.problems += [f"turn {number}: {p}" for p in check_reply(turn.get("expect", {}), body)]
        last = body
    return outcome


def check_reply(expect: dict[str, Any], body: dict[str, Any]) -> list[str]:
    problems = []
    text, skill = str(body.get("text", "")), body.get("skill")
    lowered = text.lower()
    if "skill" in expect and skill != expect["skill"]:
        problems.append(f"reply from {skill}, expected {expect['skill']}")
    if "answered" in expect and bool(body.get("answered")) != bool(expect["answered"]):
        problems.append("answered from the documents" if body.get("answered") else "not answered from the documents")
    if "not_skill" in expect and skill == expect["not_skill"]:
        problems.append(f"reply from {skill}")
    says_any = [str(s).lower() for s in expect.get("says_any", [])]
    if says_any and not any(s in lowered for s in says_any):
        problems.append(f"says none of {says_any}")
    said = [s for s in (str(s).lower() for s in expect.get("not_says", [])) if s in lowered]
    if said:
        problems.append(f"says {said}")
    return problems


def _records(database: Database, who: str) -> dict[str, list[dict[str, Any]]]:
    """The employee's leave requests, expense claims and tickets, as the fields a dialogue may check."""
    from sqlalchemy import select

    from bot.models import Employee, Expense, LeaveRequest, Ticket

    with database.session_scope() as session:
        employee = session.scalar(select(Employee).where(Employee.slack_id == who))
        if employee is None:
            return {kind: [] for kind in RECORD_KINDS}
        leave = session.scalars(select(LeaveRequest).where(LeaveRequest.employee_id == employee.id)).all()
        claims = session.scalars(select(Expense).where(Expense.employee_id == employee.id)).all()
        tickets = session.scalars(select(Ticket).where(Ticket.requester_id == employee.id)).all()
        return {
            "leave": [
                {
                    "leave_type": r.leave_type,
                    "start_date": r.start_date,
                    "end_date": r.end_date,
                    "days": Decimal(r.days),
                    "status": r.status,
                }
                for r in leave
            ],
            "expenses": [
                {
                    "amount": Decimal(c.amount),
                    "currency": c.currency,
                    "spent_on": c.spent_on,
                    "status": c.status,
                    "category": c.category,
                }
                for c in claims
            ],
            "tickets": [
                {"priority": t.priority, "security": t.security, "category": t.category, "status": t.status}
                for t in tickets
            ],
        }


def _field_matches(expected: Any, actual: Any, today: date) -> bool:
    if isinstance(expected, list):
        return any(_field_matches(e, actual, today) for e in expected)
    if isinstance(actual, date):
        return resolve_day(str(expected), today) == actual
    if isinstance(actual, Decimal):
        try:
            return Decimal(str(expected)) == actual
        except InvalidOperation:
            return False
    if isinstance(actual, bool):
        return bool(expected) is actual
    return str(expected).lower() == str(actual).lower()


def check_records(database: Database, who: str, expected: dict[str, Any], today: date) -> list[str]:
    """Each kind listed must hold exactly as many records as expected, each matching one of them."""
    if not expected:
        return []
    actual = _records(database, who)
    problems = []
    for kind, wanted in expected.items():
        found = actual[kind]
        free = list(found)
        unmatched = []
        for record in wanted:
            match = next((f for f in free if all(_field_matches(v, f.get(k), today) for k, v in record.items())), None)
            if match is None:
                unmatched.append(record)
            else:
                free.remove(match)
        if unmatched or free:
            shown = [{k: str(v) for k, v in f.items()} for f in found]
            problems.append(f"{kind}: expected {wanted}, found {shown}")
    return problems
