"""The IT skill's buttons and forms on a ticket: IT's triage (claim, assign, waiting, priority, resolve), the
category and priority corrected, and the requester's confirm, reopen and rating."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from bot import audit
from bot.messages import Message, Modal, ModalField, Reply
from bot.models import Employee
from skills.base import ActionHandler, SkillContext, ask_for_text, row_id
from skills.it import action_ids, service
from skills.it.cards import (
    CATEGORY_LABELS,
    SKILL,
    refresh_cards,
    requester_buttons,
    sends_webhooks,
    tell_requester,
)
from skills.it.classify import CATEGORIES, PRIORITIES
from skills.it.models import Ticket
from skills.it.repeats import MAX_DESCRIPTION
from skills.it.service import STATUS_LABELS

TicketAction = Callable[[Ticket, str, Message, SkillContext], Reply]  # (ticket, argument, message, ctx)


def on_ticket(act: TicketAction) -> ActionHandler:
    """The handler of a button pressed or a form sent about one ticket: its id, and any argument after ":", are
    the action's value."""

    def handler(message: Message, ctx: SkillContext) -> Reply:
        ticket_id, _, argument = (message.action_value or "").partition(":")
        ticket = ctx.session.get(Ticket, row_id(ticket_id) or 0)
        if ticket is None:
            return Reply(text="I couldn't find that ticket any more.", ephemeral=True)
        return act(ticket, argument, message, ctx)

    return handler


def claim(ticket: Ticket, argument: str, message: Message, ctx: SkillContext) -> Reply:
    if not service.assign(
        ctx.session, ticket, ctx.employee, actor=ctx.employee, now=ctx.now(), webhook=sends_webhooks(ctx)
    ):
        return Reply(text=f"You already have ticket #{ticket.id}.", skill=SKILL, ephemeral=True)
    refresh_cards(ctx, ticket, "Your ticket")
    tell_requester(ctx, ticket, f"{ctx.employee.name} from IT is on your ticket #{ticket.id}.")
    return Reply(text=f"You have ticket #{ticket.id}.", skill=SKILL, ephemeral=True)


def assign(ticket: Ticket, argument: str, message: Message, ctx: SkillContext) -> Reply:
    assignee = _employee_by_slack(ctx, message.form.get("selected", ""))
    if assignee is None:
        return Reply(text="I don't know that person.", ephemeral=True)
    if not service.assign(
        ctx.session, ticket, assignee, actor=ctx.employee, now=ctx.now(), webhook=sends_webhooks(ctx)
    ):
        return Reply(text=f"Ticket #{ticket.id} is already with {assignee.name}.", ephemeral=True)
    refresh_cards(ctx, ticket, "Your ticket")
    return Reply(text=f"Ticket #{ticket.id} is now with {assignee.name}.", skill=SKILL, ephemeral=True)


def waiting(ticket: Ticket, argument: str, message: Message, ctx: SkillContext) -> Reply:
    reply = _move(ticket, "waiting", ctx)
    tell_requester(ctx, ticket, f"IT is waiting for you on ticket #{ticket.id}: please reply here with more detail.")
    return reply


def progress(ticket: Ticket, argument: str, message: Message, ctx: SkillContext) -> Reply:
    return _move(ticket, "in_progress", ctx)


def _move(ticket: Ticket, target: str, ctx: SkillContext) -> Reply:
    service.transition(ctx.session, ticket, target, actor=ctx.employee, now=ctx.now(), webhook=sends_webhooks(ctx))
    refresh_cards(ctx, ticket, "Your ticket")
    return Reply(text=f"Ticket #{ticket.id}: {STATUS_LABELS[ticket.status]}.", skill=SKILL, ephemeral=True)


def priority(ticket: Ticket, argument: str, message: Message, ctx: SkillContext) -> Reply:
    if argument not in PRIORITIES:
        return Reply(text="That is not a priority.", ephemeral=True)
    service.change_field(ctx.session, ticket, "priority", argument, actor=ctx.employee, webhook=sends_webhooks(ctx))
    refresh_cards(ctx, ticket, "Your ticket")
    return Reply(text=f"Ticket #{ticket.id} is now {argument}.", skill=SKILL, ephemeral=True)


def resolve_form(ticket: Ticket, argument: str, message: Message, ctx: SkillContext) -> Reply:
    service.check_move(ticket, "resolved", actor=ctx.employee)
    return ask_for_text(
        callback_id=action_ids.RESOLVE_SUBMIT,
        title=f"Resolve #{ticket.id}",
        field="note",
        label="What fixed it? (the requester sees this)",
        target_id=ticket.id,
        submit_label="Resolve",
    )


def resolved(ticket: Ticket, argument: str, message: Message, ctx: SkillContext) -> Reply:
    return _resolve(ticket, message.form.get("note", "").strip(), ctx)


def edit_form(ticket: Ticket, argument: str, message: Message, ctx: SkillContext) -> Reply:
    return _edit_form(ticket, ctx)


def edited(ticket: Ticket, argument: str, message: Message, ctx: SkillContext) -> Reply:
    return _edited(ticket, message.form, ctx)


def confirm(ticket: Ticket, argument: str, message: Message, ctx: SkillContext) -> Reply:
    return _requester_move(ticket, "closed", ctx)


def reopen(ticket: Ticket, argument: str, message: Message, ctx: SkillContext) -> Reply:
    return _requester_move(ticket, "in_progress", ctx)


def _requester_move(ticket: Ticket, target: str, ctx: SkillContext) -> Reply:
    service.transition(ctx.session, ticket, target, actor=ctx.employee, now=ctx.now(), webhook=sends_webhooks(ctx))
    refresh_cards(ctx, ticket, "Your ticket")
    text = "Thanks — closed." if target == "closed" else f"Reopened ticket #{ticket.id}; IT will pick it up."
    return Reply(text=text, skill=SKILL)


def rate(ticket: Ticket, argument: str, message: Message, ctx: SkillContext) -> Reply:
    return _rate(ticket, argument, ctx)


def _resolve(ticket: Ticket, note: str, ctx: SkillContext) -> Reply:
    if not note:
        return Reply(text="Please say what fixed it; the requester sees the note.", ephemeral=True)
    service.transition(
        ctx.session, ticket, "resolved", actor=ctx.employee, now=ctx.now(), note=note, webhook=sends_webhooks(ctx)
    )
    refresh_cards(ctx, ticket, "Your ticket is resolved")
    ctx.notify(
        channel=ticket.channel,
        thread_ts=ticket.thread_ts,
        text=(
            f"✅ {ctx.employee.name} resolved ticket #{ticket.id}: {note}\n"
            "Is it fixed for you? Confirm or reopen, and rate how it went (1–5)."
        ),
        buttons=requester_buttons(ticket),
    )
    return Reply(
        text=f"Resolved #{ticket.id}; {ticket.requester.name} has been asked to confirm.",
        skill=SKILL,
        ephemeral=True,
    )


def _rate(ticket: Ticket, argument: str, ctx: SkillContext) -> Reply:
    if ctx.employee.id != ticket.requester_id:
        return Reply(text="Only the person who reported it can rate this ticket.", ephemeral=True)
    if argument not in {"1", "2", "3", "4", "5"}:
        return Reply(text="Ratings go from 1 to 5.", ephemeral=True)
    ticket.rating = int(argument)
    ctx.session.flush()
    audit.record(
        ctx.session,
        entity="ticket",
        entity_id=ticket.id,
        action="rated",
        actor_id=ctx.employee.id,
        detail={"rating": ticket.rating},
    )
    return Reply(text=f"Thanks for rating ticket #{ticket.id} {argument}/5.", skill=SKILL, ephemeral=True)


def _edit_form(ticket: Ticket, ctx: SkillContext) -> Reply:
    if not (ctx.employee.has_role("it") or ctx.employee.id == ticket.requester_id):
        return Reply(text="Only IT or the person who reported it can change this ticket.", ephemeral=True)
    return Reply(
        text="",
        modal=Modal(
            callback_id=action_ids.EDIT_SUBMIT,
            title=f"Ticket #{ticket.id}",
            fields=(
                ModalField(
                    "category",
                    "Category",
                    kind="select",
                    initial=ticket.category,
                    options=tuple((c, CATEGORY_LABELS[c]) for c in CATEGORIES),
                ),
                ModalField(
                    "priority",
                    "Priority",
                    kind="select",
                    initial=ticket.priority,
                    options=tuple((p, p) for p in PRIORITIES),
                ),
                ModalField("detail", "Anything to add?", multiline=True, optional=True),
            ),
            private_metadata=str(ticket.id),
            submit_label="Save",
        ),
    )


def _edited(ticket: Ticket, form: dict[str, str], ctx: SkillContext) -> Reply:
    category, priority = form.get("category", ticket.category), form.get("priority", ticket.priority)
    if category not in CATEGORIES or priority not in PRIORITIES:
        return Reply(text="Please choose a category and priority from the lists. Nothing was changed.", ephemeral=True)
    service.change_field(ctx.session, ticket, "category", category, actor=ctx.employee, webhook=sends_webhooks(ctx))
    service.change_field(ctx.session, ticket, "priority", priority, actor=ctx.employee, webhook=sends_webhooks(ctx))
    detail = form.get("detail", "").strip()
    if detail:
        ticket.description = f"{ticket.description}\n\nAdded: {detail}"[: MAX_DESCRIPTION * 2]
        ctx.session.flush()
    refresh_cards(ctx, ticket, "Your ticket (updated)")
    return Reply(text=f"Updated ticket #{ticket.id}.", skill=SKILL)


def _employee_by_slack(ctx: SkillContext, slack_id: str) -> Employee | None:
    return ctx.session.scalar(select(Employee).where(Employee.slack_id == slack_id)) if slack_id else None
