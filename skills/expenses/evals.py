"""Receipt reading measured: total, date, company and currency read from receipts against their ground truth."""

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
GRADED_FIELDS = (*RECEIPT_FIELDS, "currency")  # the currency's ground truth is the transcript, not the key file
_RECEIPT_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".gif", ".pdf"}
_LENIENT_F1 = 0.8


@dataclass
class ReceiptEvalResult:
    """How receipt reading did against key files {company, date, total}, field by field."""

    receipts: int
    graded: dict[str, int]  # per field: receipts whose ground truth was usable (currency: one was printed)
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
            "currency_accuracy": rounded(self.accuracy("currency")),
            "graded": dict(self.graded),
            "skipped": dict(self.skipped),
            "unreadable": self.unreadable,
            "seconds_per_receipt": round(statistics.fmean(ordered), 3) if ordered else None,
            "seconds_p50": round(ordered[len(ordered) // 2], 3) if ordered else None,
            "seconds_max": round(ordered[-1], 3) if ordered else None,
        }


def receipt_pairs(directory: Path, *, only: str | None = None) -> list[tuple[Path, Path]]:
    """(receipt file, key JSON) pairs in SROIE layout (img/NNN.jpg + key/NNN.json) or side by side (NNN.jpg +
    NNN.json), sorted by name; receipts without a key file are left out. only="even" or "odd" keeps the receipts
    whose name ends in an even or odd digit: a development half and a held-out half."""
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
    if only is not None:
        pairs = [pair for pair in pairs if _half(pair[0].stem) == only]
    if not pairs:
        raise EvalFileError(
            f"{directory}: no receipts with key files (expected img/NNN.jpg + key/NNN.json, or NNN.jpg + NNN.json)"
        )
    return pairs


def _half(stem: str) -> str | None:
    digits = re.search(r"(\d)\D*$", stem)
    return None if digits is None else ("odd" if int(digits[1]) % 2 else "even")


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


# The currency a transcript shows, for grading: ringgit first (SROIE's receipts are Malaysian), then other codes
# and signs; a bare "$" is graded as "$", as the reader leaves a dollar's country to the caller.
_GOLD_CURRENCIES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bRM(?=\s?[\d.])|\bRM\b|\bMYR\b|\bRINGGIT\b", re.I), "MYR"),
    (re.compile(r"\bS\$|\bSGD\b"), "SGD"),
    (re.compile(r"\bUS\$|\bUSD\b"), "USD"),
    (re.compile(r"€|\bEUR\b"), "EUR"),
    (re.compile(r"£|\bGBP\b"), "GBP"),
    (re.compile(r"\$"), "$"),
)


def gold_currency(transcript: list[str]) -> str | None:
    """The currency a receipt's ground-truth transcript shows (RM or MYR: MYR), None when it shows none."""
    text = "\n".join(transcript)
    return next((code for pattern, code in _GOLD_CURRENCIES if pattern.search(text)), None)


def _transcript(receipt: Path) -> list[str] | None:
    """The ground-truth text lines of a receipt, from SROIE's box/NNN.csv (x1,y1,…,y4,text), when there is one."""
    boxes = receipt.parent.parent / "box" / f"{receipt.stem}.csv"
    if receipt.parent.name != "img" or not boxes.is_file():
        return None
    try:
        rows = boxes.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise EvalFileError(f"{boxes}: not readable ({exc})") from exc
    return [row.split(",", 8)[-1] for row in rows if row.strip()]


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
    only: str | None = None,
    ocr_timeout: float = 60,
    on_progress: Callable[[int, int], None] | None = None,
) -> ReceiptEvalResult:
    """Read every receipt in directory and compare total (to the cent), date (same day, ground truth parsed
    from its mixed formats) and company (normalised exact, and token F1 ≥ 0.8) with its key file, and the
    currency with the one its transcript (SROIE's box/NNN.csv) shows; only="even"|"odd" reads one half."""
    from integrations.files import sniff_kind
    from skills.expenses.receipts import ReceiptUnreadable, parse_date, read_receipt

    pairs = receipt_pairs(directory, only=only)[: limit if limit and limit > 0 else None]
    graded = dict.fromkeys(GRADED_FIELDS, 0)
    correct = dict.fromkeys(GRADED_FIELDS, 0)
    skipped = dict.fromkeys(GRADED_FIELDS, 0)
    lenient = unreadable = 0
    seconds: list[float] = []
    misses: list[dict[str, Any]] = []
    for done, (receipt, key_path) in enumerate(pairs, start=1):
        key = _receipt_key(key_path)
        gold_total = _gold_total(key["total"])
        # Ground truth dates come as 25/12/2018, 12-01-19, 15 MAR 2018, 20180315: read them as the receipts are.
        gold_date = parse_date(key["date"]) if key["date"] else None
        gold_company = company_tokens(key["company"])
        transcript = _transcript(receipt)
        gold_cur = gold_currency(transcript) if transcript is not None else None
        with receipt.open("rb") as handle:
            kind = sniff_kind(handle.read(512)) or ""
        started = time.perf_counter()
        error: str | None = None
        try:
            fields = read_receipt(receipt, kind, ocr_timeout=ocr_timeout)
            got_total, got_date, got_company = fields.total, fields.date, fields.merchant or ""
            got_currency = fields.currency
        except ReceiptUnreadable as exc:
            unreadable += 1
            error = str(exc)
            got_total, got_date, got_company, got_currency = None, None, "", None
        seconds.append(time.perf_counter() - started)
        # Per field: (ground truth usable, the reading matches it, the reading as shown in a miss).
        checks = {
            "total": (gold_total is not None, got_total == gold_total, got_total),
            "date": (gold_date is not None, got_date == gold_date, got_date),
            "company": (bool(gold_company), company_tokens(got_company) == gold_company, got_company or None),
            # No currency printed, or no transcript: not graded (counted as skipped).
            "currency": (gold_cur is not None, got_currency == gold_cur, got_currency),
        }
        expected = {**key, "currency": gold_cur or ""}
        missed: dict[str, Any] = {}
        for field, (usable, hit, got) in checks.items():
            if not usable:
                skipped[field] += 1
                continue
            graded[field] += 1
            correct[field] += hit
            if not hit:
                missed[field] = {"expected": expected[field], "got": None if got is None else str(got)}
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
