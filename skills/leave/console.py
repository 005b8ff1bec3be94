"""A manager's leave decision sent from the console's team page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException
from fastapi.responses import Response

from bot.console.shell import ConsolePages, PosterDep, RuntimeDep, act, back
from bot.messages import seen
from skills.leave import action_ids

router = APIRouter(prefix="/console", include_in_schema=False)


@router.post("/leave/{request_id}/{decision}")
def leave_decide(
    request_id: int,
    decision: str,
    viewer: PosterDep,
    rt: RuntimeDep,
    reason: Annotated[str, Form(max_length=2000)] = "",
    revision: Annotated[int | None, Form(description="the revision the page showed")] = None,
) -> Response:
    if decision not in ("approve", "deny"):
        raise HTTPException(status_code=404, detail="No such decision.")
    action = action_ids.APPROVE if decision == "approve" else action_ids.DENY_SUBMIT
    value = seen(request_id, revision) if revision is not None and decision == "approve" else str(request_id)
    reply = act(rt, viewer, action, value, {"reason": reason} if decision == "deny" else None)
    return back("/console/team", reply.text)


PAGES = ConsolePages(router)
