"""Precision and recall of `bot.privacy.redact_pii` per placeholder, and of `has_payment_details`, on a labelled file.

Each line of the file is {"text": "...", "redact": ["[IBAN]", ...]}: the placeholders the redacted text should hold
(one per number, so a message with two cards lists "[card number]" twice), or [] for a message to leave alone.
Run: .venv/bin/python -m benchmarks.privacy.score [FILE.jsonl] [--show-misses]
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bot.privacy import has_payment_details, redact_pii

DEV = Path(__file__).resolve().parent / "redaction_dev.jsonl"
LABELS = (
    "[IBAN]",
    "[card number]",
    "[SSN]",
    "[NI number]",
    "[routing number]",
    "[sort code]",
    "[account number]",
    "[passport number]",
)
PAYMENT = {"[IBAN]", "[card number]", "[account number]", "[routing number]", "[sort code]"}


@dataclass
class Score:
    """Counts per placeholder, messages left alone or not, and the payment-details flag."""

    true_pos: Counter[str] = field(default_factory=Counter)
    false_pos: Counter[str] = field(default_factory=Counter)
    false_neg: Counter[str] = field(default_factory=Counter)
    negatives: int = 0  # messages with nothing to redact
    falsely_redacted: int = 0  # ... of which something was redacted
    payment: Counter[str] = field(default_factory=Counter)  # tp / fp / fn / tn of has_payment_details
    misses: list[str] = field(default_factory=list)

    def precision(self, label: str | None = None) -> float:
        tp, fp = self._counts(label)[:2]
        return tp / (tp + fp) if tp + fp else 1.0

    def recall(self, label: str | None = None) -> float:
        tp, _fp, fn = self._counts(label)
        return tp / (tp + fn) if tp + fn else 1.0

    def _counts(self, label: str | None) -> tuple[int, int, int]:
        if label is None:
            return sum(self.true_pos.values()), sum(self.false_pos.values()), sum(self.false_neg.values())
        return self.true_pos[label], self.false_pos[label], self.false_neg[label]


def score(path: Path = DEV) -> Score:
    """Redact every line of `path` and compare the placeholders found with the labelled ones."""
    result = Score()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        text: str = row["text"]
        expected = Counter(str(label) for label in row["redact"])
        redacted = redact_pii(text)
        found = Counter({label: redacted.count(label) - text.count(label) for label in LABELS})
        found = +found  # drop zero counts
        for label in set(expected) | set(found):
            hit = min(expected[label], found[label])
            result.true_pos[label] += hit
            result.false_pos[label] += found[label] - hit
            result.false_neg[label] += expected[label] - hit
        if not expected:
            result.negatives += 1
            result.falsely_redacted += bool(found)
        wants_payment = bool(PAYMENT & set(expected))
        flagged = has_payment_details(text)
        result.payment[("tp" if flagged else "fn") if wants_payment else ("fp" if flagged else "tn")] += 1
        if expected != found or wants_payment != flagged:
            result.misses.append(f"expected {sorted(expected.elements())}: {text!r}\n    -> {redacted!r}")
    return result


def report(result: Score) -> str:
    """A plain-text table: one row per placeholder, then all of them, the messages and the payment flag."""
    lines = [f"{'placeholder':<20} {'n':>4} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>9} {'recall':>7}"]
    for label in (*LABELS, None):
        tp, fp, fn = result._counts(label)
        if label is not None and not tp + fp + fn:
            continue
        lines.append(
            f"{label or 'all':<20} {tp + fn:>4} {tp:>4} {fp:>4} {fn:>4} "
            f"{result.precision(label):>9.3f} {result.recall(label):>7.3f}"
        )
    lines.append(f"messages with nothing to redact: {result.negatives}, of which redacted: {result.falsely_redacted}")
    p = result.payment
    flag_precision = p["tp"] / (p["tp"] + p["fp"]) if p["tp"] + p["fp"] else 1.0
    flag_recall = p["tp"] / (p["tp"] + p["fn"]) if p["tp"] + p["fn"] else 1.0
    lines.append(
        f"has_payment_details: tp {p['tp']} fp {p['fp']} fn {p['fn']} tn {p['tn']}, "
        f"precision {flag_precision:.3f}, recall {flag_recall:.3f}"
    )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    paths = [arg for arg in argv if not arg.startswith("--")]
    result = score(Path(paths[0]) if paths else DEV)
    print(report(result))
    if "--show-misses" in argv:
        print("\n".join(["", *result.misses]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
