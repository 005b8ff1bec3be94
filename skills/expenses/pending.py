"""A receipt kept with the bot's follow-up question, so the answer completes the same claim with the same file."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from integrations.files import StoredFile
from skills.expenses.receipts import ReceiptFields

RECEIPT = "expense_receipt"  # the memo key of the receipt of a claim waiting for one more detail


def receipt_memo(receipt: tuple[StoredFile, ReceiptFields] | None) -> dict[str, str]:
    """The memo entry that keeps a receipt (stored file and read fields) with the question asked about it."""
    if receipt is None:
        return {}
    stored, fields = receipt
    kept = {
        "path": str(stored.path),
        "sha256": stored.sha256,
        "kind": stored.kind,
        "size": stored.size,
        "name": stored.name,
        "total": None if fields.total is None else str(fields.total),
        "currency": fields.currency,
        "date": None if fields.date is None else fields.date.isoformat(),
        "merchant": fields.merchant,
        "source": fields.source,
    }
    return {RECEIPT: json.dumps(kept)}


def kept_receipt(memo: str | None) -> tuple[StoredFile, ReceiptFields] | None:
    """The receipt `receipt_memo` kept; None when there is none or the memo does not read (the answer then
    stands alone, as before the receipt)."""
    if not memo:
        return None
    try:
        kept = json.loads(memo)
        stored = StoredFile(
            path=Path(kept["path"]),
            sha256=str(kept["sha256"]),
            kind=str(kept["kind"]),
            size=int(kept["size"]),
            name=str(kept["name"]),
            new=False,
        )
        fields = ReceiptFields(
            total=None if kept["total"] is None else Decimal(kept["total"]),
            currency=kept["currency"],
            date=None if kept["date"] is None else date.fromisoformat(kept["date"]),
            merchant=kept["merchant"],
            text="",  # the text read stays with the stored file; the claim needs only the fields
            source=str(kept["source"]),
        )
    except (ValueError, KeyError, TypeError, InvalidOperation):
        return None
    return stored, fields
