"""The parking skill: books a spot in the office car park and cancels it, writing what it did to the audit log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot import audit
from bot.jobs import Job, JobContext
from bot.messages import Button, Message, Reply
from skills.base import ActionHandler, SkillContext, no_longer_available

CANCEL = "parking:cancel"  # a skill's action ids start with its name: the router sends the click back here


class ParkingSkill:
    name = "parking"
    description = "Book a spot in the office car park"
    examples: Sequence[str] = (
        "book me a parking spot for tomorrow",
        "I need a parking space on friday",
        "reserve a car park space for my visit on monday",
        "can you get me a spot in the garage next week",
        "parking spot please",
        "I'm driving in on thursday, need somewhere to park",
        "save me a parking bay for the 12th",
        "car park space for wednesday",
    )

    console = None  # no console pages

    def __init__(self) -> None:
        self.actions: Mapping[str, ActionHandler] = {CANCEL: self._cancel}  # its buttons, by action id
        # What it runs on a timer: the scheduler leader runs it with a JobContext (database, settings, now).
        self.jobs: Sequence[Job] = (Job("parking_release", self._release_unused, "cron", {"hour": 10}),)

    def handle(self, message: Message, ctx: SkillContext) -> Reply:
        if message.action_id:
            return self.actions.get(message.action_id, no_longer_available)(message, ctx)
        audit.record(ctx.session, entity="parking", entity_id=ctx.employee.id, action="booked", actor_id=None)
        return Reply(
            text=f"Booked a parking spot for {ctx.employee.name}.",
            buttons=[Button(CANCEL, "Cancel", str(ctx.employee.id))],
            skill=self.name,
        )

    def _cancel(self, message: Message, ctx: SkillContext) -> Reply:
        audit.record(ctx.session, entity="parking", entity_id=ctx.employee.id, action="cancelled", actor_id=None)
        return Reply(text="Your parking spot is cancelled.", skill=self.name)

    @staticmethod
    def _release_unused(ctx: JobContext) -> None:
        """Spots not claimed by ten are given back (here: noted in the audit log)."""
        with ctx.database.session_scope() as session:
            audit.record(session, entity="parking", entity_id=0, action="released", actor_id=None)
