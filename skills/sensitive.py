"""Confidential matters — the writer's health, harassment, grievances (bot.privacy.sensitive_topic): moved to a
private conversation and an HR-only queue. Nothing about them is answered in a shared channel, stored in the
clear with the conversation, or sent to an LLM.

HR answers from the card in the private HR queue with the same escalation moves as policy questions
(bot.escalations: HR only, one answer, audited), but through this skill's own buttons: the answer goes to the
employee's DM (never back to the shared thread where they wrote) and it never becomes an FAQ."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot import escalations
from bot.jobs import Job
from bot.messages import Button, Message, Reply, escape_mrkdwn
from bot.models import Escalation, find_card
from bot.outbox import person_channel
from bot.privacy import MEDICAL, TOPIC_LABELS, redact_pii, sensitive_topic
from skills import sensitive_action_ids
from skills.base import ActionHandler, SkillContext, ask_for_text, no_longer_available, row_id

PRIVATE_CHANNEL_TYPES = ("im", "web", "cli")
MOVED = (
    "This looks like something personal, so I've moved it to a private message with you and passed it "
    "confidentially to HR. You may want to delete your message here."
)
URGENT = "If you are in danger or thinking about harming yourself, please call your local emergency number now."


def _label(topic: str | None) -> str:
    return TOPIC_LABELS.get(topic or "", "a personal matter")


class SensitiveSkill:
    name = "sensitive"
    description = "Confidential matters (health, harassment, grievances): a private conversation and HR-only follow-up"

    jobs: Sequence[Job] = ()  # nothing on a timer

    console = None  # no console pages

    def __init__(self) -> None:
        # Routed by deterministic patterns before the classifier (bot.router), never by trained examples.
        self.examples: Sequence[str] = ()
        self.actions: Mapping[str, ActionHandler] = {
            sensitive_action_ids.ANSWER: self._answer_form,
            sensitive_action_ids.ANSWER_SUBMIT: self._answer_submitted,
            sensitive_action_ids.RESOLVE: self._resolve,
        }

    def handle(self, message: Message, ctx: SkillContext) -> Reply:
        if message.action_id:
            return self.actions.get(message.action_id, no_longer_available)(message, ctx)
        card = find_card(ctx.session, channel=message.channel, ts=message.thread_ts) if message.thread_ts else None
        if card is not None and (card.update_key or "").startswith(f"{self.name}:"):
            # HR writing under a confidential card: the employee only hears through the Answer button.
            return Reply(
                text="To reply to the employee privately, use *Answer* on the card; messages here stay here.",
                ephemeral=True,
            )
        return self._take_in(message, ctx)

    # ------------------------------------------------------------ employee side

    def _take_in(self, message: Message, ctx: SkillContext) -> Reply:
        topic = sensitive_topic(message.text)
        # HR needs the account in the employee's words, but never their card or id numbers.
        account = redact_pii(message.text.strip())
        escalation = escalations.open_escalation_for(
            ctx.session, employee=ctx.employee, question=account, sensitive=True
        ) or escalations.create_escalation(
            ctx.session,
            employee=ctx.employee,
            conversation=ctx.conversation,
            question=account,
            sources=[],
            sensitive=True,
        )
        self._post_card(ctx, escalation, topic)
        private = (
            f"Thank you for telling me. This sounds like {_label(topic)}, so I've passed it to HR "
            f"confidentially (request #{escalation.id}). Only the HR team can see it, and nothing about it was "
            "shared in any channel. Someone from HR will reply to you here."
        )
        if topic == MEDICAL:
            private += f"\n{URGENT}"
        if message.channel_type in PRIVATE_CHANNEL_TYPES:
            return Reply(text=private, skill=self.name)
        # Written in a shared channel: an ephemeral note there (no content), the substance in their DM.
        ctx.notify(channel=person_channel(ctx.employee, message.platform), text=private)
        return Reply(text=MOVED, ephemeral=True, skill=self.name)

    # ------------------------------------------------------------ HR side

    def _escalation(self, ctx: SkillContext, value: str | None) -> Escalation | None:
        escalation_id = row_id(value)
        escalation = ctx.session.get(Escalation, escalation_id) if escalation_id else None
        return escalation if escalation is not None and escalation.sensitive else None

    def _answer_form(self, message: Message, ctx: SkillContext) -> Reply:
        escalation = self._escalation(ctx, message.action_value)
        if escalation is None:
            return Reply(text="That request no longer exists.", ephemeral=True)
        if not ctx.employee.has_role("hr"):
            return Reply(text="Only HR can answer confidential requests.", ephemeral=True)
        if escalation.status != "open":
            return Reply(text=f"This request is already {escalation.status}.", ephemeral=True)
        return ask_for_text(
            callback_id=sensitive_action_ids.ANSWER_SUBMIT,
            title="Reply privately",
            field="answer",
            label=f"Your reply to {escalation.employee.name} (sent to them directly)",
            target_id=escalation.id,
            submit_label="Send reply",
        )

    def _answer_submitted(self, message: Message, ctx: SkillContext) -> Reply:
        escalation = self._escalation(ctx, message.action_value)
        answer_text = (message.form.get("answer") or "").strip()
        if escalation is None:
            return Reply(text="That request no longer exists.", ephemeral=True)
        if not answer_text:
            return Reply(text="Please write a reply before sending.", ephemeral=True)
        escalations.transition(
            ctx.session, escalation, "answered", actor=ctx.employee, answer=answer_text, confidential=True
        )
        self._tell_employee(
            ctx,
            escalation,
            f"HR replied to your confidential request #{escalation.id}:\n\n{answer_text}\n— {ctx.employee.name}, HR",
        )
        self._post_card(ctx, escalation, sensitive_topic(escalation.question))
        return Reply(text=f"Your reply was sent privately to {escalation.employee.name}.", ephemeral=True)

    def _resolve(self, message: Message, ctx: SkillContext) -> Reply:
        escalation = self._escalation(ctx, message.action_value)
        if escalation is None:
            return Reply(text="That request no longer exists.", ephemeral=True)
        escalations.transition(ctx.session, escalation, "resolved", actor=ctx.employee, confidential=True)
        if escalation.answer is None:
            self._tell_employee(
                ctx,
                escalation,
                f"HR closed your confidential request #{escalation.id}; {ctx.employee.name} may contact you directly.",
            )
        self._post_card(ctx, escalation, sensitive_topic(escalation.question))
        return Reply(text=f"Confidential request #{escalation.id} is resolved.", ephemeral=True)

    @staticmethod
    def _tell_employee(ctx: SkillContext, escalation: Escalation, text: str) -> None:
        """Always the employee's DM (or their web/CLI feed), whatever channel they first wrote in."""
        platform = escalation.conversation.platform if escalation.conversation is not None else "slack"
        ctx.notify(channel=person_channel(escalation.employee, platform), text=text)

    @staticmethod
    def _post_card(ctx: SkillContext, escalation: Escalation, topic: str | None) -> None:
        """The card in the private HR queue, edited in place as the request moves."""
        lines = [
            f":lock: *Confidential — {_label(topic)}* from "
            f"{escalation.employee.name} (request #{escalation.id}, {escalation.status})",
            f">{escape_mrkdwn(escalation.question)}",
        ]
        buttons: list[Button] = []
        if escalation.status == "open":
            lines.append("Replies go to the employee's direct messages only.")
            buttons = [
                Button(sensitive_action_ids.ANSWER, "Answer", str(escalation.id), style="primary"),
                Button(sensitive_action_ids.RESOLVE, "Resolve", str(escalation.id)),
            ]
        if escalation.answer:
            by = escalation.answered_by.name if escalation.answered_by else "HR"
            lines.append(f"*Answered by {by}:* {escalation.answer}")
        ctx.notify(
            channel=ctx.settings.hr_private_destination,
            text="\n".join(lines),
            update_key=f"sensitive:{escalation.id}:card",
            buttons=buttons,
        )
