"""Message → Router → Skill → Reply: the one path every platform (Slack, web chat, CLI) goes through."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from bot import directory, inbox, privacy
from bot.conversation_repair import ConversationState, Decision, decide
from bot.db import Database, utcnow
from bot.escalations import TransitionError
from bot.language import other_language
from bot.messages import FEEDBACK, FEEDBACK_UP, Button, Message, Reply
from bot.models import (
    ChatMessage,
    Conversation,
    Employee,
    Feedback,
    find_card,
    find_conversation,
    last_bot_message,
)
from bot.outbox import Outbox, queue_reply
from bot.router import AMBIGUOUS, OUT_OF_SCOPE, POLICY, QUESTION, Route, Router, read_act
from bot.settings import Settings
from integrations.llm import AnswerWriter
from knowledge.index import KnowledgeIndex
from skills.base import Ahead, LookedUp, NotACorrection, Prepares, Skill, SkillContext
from skills.policy.skill import look_up_ahead, role_audiences
from skills.smalltalk import MENU, NOT_SURE

log = logging.getLogger(__name__)
# "Which one did you mean?": asked when two skills read a request about equally (bot.router.AMBIGUOUS), once; the
# buttons carry the chosen skill and the id of the message asked about.
CLARIFY = "clarify"
CLARIFY_ACTION = "clarify:pick"
WHAT_EACH_DOES = {"leave": "Time off", "expense": "An expense claim", "it": "An IT problem"}

_MENTION = re.compile(r"<@[A-Z0-9]+(\|[^>]*)?>")
_EMOJI_CODE = re.compile(r":[a-z0-9_+\-']+:")
DB_DOWN = "I can't reach my database right now, so nothing was saved. Please try again in a minute."
DB_DOWN_KEPT = "I can't reach my database right now. I've kept your message and will answer here once it's back."
SENSITIVE = "sensitive"  # the skill for medical, harassment and grievance matters (see bot.privacy)
CHANGED_MEANWHILE = (
    "That was changed by someone else at the same moment, so nothing was saved. Please look at it again."
)
FAILED = "Something went wrong on my side and nothing was saved. Please try again; if it keeps happening, tell IT."


def mark_event_done(session: Session, event_id: str | None, status: str = "done") -> None:
    """Finish a stored Slack event in the caller's transaction (only one still waiting to be run)."""
    if event_id:
        inbox.mark_finished(session, event_id, status)


def clean_text(text: str) -> str:
    """Remove bot mentions and surrounding whitespace."""
    return _MENTION.sub("", text).strip()


def has_words(text: str) -> bool:
    """False for messages with no letters or digits (emoji only, punctuation only)."""
    return any(ch.isalnum() for ch in _EMOJI_CODE.sub("", text))


def in_english_please(message: Message, reply: Reply) -> Reply:
    """The "not sure" menu for a message clearly in another language says so instead (bot/language.py)."""
    if reply.text != NOT_SURE or message.is_action:
        return reply
    language = other_language(message.text)
    if language is None:
        return reply
    reply.text = f"It looks like you wrote in {language}: I can only read English for now. Could you ask in English?"
    return reply


def _newest_draft(last: ChatMessage | None) -> tuple[str, str] | None:
    """The skill and id of the draft whose card (with its Cancel button, `<skill>:discard`) is `last`, the newest
    thing the bot said in the conversation (not lapsed)."""
    for button in (last.payload or {}).get("buttons", []) if last is not None else []:
        action_id = str(button.get("action_id", ""))
        if action_id.endswith(":discard"):
            return action_id.removesuffix(":discard"), str(button.get("value", ""))
    return None


NO_PAYMENT_DETAILS = (
    "Please don't send bank or card numbers in chat: I haven't kept that message. To change the account your "
    "pay or reimbursements go to, update your bank details in the HR system, or ask HR for the secure way to do "
    "it. For an expense, the amount, the date and what it was for are enough."
)


class Assistant:
    """Owns the pipeline; platform edges call `handle` and render the Reply."""

    def __init__(
        self,
        *,
        settings: Settings,
        database: Database,
        index: KnowledgeIndex,
        router: Router,
        skills: Sequence[Skill],
        outbox: Outbox,
        user_lookup: directory.UserLookup | None = None,
        answer_writer: AnswerWriter | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.database = database
        self.index = index
        self.router = router
        self.skills = {skill.name: skill for skill in skills}
        self.outbox = outbox
        self.user_lookup = user_lookup
        self.answer_writer = answer_writer
        self.clock = clock

    def handle(self, message: Message, *, event_id: str | None = None) -> Reply:
        """Route and answer one message. For a stored Slack event, `event_id` is marked done in the same
        transaction as the skill's changes, so an event re-run after a crash acts once."""
        message = replace(message, text=clean_text(message.text))
        problem = self.check_input(message)
        if problem is not None:
            return problem
        parts = [message.text] if message.is_action else self.router.requests_in(message.text)
        try:
            # Requests for different skills in one message are each handled; the stored event is finished with
            # the first, so a re-run after a crash never does one twice.
            replies = [
                self._handle(replace(message, text=part), event_id if i == 0 else None) for i, part in enumerate(parts)
            ]
            reply = replies[0]
            reply.more = replies[1:]
        except SQLAlchemyError:
            log.exception("database error while handling a message")
            # A stored event is run again once the database is back; a click or a web message is not.
            return Reply(text=DB_DOWN_KEPT if event_id else DB_DOWN, ephemeral=True)
        try:
            self.outbox.deliver_pending()
        except SQLAlchemyError:
            log.exception("outbox delivery deferred")
        return reply

    def check_input(self, message: Message) -> Reply | None:
        if message.is_action:
            return None
        if not message.text and not message.files:
            return Reply(text=f"I didn't get any text there. {MENU}", ephemeral=True)
        if len(message.text) > self.settings.max_message_chars:
            return Reply(
                text=(
                    f"That message is {len(message.text):,} characters long; I can read up to "
                    f"{self.settings.max_message_chars:,}. Please ask a shorter question."
                ),
                ephemeral=True,
            )
        if message.text and not has_words(message.text):
            return Reply(text=f"I can only read words, not emoji alone. {MENU}", ephemeral=True)
        if (
            privacy.has_payment_details(message.text)
            and privacy.sensitive_topic(message.text) is None
            and read_act(message.text) != QUESTION
        ):
            # Bank details given or a payment asked for: never stored, echoed or made a claim. (A question that
            # happens to hold a number is answered with it redacted; a confidential matter goes to HR so.)
            return Reply(text=NO_PAYMENT_DETAILS, ephemeral=True)
        return None

    def _handle(self, message: Message, event_id: str | None = None) -> Reply:
        chosen: str | None = None
        if message.action_id == CLARIFY_ACTION:
            picked = self._picked(message)
            if isinstance(picked, Reply):
                return picked
            message, chosen = picked
        if (message.action_id or "").startswith(f"{FEEDBACK}:"):
            return self._feedback(message)
        words = Route(chosen, 1.0, "clarified") if chosen else self.router.route(message)
        profile = directory.profile_if_new(self.database, message.user_id, self.user_lookup)
        with self.database.session_scope() as session:
            employee = directory.ensure_employee(session, message.user_id, profile, today=self.clock().date())
            conversation = self._conversation(session, message, employee)
            state = self._state(session, conversation, message)
            if chosen:  # the person said which skill their words are for
                decision = Decision(words, words, message)
            else:
                decision = decide(message, words, state, self.skills.keys())
            route, routed, skill_message = decision.route, decision.routed, decision.message
            skill = self.skills.get(route.skill)
            inbound_id = None
            if not message.is_action:
                inbound = ChatMessage(
                    conversation_id=conversation.id,
                    channel=message.channel,
                    direction="in",
                    employee_id=employee.id,
                    text=privacy.stored_text(message.text),  # personal data redacted; confidential → placeholder
                    skill=route.skill,
                    confidence=route.confidence,
                    route=route.explained(),
                    slack_ts=message.ts,
                    # The names of files shared with it, so the chat shows what was sent with no caption.
                    payload={"files": [privacy.stored_text(f.name) for f in message.files]} if message.files else None,
                )
                session.add(inbound)
                session.flush()
                inbound_id = inbound.id
            employee_id, conversation_id = employee.id, conversation.id
            audiences = role_audiences(employee)
        if route.reason == AMBIGUOUS and inbound_id is not None:
            # Two skills read it about equally: ask which, once (the next message goes where it reads best).
            reply = self._which_one(route, inbound_id)
            with self.database.session_scope() as session:
                self._record_reply(session, message, reply, conversation_id)
                mark_event_done(session, event_id)
            return reply
        if skill is None:
            reply = in_english_please(message, self._out_of_scope(route))
            with self.database.session_scope() as session:
                self._record_reply(session, message, reply, conversation_id)
                mark_event_done(session, event_id)
            return reply
        try:
            # A typed cancel or correction goes to its draft's skill as a button; any files with it are the routed
            # skill's, which answers when the draft does not change (NotACorrection below).
            typed_action = skill_message.is_action and not message.is_action
            prepared_for = message if typed_action else skill_message
            prepared = self._prepare(
                self.skills.get(routed.skill) if typed_action else skill, prepared_for, employee_id
            )
            looked_up = self._look_up(skill_message, route, audiences)
            with self.database.session_scope() as session:
                conversation = session.get_one(Conversation, conversation_id)
                if route.reason == "awaiting":
                    conversation.awaiting_skill = None
                ctx = SkillContext(
                    session=session,
                    settings=self.settings,
                    employee=session.get_one(Employee, employee_id),
                    conversation=conversation,
                    index=self.index,
                    now=self.clock,
                    answer_writer=self.answer_writer,
                    inbound_message_id=inbound_id,
                    route=route,
                    looked_up=looked_up,
                )
                try:
                    if prepared is not None and not typed_action:
                        handled = prepared(skill_message, ctx)
                    else:
                        handled = skill.handle(skill_message, ctx)
                except NotACorrection:
                    # Nothing in the draft changes ("it was a great trip, not cheap"): the message is handled as
                    # the router read it.
                    ctx.route = routed
                    fallback = self.skills.get(routed.skill)
                    if prepared is not None and typed_action:  # the routed skill's (see above)
                        handled = prepared(message, ctx)
                    else:
                        handled = fallback.handle(message, ctx) if fallback else self._out_of_scope(routed)
                reply = in_english_please(message, handled)
                reply.skill = reply.skill or skill.name
                reply.confidence = route.confidence
                self._record_reply(session, message, reply, conversation_id)
                mark_event_done(session, event_id)
                return reply
        except TransitionError as exc:
            return Reply(text=str(exc), ephemeral=True, skill=route.skill)
        except StaleDataError:
            # The same request or claim was changed at the same moment (an edit and an approval, two clicks):
            # this one was rolled back whole.
            return Reply(text=CHANGED_MEANWHILE, ephemeral=True, skill=route.skill)
        except SQLAlchemyError:
            raise
        except Exception:
            log.exception("skill %s failed", route.skill)
            return Reply(text=FAILED, ephemeral=True, skill=route.skill)

    def _prepare(
        self, skill: Skill | None, message: Message, employee_id: int
    ) -> Callable[[Message, SkillContext], Reply] | None:
        """The skill's handler with its slow work done (files read, texts embedded: skills.base.Prepares), or None
        when it has none. Called with no transaction open: a download, OCR or a model inside one would hold a
        connection (and, on SQLite, the one write lock everyone needs) for as long as they take."""
        if message.is_action or not isinstance(skill, Prepares):
            return None
        return skill.prepare(message, Ahead(self.settings, self.database, self.index, employee_id, self.clock()))

    def _look_up(self, message: Message, route: Route, audiences: list[str]) -> LookedUp:
        """What the documents (and the LLM) say to a message that asks something, worked out before the skill's
        transaction opens; a request or a click needs nothing looked up."""
        question = message.text.strip()
        if message.is_action or not question or not (route.skill == POLICY or read_act(question) == QUESTION):
            return LookedUp()
        return look_up_ahead(
            question,
            roles=audiences,
            channel_type=message.channel_type,
            route=route,
            index=self.index,
            settings=self.settings,
            writer=self.answer_writer,
        )

    def _out_of_scope(self, route: Route) -> Reply:
        if route.reason == "gibberish":
            text = f"Sorry, I couldn't make sense of that. Could you say what you need in a few words? {MENU}"
        elif route.skill == OUT_OF_SCOPE:
            text = NOT_SURE
        else:
            # A button or form no skill owns (stale, or forged): told to the presser alone, never posted.
            text = "That button or form is not something I recognise any more."
            return Reply(text=text, ephemeral=True, skill=OUT_OF_SCOPE, confidence=route.confidence)
        return Reply(text=text, skill=OUT_OF_SCOPE, confidence=route.confidence)

    def _state(self, session: Session, conversation: Conversation, message: Message) -> ConversationState:
        """What the conversation waits for (see bot.conversation_repair.decide); a question the bot asked lapses
        when the conversation has gone quiet, except in a ticket's Slack thread, whose replies reach IT however
        late."""
        last = last_bot_message(session, conversation.id, idle=self.settings.conversation_idle)
        if conversation.awaiting_skill not in (None, "it") and last is None:
            conversation.awaiting_skill = None
        owner = None
        if message.thread_ts:
            card = find_card(session, channel=message.channel, ts=message.thread_ts)
            owner = (card.update_key or "").split(":", 1)[0] if card else None
        return ConversationState(
            awaiting=conversation.awaiting_skill,
            draft=_newest_draft(last),
            thread_owner=owner,
            asked_which=last is not None and last.skill == CLARIFY,
        )

    def _which_one(self, route: Route, inbound_id: int) -> Reply:
        choices = [route.skill, route.runner_up or ""]
        labels = [WHAT_EACH_DOES[skill].lower() for skill in choices]
        return Reply(
            text=f"Just so I get this right: is this about {labels[0]} or {labels[1]}?",
            buttons=[Button(CLARIFY_ACTION, WHAT_EACH_DOES[skill], f"{skill}|{inbound_id}") for skill in choices],
            skill=CLARIFY,
            confidence=route.confidence,
        )

    def _picked(self, message: Message) -> tuple[Message, str] | Reply:
        """The message a "which one?" button was about, as its writer sent it, and the skill they chose."""
        skill, _, inbound = (message.action_value or "").partition("|")
        with self.database.session_scope() as session:
            asked = session.get(ChatMessage, int(inbound)) if inbound.isdigit() else None
            writer = session.get(Employee, asked.employee_id) if asked and asked.employee_id else None
            if skill not in WHAT_EACH_DOES or asked is None or writer is None or writer.slack_id != message.user_id:
                return Reply(text="That button is no longer available.", ephemeral=True)
            text = asked.text
        return replace(message, text=text, action_id=None, action_value=None, form={}), skill

    def _record_reply(self, session: Session, message: Message, reply: Reply, conversation_id: int) -> None:
        if reply.modal is not None or reply.ephemeral:
            return
        stored = ChatMessage(
            conversation_id=conversation_id,
            channel=message.channel,
            direction="out",
            text=reply.text,
            skill=reply.skill,
            confidence=reply.confidence,
            payload=reply.payload(),
            update_key=reply.update_key,
        )
        session.add(stored)
        session.flush()
        reply.message_id = stored.id
        if message.platform == "slack":
            # Delivered through the outbox like every other message: committed with the change, retried.
            thread = message.thread_ts or message.ts
            queue_reply(session, channel=message.channel, thread_ts=thread, reply=reply, message_id=stored.id)

    def _conversation(self, session: Session, message: Message, employee: Employee) -> Conversation:
        thread = message.conversation_thread if message.platform == "slack" else "main"
        found = find_conversation(session, channel=message.channel, thread_ts=thread)
        if found is not None:
            return found
        conversation = Conversation(
            platform=message.platform, channel=message.channel, thread_ts=thread, employee_id=employee.id
        )
        try:
            with session.begin_nested():
                session.add(conversation)
        except IntegrityError:  # created concurrently by another worker
            found = find_conversation(session, channel=message.channel, thread_ts=thread)
            assert found is not None
            return found
        return conversation

    def _feedback(self, message: Message) -> Reply:
        value = 1 if message.action_id == FEEDBACK_UP else -1
        if not (message.action_value or "").isdigit():
            return Reply(text="I couldn't tell which answer that was about.", ephemeral=True)
        try:
            found = self._store_vote(message, value)
        except IntegrityError:  # the same person's other click landed at the same moment: last one wins
            found = self._store_vote(message, value)
        if found == "missing":
            return Reply(text="That answer no longer exists.", ephemeral=True)
        if found == "not_yours":
            return Reply(text="Only the person an answer was for can rate it here.", ephemeral=True)
        if value > 0:
            return Reply(text="Thanks — glad it helped!", ephemeral=True, skill="feedback")
        return Reply(
            text="Thanks for telling me. Press *Ask HR* if you still need an answer.", ephemeral=True, skill="feedback"
        )

    def _store_vote(self, message: Message, value: int) -> Literal["stored", "missing", "not_yours"]:
        profile = directory.profile_if_new(self.database, message.user_id, self.user_lookup)
        with self.database.session_scope() as session:
            employee = directory.ensure_employee(session, message.user_id, profile, today=self.clock().date())
            answer = session.get(ChatMessage, int(message.action_value or 0))
            if answer is None or answer.direction != "out":
                return "missing"
            # An answer in a shared channel may be rated by anyone there; one in a DM (or a web chat) only by
            # the person it was for, so a guessed id of someone else's private answer changes nothing.
            if answer.channel.startswith(("D", "web:", "cli:")):
                conversation = session.get(Conversation, answer.conversation_id) if answer.conversation_id else None
                if conversation is None or conversation.employee_id != employee.id:
                    return "not_yours"
            vote = session.scalar(
                select(Feedback).where(Feedback.message_id == answer.id, Feedback.employee_id == employee.id)
            )
            if vote is None:
                session.add(Feedback(message_id=answer.id, employee_id=employee.id, value=value))
            else:
                vote.value = value
        return "stored"

    def is_bot_thread(self, channel: str, thread_ts: str) -> bool:
        """Whether the bot is part of this thread (so replies there need no @mention)."""
        with self.database.session_scope() as session:
            if find_conversation(session, channel=channel, thread_ts=thread_ts) is not None:
                return True
            return find_card(session, channel=channel, ts=thread_ts) is not None
