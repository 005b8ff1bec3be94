"""A ticket's two Slack threads: a reply in IT's thread under the triage card reaches the requester, and the
requester's reply in theirs reaches IT."""

from __future__ import annotations

import re

from sqlalchemy import select

from bot import audit
from bot.messages import Message, Reply, escape_mrkdwn
from bot.models import ChatMessage, find_card
from skills.base import SkillContext
from skills.it import service
from skills.it.cards import SKILL, post_triage_card, sends_webhooks, tell_requester, triage_key
from skills.it.models import Ticket


def relay(message: Message, ctx: SkillContext) -> Reply | None:
    """A reply in IT's thread under a triage card reaches the requester's thread, and a reply in the
    requester's thread reaches IT's; None when this message is not such a reply."""
    if message.platform != "slack" or not message.thread_ts:
        return None
    card = find_card(ctx.session, channel=message.channel, ts=message.thread_ts)
    match = re.fullmatch(r"it:(\d+):triage", card.update_key or "") if card else None
    if match:
        ticket = ctx.session.get(Ticket, int(match.group(1)))
        if ticket is None:
            return None
        if not ctx.employee.has_role("it"):
            # The requester would read it as IT's answer; others write in their own thread.
            return Reply(text="Only IT can answer the requester from this thread.", ephemeral=True, skill=SKILL)
        if ticket.first_response_at is None:
            ticket.first_response_at = ctx.now()
        tell_requester(
            ctx, ticket, f"💬 {ctx.employee.name} (IT) on ticket #{ticket.id}: {escape_mrkdwn(message.text)}"
        )
        audit.record(ctx.session, entity="ticket", entity_id=ticket.id, action="comment_it", actor_id=ctx.employee.id)
        return Reply(text=f"Sent to {ticket.requester.name}.", ephemeral=True, skill=SKILL)
    ticket = ctx.session.scalar(
        select(Ticket)
        .where(
            Ticket.conversation_id == ctx.conversation.id,
            Ticket.requester_id == ctx.employee.id,
            Ticket.status.in_(service.OPEN),
        )
        .order_by(Ticket.id.desc())
        .limit(1)
    )
    if ticket is None:
        return None
    if ticket.status == "waiting":
        service.transition(
            ctx.session, ticket, "in_progress", actor=ctx.employee, now=ctx.now(), webhook=sends_webhooks(ctx)
        )
        post_triage_card(ctx, ticket)
    triage_card = ctx.session.scalar(select(ChatMessage).where(ChatMessage.update_key == triage_key(ticket)))
    thread = triage_card.slack_ts if triage_card is not None else None
    ctx.notify(
        channel=triage_card.channel if triage_card is not None else ctx.settings.it_destination,
        thread_ts=thread,
        text=f"💬 {ctx.employee.name} on ticket #{ticket.id}: {escape_mrkdwn(message.text)}",
    )
    audit.record(
        ctx.session, entity="ticket", entity_id=ticket.id, action="comment_requester", actor_id=ctx.employee.id
    )
    ctx.conversation.awaiting_skill = SKILL
    return Reply(text=f"Passed to IT on ticket #{ticket.id}.", ephemeral=True, skill=SKILL)
