"""Export of claims for accounting and payroll: one CSV row per claim, the original amount and currency
kept beside the base-currency amount and the rate used; totals are exact Decimal sums."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from bot.models import Expense
from bot.spreadsheet import cell
from skills.expenses.service import approved_between

COLUMNS = (
    "claim_id",
    "employee_slack_id",
    "employee_name",
    "spent_on",
    "category",
    "merchant",
    "amount",
    "currency",
    "rate",
    "base_amount",
    "base_currency",
    "status",
    "approved_at",
    "reimbursed_at",
    "description",
)
EXPORTABLE = ("approved", "reimbursed")


@dataclass(frozen=True)
class ExportResult:
    rows: int
    total_base: Decimal
    base_currency: str | None
    csv_text: str


def expense_row(expense: Expense) -> dict[str, str]:
    """One claim as finance's CSV row; every cell kept text in a spreadsheet (`bot.spreadsheet.cell`)."""
    return {name: cell(value) for name, value in _row_values(expense).items()}


def _row_values(expense: Expense) -> dict[str, str]:
    return {
        "claim_id": str(expense.id),
        "employee_slack_id": expense.employee.slack_id,
        "employee_name": expense.employee.name,
        "spent_on": expense.spent_on.isoformat(),
        "category": expense.category,
        "merchant": expense.merchant or "",
        "amount": f"{expense.amount:.2f}",
        "currency": expense.currency,
        "rate": f"{expense.rate.normalize():f}",
        "base_amount": f"{expense.base_amount:.2f}",
        "base_currency": expense.base_currency,
        "status": expense.status,
        "approved_at": expense.decided_at.isoformat() if expense.decided_at else "",
        "reimbursed_at": expense.reimbursed_at.isoformat() if expense.reimbursed_at else "",
        "description": expense.description,
    }


def export_csv(session: Session, *, start: date, end: date, statuses: tuple[str, ...] = EXPORTABLE) -> ExportResult:
    claims = approved_between(session, start, end, statuses)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    total = Decimal("0.00")
    for expense in claims:
        writer.writerow(expense_row(expense))
        total += expense.base_amount
    currencies = {e.base_currency for e in claims}
    return ExportResult(
        rows=len(claims),
        total_base=total,
        base_currency=currencies.pop() if len(currencies) == 1 else None,
        csv_text=buffer.getvalue(),
    )
