"""Receipt reading measured: total, date and company read from receipts against their key files."""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from bot.evals.jsonl import EvalFileError

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
