"""The skill contract: a name, a description, example utterances, the actions it owns and `handle`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

from sqlalchemy.orm import Session

from bot import outbox
from bot.jobs import Job
from bot.messages import Button, Citation, Message, Modal, ModalField, Reply, Select, seen_revision
from bot.models import Base, Conversation, Employee, OutboxItem, last_bot_message
from bot.router import PERSONAL, Route
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.console.shell import ConsolePages
    from bot.db import Database
    from integrations.llm import AnswerWriter
    from knowledge.answer import Answer
    from knowledge.index import KnowledgeIndex

EXAMPLES_DIR = Path(__file__).parent / "examples"


def load_examples(name: str) -> tuple[str, ...]:
    """Our own example utterances for a skill, one per line in skills/examples/<name>.txt."""
    lines = (EXAMPLES_DIR / f"{name}.txt").read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip())


def row_id(value: str | None) -> int | None:
    """A row id from a button value or private_metadata ("12", or "12@3" with the revision shown); None for
    anything that is not one."""
    value = (value or "").partition("@")[0]
    return int(value) if value and value.isdigit() and len(value) < 18 else None


def date_order(employee: Employee) -> str:
    """How the employee writes dates without a month name: "MDY" (3/14) where that is the custom, else "DMY"."""
    return "MDY" if employee.country in ("US", "PH", "CA") else "DMY"


def changed_since_shown(message: Message, revision: int) -> bool:
    """The approval button pressed was sent with another revision of the request or claim than `revision`, the
    one stored now (it was edited after the approver's card went out)."""
    shown = seen_revision(message.action_value)
    return shown is not None and shown != revision


class NotACorrection(Exception):
    """Raised by a skill handed `<skill>:correct` when the message changes nothing in the draft: the assistant then
    handles it as the router read it."""


def pending_memo(ctx: SkillContext, skill: str, key: str) -> str | None:
    """`memo[key]` of the newest message the bot sent in this conversation, when `skill` sent it: what a skill
    asked about last (e.g. the request text it needs one more detail of), kept with the message itself."""
    last = last_bot_message(ctx.session, ctx.conversation.id, idle=ctx.settings.conversation_idle)
    if last is None or last.skill != skill:
        return None
    memo = (last.payload or {}).get("memo") or {}
    value = memo.get(key) if isinstance(memo, dict) else None
    return value if isinstance(value, str) else None


def ask_for_text(*, callback_id: str, title: str, field: str, label: str, target_id: int, submit_label: str) -> Reply:
    """A one-field form (a reason, a note, an answer) about one row; its submission comes back as an action
    with `callback_id`, the row id as the value and the text in form[field]."""
    return Reply(
        text="",
        modal=Modal(
            callback_id=callback_id,
            title=title,
            fields=(ModalField(field, label, multiline=True),),
            private_metadata=str(target_id),
            submit_label=submit_label,
        ),
    )


@dataclass
class LookedUp:
    """What the documents say to a message, worked out before its transaction opened (retrieval and the LLM are
    slow; nothing slow runs while a transaction is open): answers by (question, audiences), and the LLM's
    wording by (question, extractive answer). A skill asking something else looks it up then."""

    answers: dict[tuple[str, tuple[str, ...]], Answer] = field(default_factory=dict)
    written: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass(frozen=True)
class Ahead:
    """What a skill's prepare step may use, with no transaction open: it may read in a short session of its own
    (`database`), embed, search and read files; it never writes."""

    settings: Settings
    database: Database
    index: KnowledgeIndex
    employee_id: int
    now: datetime


@dataclass
class SkillContext:
    """What a skill may use while handling one message. The caller owns the transaction."""

    session: Session
    settings: Settings
    employee: Employee
    conversation: Conversation
    index: KnowledgeIndex
    now: Callable[[], datetime]
    answer_writer: AnswerWriter | None = None
    inbound_message_id: int | None = None
    route: Route | None = None  # why the message came to this skill (bot.router)
    looked_up: LookedUp = field(default_factory=LookedUp)

    @property
    def about_own_records(self) -> bool:
        """The message asks about this person's own records (a balance, where their claim or ticket stands)."""
        return self.route is not None and self.route.act == PERSONAL

    def notify(
        self,
        *,
        channel: str,
        text: str,
        thread_ts: str | None = None,
        update_key: str | None = None,
        buttons: Sequence[Button] = (),
        citations: Sequence[Citation] = (),
        selects: Sequence[Select] = (),
    ) -> OutboxItem:
        """Queue a message to someone else in the same transaction as the change that caused it."""
        return outbox.queue(
            self.session,
            channel=channel,
            text=text,
            thread_ts=thread_ts,
            update_key=update_key,
            buttons=buttons,
            citations=citations,
            selects=selects,
        )


ActionHandler = Callable[[Message, SkillContext], Reply]
"""What a skill does with one of its buttons pressed or forms sent (`Skill.actions`)."""

NO_LONGER_AVAILABLE = "That button is no longer available."
Row = TypeVar("Row", bound=Base)


def on_row(model: type[Row], missing: str, act: Callable[[Row, Message, SkillContext], Reply]) -> ActionHandler:
    """The handler of a click about one row of `model` (a leave request, a claim) whose id is the button's value
    (or the form's metadata); `missing` when the row is gone."""

    def handler(message: Message, ctx: SkillContext) -> Reply:
        row = ctx.session.get(model, row_id(message.action_value) or 0)
        if row is None:
            return Reply(text=missing, ephemeral=True)
        return act(row, message, ctx)

    return handler


def no_longer_available(message: Message, ctx: SkillContext) -> Reply:
    """The answer to a click on an action id its skill does not (or no longer) declare."""
    return Reply(text=NO_LONGER_AVAILABLE, ephemeral=True)


@runtime_checkable
class Prepares(Protocol):
    """A skill with slow work to do before its transaction (reading files, embedding, retrieval): `prepare` does
    it and returns the handler that answers with what it found (the apply step: reads and writes only)."""

    def prepare(self, message: Message, ahead: Ahead) -> Callable[[Message, SkillContext], Reply]: ...


class Skill(Protocol):
    name: str  # also the prefix of its action ids: the router sends a click on `<name>:…` back to this skill
    description: str
    examples: Sequence[str]
    actions: Mapping[str, ActionHandler]  # its buttons and forms by action id; `handle` dispatches clicks through it
    jobs: Sequence[Job]  # what it runs on a timer (the scheduler leader runs them; bot.jobs)

    @property
    def console(self) -> ConsolePages | None:
        """Its staff console pages (a router and its templates), which the console shell mounts; None if none."""
        ...

    def handle(self, message: Message, ctx: SkillContext) -> Reply: ...
