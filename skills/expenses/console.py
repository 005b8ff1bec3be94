"""Expenses in the console: a claim's page (its figures, receipt, history and actions), the receipt itself for
those who may see the claim, the decisions sent from the pages, and finance's page with its CSV export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.console.items import (
    ITEM_PAGE,
    allowed,
    employee_of,
    expense_category,
    history,
    item_page,
    moment,
    money,
    state,
    visible_row,
)
from bot.console.shell import (
    PAGE_SIZE,
    ConsolePages,
    ItemKind,
    Owned,
    PosterDep,
    RuntimeDep,
    SessionDep,
    Viewer,
    ViewerDep,
    act,
    back,
    count,
    page,
    parse_day,
    require,
)
from bot.date_words import fmt_day
from bot.db import utcnow
from bot.messages import seen
from bot.models import Expense
from bot.runtime import Runtime
from integrations.files import sniff_kind
from skills.expenses import action_ids
from skills.expenses.export import export_csv
from skills.expenses.service import check_move

TEMPLATES = Path(__file__).parent / "templates"

router = APIRouter(prefix="/console", include_in_schema=False)


STATUS = {
    "draft": "Draft, not submitted yet",
    "submitted": "Waiting for the manager's approval",
    "manager_approved": "Approved by the manager, waiting for finance",
    "approved": "Approved, to be reimbursed",
    "rejected": "Rejected",
    "withdrawn": "Withdrawn",
    "discarded": "Discarded",
    "reimbursed": "Reimbursed",
}
VERBS = {
    "submitted": "Submitted by {who}",
    "manager_approved": "Approved by {who}; now with finance",
    "approved": "Approved by {who}",
    "rejected": "Rejected by {who}",
    "withdrawn": "Withdrawn by {who}",
    "discarded": "Discarded by {who}",
    "reimbursed": "Marked reimbursed by {who}",
}
# The button or form each console decision is, and the state the page checks it against.
DECISIONS = {
    "approve": (action_ids.APPROVE, "approved"),
    "reject": (action_ids.REJECT_SUBMIT, "rejected"),
    "reimbursed": (action_ids.REIMBURSED, "reimbursed"),
    "withdraw": (action_ids.WITHDRAW, "withdrawn"),
}
# What a receipt is served as, by the kind its first bytes show (never by its name); browsers draw the images.
RECEIPT_TYPES = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "bmp": "image/bmp",
    "tiff": "image/tiff",
    "pdf": "application/pdf",
}
SHOWN_INLINE = frozenset({"png", "jpeg", "gif", "webp", "bmp"})
# A receipt's own policy: nothing in it runs or loads anything; a PDF needs the browser's viewer (object-src).
RECEIPT_POLICY = "default-src 'none'; img-src 'self'; object-src 'self'; style-src 'unsafe-inline'"


def receipt_file(uploads: Path, stored: str | None) -> tuple[Path, str] | None:
    """The claim's receipt file and its kind, if it is a file under the uploads folder (nothing else is ever
    served, whatever the row says) of a kind we serve."""
    if not stored:
        return None
    base = uploads.resolve()
    path = Path(stored).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        return None
    with path.open("rb") as handle:
        kind = sniff_kind(handle.read(512))
    return (path, kind) if kind in RECEIPT_TYPES else None


@router.get("/items/expense/{expense_id}")
def expense_item(
    expense_id: int, request: Request, session: SessionDep, viewer: ViewerDep, rt: RuntimeDep
) -> HTMLResponse:
    now = utcnow()
    policy = rt.expense_policy
    with rt.database.session_scope() as db:
        claim = visible_row(db, Expense, "expense", expense_id, viewer)
        me = employee_of(db, viewer)
        amount = money(claim.amount, claim.currency)
        if claim.currency != claim.base_currency:
            amount += f" (about {money(claim.base_amount, claim.base_currency)})"
        receipt = receipt_file(rt.settings.uploads_dir, claim.receipt_path)
        facts = [
            ("Claimed by", claim.employee.name),
            ("Amount", amount),
            ("Spent on", fmt_day(claim.spent_on)),
            ("Merchant", claim.merchant or ""),
            ("Category", expense_category(claim.category)),
            ("Attendees", str(claim.attendees or "")),
            ("Distance", f"{claim.distance} {claim.distance_unit or ''}".strip() if claim.distance else ""),
            ("What for", claim.description),
            ("Receipt", "Attached" if claim.receipt_sha256 else "None"),
            ("Receipt total", money(claim.receipt_total, claim.currency) if claim.receipt_total is not None else ""),
            ("Policy flags", "; ".join(claim.flags or [])),
            ("Approver", claim.approver.name if claim.approver else ""),
            ("Finance approver", claim.finance_approver.name if claim.finance_approver else ""),
            ("Decision note", claim.decision_note or ""),
            ("Submitted", moment(claim.submitted_at, me.tz)),
            ("Decided", moment(claim.decided_at, me.tz)),
            ("Reimbursed", moment(claim.reimbursed_at, me.tz)),
        ]
        may = {name: allowed(check_move, claim, to, actor=me, policy=policy) for name, (_, to) in DECISIONS.items()}
        trail = history(db, entity="expense", entity_id=claim.id, verbs=VERBS, tz=me.tz, now=now)
        return item_page(
            request,
            session,
            viewer,
            "expense_item.html",
            kind="expense",
            item_id=claim.id,
            title=f"Expense claim #{claim.id}",
            statuses=STATUS,
            status_key=claim.status,
            facts=facts,
            trail=trail,
            may=may,
            revision=claim.revision,
            receipt_kind=receipt[1] if receipt else None,
            receipt_inline=receipt is not None and receipt[1] in SHOWN_INLINE,
        )


@router.get("/items/expense/{expense_id}/receipt")
def expense_receipt(expense_id: int, viewer: ViewerDep, rt: RuntimeDep) -> Response:
    """The claim's receipt, for those who may see the claim: the claimant, their approver, finance and admins."""
    with rt.database.session_scope() as db:
        stored = visible_row(db, Expense, "expense", expense_id, viewer).receipt_path
    found = receipt_file(rt.settings.uploads_dir, stored)
    if found is None:
        raise HTTPException(status_code=404, detail="This claim has no receipt to show.")
    path, kind = found
    return FileResponse(
        path,
        media_type=RECEIPT_TYPES[kind],
        filename=f"receipt-{expense_id}.{'jpg' if kind == 'jpeg' else kind}",
        content_disposition_type="inline",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": RECEIPT_POLICY,
        },
    )


@router.post("/expenses/{expense_id}/{decision}")
def expense_decide(
    expense_id: int,
    decision: str,
    viewer: PosterDep,
    rt: RuntimeDep,
    reason: Annotated[str, Form(max_length=2000)] = "",
    to: Annotated[str, Form(pattern=f"^(/console/(team|finance)|{ITEM_PAGE})$")] = "/console/team",
    revision: Annotated[int | None, Form(description="the revision the page showed")] = None,
) -> Response:
    if decision not in DECISIONS:
        raise HTTPException(status_code=404, detail="No such decision.")
    value = seen(expense_id, revision) if revision is not None and decision == "approve" else str(expense_id)
    reply = act(rt, viewer, DECISIONS[decision][0], value, {"reason": reason} if decision == "reject" else None)
    return back(to, reply.text)


# ---------------------------------------------------------------- finance


@router.get("/finance")
def finance_page(request: Request, session: SessionDep, viewer: ViewerDep, rt: RuntimeDep) -> HTMLResponse:
    require(viewer, "finance")
    with rt.database.session_scope() as db:
        rows = [
            {
                "id": x.id,
                "who": x.employee.name,
                "status": x.status,
                "status_words": state(STATUS, x.status),
                "amount": money(x.amount, x.currency),
                "base": money(x.base_amount, x.base_currency),
                "merchant": x.merchant or "",
                "category": expense_category(x.category),
                "flags": x.flags,
                "spent_on": fmt_day(x.spent_on),
                "revision": x.revision,
            }
            for x in db.scalars(
                select(Expense)
                .where(Expense.status.in_(("manager_approved", "approved")))
                .order_by(Expense.status.desc(), Expense.id)
                .limit(PAGE_SIZE)
            )
        ]
    return page(request, "finance.html", session, user=viewer, expenses=rows)


@router.get("/finance/export.csv")
def finance_export(
    viewer: ViewerDep,
    rt: RuntimeDep,
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
) -> Response:
    """Approved and reimbursed claims spent in [since, until] (default: this month so far), as finance's CSV."""
    require(viewer, "finance")
    today = utcnow().date()
    start = parse_day(since, "from") or today.replace(day=1)
    end = parse_day(until, "to") or today
    with rt.database.session_scope() as db:
        result = export_csv(db, start=start, end=end)
    return Response(
        result.csv_text,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="expenses-{start}-{end}.csv"'},
    )


def my_claims(db: Session, viewer: Viewer, rt: Runtime) -> list[Owned]:
    """The viewer's ten newest expense claims, for the home page."""
    newest = select(Expense).where(Expense.employee_id == viewer.id).order_by(Expense.id.desc())
    return [
        Owned(x.id, f"{money(x.amount, x.currency)}, " + (x.merchant or expense_category(x.category)), x.status)
        for x in db.scalars(newest.limit(10))
    ]


def home_counts(db: Session, viewer: Viewer) -> dict[str, int | None]:
    """The claims waiting for finance (for finance only) and those waiting for the viewer's decision."""
    return {
        "finance": count(db, Expense, Expense.status == "manager_approved") if viewer.has("finance") else None,
        "team_expenses": count(db, Expense, Expense.status == "submitted", Expense.approver_id == viewer.id),
    }


EXPENSE = ItemKind("expense", "Expense claim", "expense", STATUS, my_claims)
PAGES = ConsolePages(router, TEMPLATES, items=(EXPENSE,), home_counts=home_counts)
