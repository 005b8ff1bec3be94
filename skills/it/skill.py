"""IT help: answer how-to questions from the knowledge base first; open a well-formed ticket for a problem
(category and priority from the words used, security incidents at once to the IT channel with first steps);
IT triages from a card in their channel; the requester confirms and rates the resolution."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bot import audit
from bot.jobs import Job
from bot.messages import Citation, Message, Reply, escape_mrkdwn
from bot.models import ChatMessage, Employee
from integrations.files import READ_SECONDS
from knowledge.answer import citations_for, extract_answer
from knowledge.index import Hit, KnowledgeIndex
from skills.base import ActionHandler, Ahead, SkillContext, load_examples, no_longer_available, row_id
from skills.it import action_ids, actions, service, sla
from skills.it.cards import card_key, post_triage_card, requester_buttons, requester_text, sends_webhooks
from skills.it.classify import Triage
from skills.it.config import ItConfig, load_it_config
from skills.it.incidents import IncidentModel, triage_report
from skills.it.outages import (
    group_into_incident,
    incident_resolve_form,
    incident_resolved,
    incident_tickets,
    others_open_tickets,
)
from skills.it.repeats import MAX_DESCRIPTION, original_report, repeated_ticket, same_kind, ticket_description
from skills.it.screenshots import Screenshots, read_screenshots
from skills.it.service import STATUS_LABELS
from skills.it.threads import relay
from skills.policy.skill import answer_from_sources, cited_reply, topic_actions

if TYPE_CHECKING:
    from bot.console.shell import ConsolePages

log = logging.getLogger(__name__)
_STATUS_QUESTION = re.compile(
    r"\b(update|status|progress|news|heard|hear back|any word|still open|fixed yet|what happened)\b.*"
    r"\b(ticket|request|issue|problem|laptop|it)\b"
    r"|\b(my|the) tickets?\b",
    re.IGNORECASE,
)
# Kinds of security incident and the words that name them, to quote the matching first steps.
SECURITY_TOPICS = (
    ("phishing", ("phish", "link", "attachment", "suspicious email")),
    ("possible password compromise", ("password", "credentials", "typed my", "entered my")),
    ("lost or stolen device", ("stolen", "lost my", "left my", "missing laptop", "missing phone")),
    ("malware or suspicious device behaviour", ("malware", "virus", "ransom", "pop-up", "popup")),
)
_CHASER = re.compile(r"\b(any (update|news)|update on|status|still waiting|heard back|what'?s happening)\b", re.I)


@dataclass(frozen=True)
class Prepared:
    """What `ItSkill.prepare` worked out before the transaction: the screenshots read, the report's triage, the
    vectors of the texts the repeat and outage checks compare, and a security incident's first steps."""

    read: Screenshots | None
    found: Triage
    vectors: dict[str, np.ndarray]
    steps: tuple[str, list[Citation]] | None


class ItSkill:
    name = "it"
    description = "IT help: how-to answers, problem reports and tickets, ticket status"

    def __init__(self, config: ItConfig | None = None, incidents: IncidentModel | None = None) -> None:
        self.incidents = incidents  # plain-worded security incidents the cue patterns miss (skills.it.incidents)
        self.config = config or load_it_config()
        self.jobs: Sequence[Job] = sla.scheduled(self.config)
        self.examples: Sequence[str] = load_examples("it")
        self.file_seconds = READ_SECONDS  # how long one screenshot may take to download and read
        on = actions.on_ticket
        self.actions: Mapping[str, ActionHandler] = {
            action_ids.OPEN_TICKET: self._open_from_question,
            action_ids.INCIDENT_RESOLVE: incident_resolve_form,
            action_ids.INCIDENT_RESOLVE_SUBMIT: incident_resolved,
            action_ids.CLAIM: on(actions.claim),
            action_ids.ASSIGN: on(actions.assign),
            action_ids.WAITING: on(actions.waiting),
            action_ids.PROGRESS: on(actions.progress),
            action_ids.PRIORITY: on(actions.priority),
            action_ids.RESOLVE: on(actions.resolve_form),
            action_ids.RESOLVE_SUBMIT: on(actions.resolved),
            action_ids.EDIT: on(actions.edit_form),
            action_ids.EDIT_SUBMIT: on(actions.edited),
            action_ids.CONFIRM: on(actions.confirm),
            action_ids.REOPEN: on(actions.reopen),
            action_ids.RATE: on(actions.rate),
        }
        # An id not (or no longer) declared: as for the ticket buttons, a ticket that is gone is said so first.
        self._unknown_action = on(lambda ticket, argument, message, ctx: no_longer_available(message, ctx))

    def prepare(self, message: Message, ahead: Ahead) -> Callable[[Message, SkillContext], Reply]:
        """The slow part, with no transaction open (see skills.base.Prepares): read the screenshots, triage the
        report, embed it with the person's open tickets and others' recent ones (the repeat and outage checks),
        and look up a security incident's first steps. Returns the handler that answers with them."""
        if message.action_id:
            return self.handle
        read = read_screenshots(message, ahead.settings, seconds=self.file_seconds) if message.files else None
        text, screenshot = message.text.strip(), read.text if read else ""
        found = triage_report(text or screenshot, self.incidents)
        report = text or ("Problem shown in a screenshot" if screenshot else "")
        vectors: dict[str, np.ndarray] = {}
        # Only a report that may become a ticket is compared with tickets (a security one never is): not a status
        # question or a follow-up, which `handle` answers before any ticket.
        asks_status = not screenshot and (found.follow_up or _STATUS_QUESTION.search(text) is not None)
        if not asks_status and not found.security:
            with ahead.database.session_scope() as session:
                employee = session.get_one(Employee, ahead.employee_id)
                mine = [original_report(t) for t in service.open_tickets_of(session, employee) if same_kind(t, found)]
                since = ahead.now - self.config.incident_window
                outage = found.is_problem  # only a problem report may join an outage
                others = (
                    [t.description for t in others_open_tickets(session, found.category, employee.id, since)]
                    if outage
                    else []
                )
            texts = list(dict.fromkeys([report, ticket_description(report, screenshot), *mine, *others]))
            vectors = dict(zip(texts, ahead.index.embeddings.embed_array(texts), strict=True))
        steps = self._security_steps(ahead.index, report) if found.security else None
        prepared = Prepared(read=read, found=found, vectors=vectors, steps=steps)
        return lambda message, ctx: self.handle(message, ctx, prepared=prepared)

    @property
    def console(self) -> ConsolePages:
        """Its staff console pages (imported here: they import the console shell, which imports the runtime)."""
        from skills.it.console import PAGES  # noqa: PLC0415

        return PAGES

    def handle(self, message: Message, ctx: SkillContext, *, prepared: Prepared | None = None) -> Reply:
        """Answer a message; `prepared` is what `prepare` worked out before the transaction (done here when not
        given)."""
        if message.action_id:
            return self.actions.get(message.action_id, self._unknown_action)(message, ctx)
        text = message.text.strip()
        relayed = relay(message, ctx)
        if relayed is not None:
            return relayed
        screenshot = ""
        read = prepared.read if prepared else None
        if message.files:
            if read is None:
                read = read_screenshots(message, ctx.settings, seconds=self.file_seconds)
            if read.refused is not None:  # a refused file writes nothing
                return Reply(
                    text=f"{read.refused} Nothing was opened; please send a screenshot (PNG or JPEG).",
                    ephemeral=True,
                    skill=self.name,
                )
            screenshot = read.text
            if not text and not screenshot:
                return Reply(
                    text="I couldn't read any text in that image. Please describe the problem in words.",
                    skill=self.name,
                )
        if _STATUS_QUESTION.search(text) or ctx.about_own_records:
            return self._status(ctx)
        found = prepared.found if prepared else triage_report(text or screenshot, self.incidents)
        if screenshot:
            report = text or "Problem shown in a screenshot"
            return self._open(report, found, message, ctx, screenshot=screenshot, prepared=prepared)
        if found.follow_up:
            # "thanks, that worked", "any news?": about an answer or a ticket already there, never a new ticket.
            if service.open_tickets_of(ctx.session, ctx.employee) and _CHASER.search(text):
                return self._status(ctx)
            return Reply(text="Glad to help! Tell me if anything else comes up.", skill=self.name)
        if not found.is_problem and not found.security:
            answer = answer_from_sources(text, ctx, message.channel_type)
            if answer.confident:
                reply = cited_reply(text, answer, ctx, self.name)
                reply.buttons = topic_actions(self.name, ctx)
                return reply
        return self._open(text, found, message, ctx, prepared=prepared)

    # ------------------------------------------------------------ opening tickets

    def _open(
        self,
        text: str,
        found: Triage,
        message: Message,
        ctx: SkillContext,
        *,
        screenshot: str = "",
        asked_for_new: bool = False,
        prepared: Prepared | None = None,
    ) -> Reply:
        """Open a ticket, or add the report to the same person's open ticket it repeats (unless they pressed
        "Open a ticket" for it: `asked_for_new`)."""
        now = ctx.now()
        vectors = prepared.vectors if prepared else {}
        existing = None if asked_for_new else repeated_ticket(ctx, text, found, vectors)
        if existing is not None:
            existing.description = f"{existing.description}\n\nAdded later: {text}"[: MAX_DESCRIPTION * 2]
            ctx.session.flush()
            audit.record(
                ctx.session,
                entity="ticket",
                entity_id=existing.id,
                action="details_added",
                actor_id=ctx.employee.id,
                from_state=existing.status,
                to_state=existing.status,
                detail={"repeat": True},
            )
            if existing.security:
                joined = (
                    f"I've added this to your security ticket #{existing.id}; IT security has it and will be in touch."
                )
            else:
                joined = (
                    f"This looks like your open ticket #{existing.id} ({escape_mrkdwn(existing.title)}), so I've added "
                    "it there instead of opening a second one."
                )
            return Reply(text=joined, skill=self.name)
        thread = message.conversation_thread if message.platform == "slack" else None
        ticket = service.create_ticket(
            ctx.session,
            webhook=sends_webhooks(ctx),
            requester=ctx.employee,
            title=found.title,
            description=ticket_description(text, screenshot),
            ocr_text=screenshot or None,
            category=found.category,
            priority=found.priority,
            security=found.security,
            platform=message.platform,
            channel=message.channel,
            thread_ts=thread,
            conversation_id=ctx.conversation.id,
            now=now,
        )
        # A how-to question the documents didn't answer is its own ticket, never folded into an outage.
        incident = (
            None
            if ticket.security or not found.is_problem
            else group_into_incident(ctx, ticket, vectors, config=self.config)
        )
        post_triage_card(ctx, ticket, found.reasons)
        if message.platform == "slack":
            ctx.conversation.awaiting_skill = self.name  # replies in this thread go to IT
        lines = [requester_text(ticket, heading="I've opened a ticket for you")]
        if incident is not None:
            reports = len(incident_tickets(ctx.session, incident))
            lines.append(
                f"Others have reported this too: it is handled as incident #{incident.id} ({reports} reports). "
                "You'll hear here when it's fixed."
            )
        citations: list[Citation] = []
        if ticket.security:
            steps, citations = prepared.steps if prepared and prepared.steps else self._security_steps(ctx.index, text)
            lines.append("*Do this now:* " + steps if steps else "*Do this now:* disconnect from the network.")
            lines.append("IT security has been alerted.")
        return Reply(
            text="\n".join(lines),
            citations=citations,
            buttons=requester_buttons(ticket),
            skill=self.name,
            update_key=card_key(ticket),
        )

    @staticmethod
    def _security_steps(index: KnowledgeIndex, text: str) -> tuple[str, list[Citation]]:
        """The first steps for each kind of incident the report describes, from the security SOP."""
        lowered = text.lower()
        kinds = [topic for topic, cues in SECURITY_TOPICS if any(cue in lowered for cue in cues)] or ["incident"]
        hits: list[Hit] = []
        for topic in kinds[:2]:
            found = index.search(f"first steps {topic}", k=1, audiences=["everyone"])
            hits += [h for h in found if h.chunk_id not in {x.chunk_id for x in hits}]
        sentences = [
            extract_answer(f"what to do first: {topic}", [hit], index, min_score=0.0).text
            for topic, hit in zip(kinds, hits, strict=False)
        ]
        return " ".join(s for s in sentences if s), citations_for(hits)

    # ------------------------------------------------------------ actions

    def _open_from_question(self, message: Message, ctx: SkillContext) -> Reply:
        asked = ctx.session.get(ChatMessage, row_id(message.action_value) or 0)
        if asked is None or asked.direction != "in":
            return Reply(
                text="I couldn't find the question to open a ticket for. Please describe the problem.", ephemeral=True
            )
        if asked.employee_id != ctx.employee.id:
            return Reply(text="Only the person who asked can open a ticket from this question.", ephemeral=True)
        return self._open(asked.text, triage_report(asked.text, self.incidents), message, ctx, asked_for_new=True)

    def _status(self, ctx: SkillContext) -> Reply:
        tickets = service.recent_tickets_of(ctx.session, ctx.employee)
        if not tickets:
            return Reply(text="You have no IT tickets. Describe a problem and I'll open one.", skill=self.name)
        lines = ["Your IT tickets:"]
        for ticket in tickets:
            who = f" — {ticket.assignee.name}" if ticket.assignee else ""
            note = f" ({escape_mrkdwn(ticket.resolution_note)})" if ticket.resolution_note else ""
            lines.append(f"• #{ticket.id} {escape_mrkdwn(ticket.title)}: *{STATUS_LABELS[ticket.status]}*{who}{note}")
        return Reply(text="\n".join(lines), skill=self.name)
