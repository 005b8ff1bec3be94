"""A ticket's cards, kept in step: IT's triage card with its staff buttons, the requester's card with theirs, and
the notes that reach the requester's thread."""

from __future__ import annotations

from collections.abc import Sequence

from bot.messages import Button, Select, escape_mrkdwn
from skills.base import SkillContext
from skills.it import action_ids, service
from skills.it.classify import PRIORITIES
from skills.it.models import Ticket
from skills.it.service import STATUS_LABELS

SKILL = "it"  # the IT skill's name: the prefix of its action ids and the skill its replies are recorded under
CATEGORY_LABELS = {
    "access": "Access",
    "account": "Account / password",
    "hardware": "Hardware",
    "software": "Software",
    "network": "Network",
    "security": "Security",
    "other": "Other",
}


def triage_key(ticket: Ticket) -> str:
    return f"it:{ticket.id}:triage"


def card_key(ticket: Ticket) -> str:
    return f"it:{ticket.id}:card"


def sends_webhooks(ctx: SkillContext) -> bool:
    """Whether ticket events go to the outbound webhook."""
    return ctx.settings.webhook_url is not None


def requester_text(ticket: Ticket, *, heading: str) -> str:
    assignee = ticket.assignee.name if ticket.assignee else "not yet assigned"
    lines = [
        f"*{heading}* — #{ticket.id} {escape_mrkdwn(ticket.title)}",
        f"• Category: {CATEGORY_LABELS.get(ticket.category, ticket.category)} · Priority: {ticket.priority}",
        f"• Status: {STATUS_LABELS[ticket.status]} · {assignee}",
    ]
    if ticket.resolution_note:
        lines.append(f"• Resolution: {escape_mrkdwn(ticket.resolution_note)}")
    return "\n".join(lines)


def requester_buttons(ticket: Ticket) -> list[Button]:
    if ticket.status in ("resolved",):
        buttons = [
            Button(action_ids.CONFIRM, "Fixed, close it", str(ticket.id), "primary"),
            Button(action_ids.REOPEN, "Still broken", str(ticket.id), "danger"),
        ]
        return buttons + [Button(action_ids.RATE, f"{n}★", f"{ticket.id}:{n}") for n in range(1, 6)]
    if ticket.status == "closed":
        return []
    return [Button(action_ids.EDIT, "Correct category / priority", str(ticket.id))]


def triage_text(ticket: Ticket, reasons: Sequence[str] = (), *, ctx: SkillContext) -> str:
    requester = ticket.requester
    assignee = ticket.assignee.name if ticket.assignee else "unassigned"
    mention = f"{ctx.settings.security_mention} " if ticket.security else ""
    lines = [
        f"{mention}*#{ticket.id} {escape_mrkdwn(ticket.title)}* — {ticket.priority} · "
        f"{CATEGORY_LABELS.get(ticket.category, ticket.category)}" + (" · 🔒 SECURITY" if ticket.security else ""),
        f"• From: {requester.name} · Status: *{STATUS_LABELS[ticket.status]}* · {assignee}",
        f"• {escape_mrkdwn(ticket.description[:1500])}",
    ]
    if ticket.ocr_text:
        lines.append(f"• Screenshot text: {escape_mrkdwn(ticket.ocr_text[:500])}")
    if reasons:
        lines.append("• Triage: " + escape_mrkdwn("; ".join(reasons)))
    if ticket.resolution_note:
        lines.append(f"• Resolution: {escape_mrkdwn(ticket.resolution_note)}")
    return "\n".join(lines)


def triage_buttons(ticket: Ticket) -> list[Button]:
    value = str(ticket.id)
    if ticket.status in ("resolved", "closed"):
        return [Button(action_ids.REOPEN, "Reopen", value)] if ticket.status == "resolved" else []
    buttons = [Button(action_ids.CLAIM, "Claim", value, "primary")]
    if ticket.status != "waiting":
        buttons.append(Button(action_ids.WAITING, "Waiting on requester", value))
    else:
        buttons.append(Button(action_ids.PROGRESS, "Back in progress", value))
    buttons.append(Button(action_ids.RESOLVE, "Resolve", value))
    buttons += [Button(action_ids.PRIORITY, p, f"{ticket.id}:{p}") for p in PRIORITIES if p != ticket.priority]
    return buttons


def post_triage_card(ctx: SkillContext, ticket: Ticket, reasons: Sequence[str] = ()) -> None:
    open_ticket = ticket.status in service.OPEN
    ctx.notify(
        channel=ctx.settings.it_destination,
        text=triage_text(ticket, reasons, ctx=ctx),
        update_key=triage_key(ticket),
        buttons=triage_buttons(ticket),
        selects=[Select(action_ids.ASSIGN, "Assign to…", str(ticket.id))] if open_ticket else [],
    )


def refresh_cards(ctx: SkillContext, ticket: Ticket, heading: str) -> None:
    """Edit both cards in place: IT's triage card and the requester's card."""
    post_triage_card(ctx, ticket)
    ctx.notify(
        channel=ticket.channel,
        thread_ts=ticket.thread_ts,
        text=requester_text(ticket, heading=heading),
        update_key=card_key(ticket),
        buttons=requester_buttons(ticket),
    )


def tell_requester(ctx: SkillContext, ticket: Ticket, text: str) -> None:
    ctx.notify(channel=ticket.channel, thread_ts=ticket.thread_ts, text=text)
