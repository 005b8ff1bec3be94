"""Expense decisions from the console (managers and finance) and finance's page with its CSV export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from bot.console.shell import (
    PAGE_SIZE,
    ConsolePages,
    PosterDep,
    RuntimeDep,
    SessionDep,
    ViewerDep,
    act,
    back,
    page,
    parse_day,
    require,
)
from bot.db import utcnow
from bot.messages import seen
from bot.models import Expense
from skills.expenses import action_ids
from skills.expenses.export import export_csv

TEMPLATES = Path(__file__).parent / "templates"

router = APIRouter(prefix="/console", include_in_schema=False)


@router.post("/expenses/{expense_id}/{decision}")
def expense_decide(
    expense_id: int,
    decision: str,
    viewer: PosterDep,
    rt: RuntimeDep,
    reason: Annotated[str, Form(max_length=2000)] = "",
    to: Annotated[str, Form(pattern="^/console/(team|finance)$")] = "/console/team",
    revision: Annotated[int | None, Form(description="the revision the page showed")] = None,
) -> Response:
    actions = {"approve": action_ids.APPROVE, "reject": action_ids.REJECT_SUBMIT, "reimbursed": action_ids.REIMBURSED}
    if decision not in actions:
        raise HTTPException(status_code=404, detail="No such decision.")
    value = seen(expense_id, revision) if revision is not None and decision == "approve" else str(expense_id)
    reply = act(rt, viewer, actions[decision], value, {"reason": reason} if decision == "reject" else None)
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
                "amount": x.amount,
                "currency": x.currency,
                "base": x.base_amount,
                "base_currency": x.base_currency,
                "merchant": x.merchant or "",
                "category": x.category,
                "flags": x.flags,
                "spent_on": x.spent_on,
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


PAGES = ConsolePages(router, TEMPLATES)
