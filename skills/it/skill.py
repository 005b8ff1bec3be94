"""IT help: answer how-to questions from the knowledge base first; open a well-formed ticket for a problem
(category and priority from the words used, security incidents at once to the IT channel with first steps);
IT triages from a card in their channel; the requester confirms and rates the resolution."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import audit
from bot.db import aware
from bot.messages import Button, Citation, FileRef, Message, Modal, ModalField, Reply, Select, escape_mrkdwn
from bot.models import ChatMessage, Employee, Incident, Ticket, find_card
from bot.settings import Settings
from integrations.files import (
    IMAGE_KINDS,
    READ_SECONDS,
    FetchFailed,
    TooLargeToRead,
    UploadRejected,
    discard,
    fetch_slack_file,
    read_in_pool,
)
from integrations.ocr import OcrUnavailable, error_lines, ocr_image
from knowledge.answer import citations_for, extract_answer
from knowledge.index import Hit, KnowledgeIndex
from skills.base import Ahead, SkillContext, ask_for_text, load_examples, row_id
from skills.it import service
from skills.it.classify import CATEGORIES, PRIORITIES, Triage
from skills.it.config import ItConfig, load_it_config
from skills.it.incidents import IncidentModel, triage_report
from skills.it.service import STATUS_LABELS
from skills.policy import answer_from_sources, cited_reply, topic_actions

log = logging.getLogger(__name__)
_STATUS_QUESTION = re.compile(
    r"\b(update|status|progress|news|heard|hear back|any word|still open|fixed yet|what happened)\b.*"
    r"\b(ticket|request|issue|problem|laptop|it)\b"
    r"|\b(my|the) tickets?\b",
    re.IGNORECASE,
)
CATEGORY_LABELS = {
    "access": "Access",
    "account": "Account / password",
    "hardware": "Hardware",
    "software": "Software",
    "network": "Network",
    "security": "Security",
    "other": "Other",
}
MAX_DESCRIPTION = 4000
# Kinds of security incident and the words that name them, to quote the matching first steps.
SECURITY_TOPICS = (
    ("phishing", ("phish", "link", "attachment", "suspicious email")),
    ("possible password compromise", ("password", "credentials", "typed my", "entered my")),
    ("lost or stolen device", ("stolen", "lost my", "left my", "missing laptop", "missing phone")),
    ("malware or suspicious device behaviour", ("malware", "virus", "ransom", "pop-up", "popup")),
)
# Cosine similarity (the documents' embedding model, all-MiniLM-L6-v2) above which two people's reports are taken
# as the same outage; measured: room-B Wi-Fi phrasings 0.63-0.87, the same fault elsewhere ("wifi on floor 4 is
# slow") 0.44-0.56, unrelated problems below 0.3.
SAME_OUTAGE = 0.62
# One person's report repeating their own open ticket in other words: MiniLM cosine between the two. Our pairs
# (docs/benchmarks.md): repeats 0.59-0.80, different problems of the same category 0.15-0.52 (0.74 for "need a
# new mouse" / "my mouse stopped working", which may well be one ticket).
SAME_PROBLEM = 0.58
SECURITY_DETAILS_WINDOW = timedelta(hours=1)  # more about an incident reported this recently joins its ticket
_CHASER = re.compile(r"\b(any (update|news)|update on|status|still waiting|heard back|what'?s happening)\b", re.I)


def triage_key(ticket: Ticket) -> str:
    return f"it:{ticket.id}:triage"


def card_key(ticket: Ticket) -> str:
    return f"it:{ticket.id}:card"


@dataclass(frozen=True)
class Screenshots:
    """The text read from a message's images before the ticket's transaction opens, or why they were refused
    (in words for the employee)."""

    text: str = ""
    refused: str | None = None


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
        self.examples: Sequence[str] = load_examples("it")
        self.file_seconds = READ_SECONDS  # how long one screenshot may take to download and read

    def prepare(self, message: Message, ahead: Ahead) -> Callable[[Message, SkillContext], Reply]:
        """The slow part, with no transaction open (see skills.base.Prepares): read the screenshots, triage the
        report, embed it with the person's open tickets and others' recent ones (the repeat and outage checks),
        and look up a security incident's first steps. Returns the handler that answers with them."""
        if message.action_id:
            return self.handle
        read = self._read_screenshots(message, ahead.settings) if message.files else None
        text, screenshot = message.text.strip(), read.text if read else ""
        found = triage_report(text or screenshot, self.incidents)
        report = text or ("Problem shown in a screenshot" if screenshot else "")
        with ahead.database.session_scope() as session:
            employee = session.get_one(Employee, ahead.employee_id)
            mine = [_original(t) for t in service.open_tickets_of(session, employee) if _same_kind(t, found)]
            since = ahead.now - self.config.incident_window
            outage = found.is_problem and not found.security  # only a problem report may join an outage
            others = (
                [t.description for t in _others_open(session, found.category, employee.id, since)] if outage else []
            )
        texts = list(dict.fromkeys([report, _description(report, screenshot), *mine, *others]))
        vectors = dict(zip(texts, ahead.index.embeddings.embed_array(texts), strict=True))
        steps = self._security_steps(ahead.index, report) if found.security else None
        prepared = Prepared(read=read, found=found, vectors=vectors, steps=steps)
        return lambda message, ctx: self.handle(message, ctx, prepared=prepared)

    def handle(self, message: Message, ctx: SkillContext, *, prepared: Prepared | None = None) -> Reply:
        """Answer a message; `prepared` is what `prepare` worked out before the transaction (done here when not
        given)."""
        if message.action_id:
            return self._action(message, ctx)
        text = message.text.strip()
        relayed = self._relay(message, ctx)
        if relayed is not None:
            return relayed
        screenshot = ""
        read = prepared.read if prepared else None
        if message.files:
            if read is None:
                read = self._read_screenshots(message, ctx.settings)
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

    def _read_screenshots(self, message: Message, settings: Settings) -> Screenshots:
        """The error lines (else all text) read from images shared with the message, each downloaded and read on
        the shared file pool within file_seconds (integrations.files.read_in_pool)."""
        found: list[str] = []
        for ref in message.files[:3]:
            token = settings.slack_bot_token
            if not token:
                break
            deadline = time.monotonic() + self.file_seconds
            try:
                text = read_in_pool(
                    partial(self._fetch_and_ocr, ref, settings, token=token, deadline=deadline),
                    name=ref.name,
                    seconds=self.file_seconds,
                )
            except (FetchFailed, OcrUnavailable) as exc:
                log.warning("screenshot %s not read: %s", ref.id, exc)
                continue
            except UploadRejected as exc:
                return Screenshots(refused=str(exc))
            lines = error_lines(text) or [line for line in text.splitlines() if line.strip()][:5]
            found += lines
        return Screenshots(text="\n".join(found)[:2000])

    @staticmethod
    def _fetch_and_ocr(ref: FileRef, settings: Settings, *, token: str, deadline: float) -> str:
        """Download a screenshot and read it (on the file pool); one too large to read is not kept."""
        stored = fetch_slack_file(
            ref,
            token=token,
            api_base_url=settings.slack_api_url,
            dest_dir=settings.uploads_dir,
            max_bytes=settings.max_upload_bytes,
            allowed=IMAGE_KINDS,
        )
        try:
            return ocr_image(stored.path, timeout=max(deadline - time.monotonic(), 1.0))
        except TooLargeToRead:
            discard(stored)
            raise

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
        existing = None if asked_for_new else self._repeated(ctx, text, found, vectors)
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
            webhook=_hooks(ctx),
            requester=ctx.employee,
            title=found.title,
            description=_description(text, screenshot),
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
        incident = None if ticket.security or not found.is_problem else self._group_into_incident(ctx, ticket, vectors)
        self._post_triage_card(ctx, ticket, found.reasons)
        if message.platform == "slack":
            ctx.conversation.awaiting_skill = self.name  # replies in this thread go to IT
        lines = [self._requester_text(ticket, heading="I've opened a ticket for you")]
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
            buttons=self._requester_buttons(ticket),
            skill=self.name,
            update_key=card_key(ticket),
        )

    def _repeated(self, ctx: SkillContext, text: str, found: Triage, vectors: dict[str, np.ndarray]) -> Ticket | None:
        """The requester's open ticket this report repeats in other words ("my display keeps blinking" after
        "laptop screen is flickering"), if any: same or unsorted category and close in meaning (MiniLM cosine)
        or mostly the same words. A security report is never folded into another ticket."""
        if found.security:
            # The details of an incident just reported ("I want to report a security incident", then what
            # happened) belong to that ticket.
            since = ctx.now() - SECURITY_DETAILS_WINDOW
            recent = [
                t
                for t in service.open_tickets_of(ctx.session, ctx.employee)
                if t.security and (aware(t.created_at, since) or since) >= since
            ]
            return max(recent, key=lambda t: t.id) if recent else None
        mine = [t for t in service.open_tickets_of(ctx.session, ctx.employee) if _same_kind(t, found)]
        if not mine:
            return None
        originals = [_original(t) for t in mine]
        embedded = _embedded(ctx, [text, *originals], vectors)
        scores = embedded[1:] @ embedded[0]
        best = max(range(len(mine)), key=lambda i: float(scores[i]))
        if float(scores[best]) >= SAME_PROBLEM or _same_words(originals[best], text):
            return mine[best]
        return None

    def _group_into_incident(
        self, ctx: SkillContext, ticket: Ticket, vectors: dict[str, np.ndarray]
    ) -> Incident | None:
        """Join or start an incident when other people reported the same problem within the window."""
        since = ticket.created_at - self.config.incident_window
        others = [
            t for t in _others_open(ctx.session, ticket.category, ticket.requester_id, since) if t.id != ticket.id
        ]
        if not others:
            return None
        embedded = _embedded(ctx, [ticket.description] + [t.description for t in others], vectors)
        similar = [t for t, score in zip(others, embedded[1:] @ embedded[0], strict=True) if score >= SAME_OUTAGE]
        if len(similar) + 1 < self.config.incident_min_reports:
            return None
        incident = next((t.incident for t in similar if t.incident is not None and t.incident.status == "open"), None)
        if incident is None:
            incident = Incident(title=similar[0].title, category=ticket.category, status="open")
            ctx.session.add(incident)
            ctx.session.flush()
            audit.record(
                ctx.session, entity="incident", entity_id=incident.id, action="opened", actor_id=None, to_state="open"
            )
            for other in similar:
                other.incident_id = incident.id
        ticket.incident_id = incident.id
        ctx.session.flush()
        self._post_incident_card(ctx, incident)
        return incident

    def _post_incident_card(self, ctx: SkillContext, incident: Incident) -> None:
        members = incident_tickets(ctx.session, incident)
        people = ", ".join(sorted({t.requester.name for t in members}))
        status = "open" if incident.status == "open" else f"resolved: {incident.resolution_note}"
        ctx.notify(
            channel=ctx.settings.it_destination,
            text=(
                f"🔥 *Incident #{incident.id}: {escape_mrkdwn(incident.title)}* — {len(members)} reports "
                f"({people}); {status}. "
                f"Tickets: {', '.join(f'#{t.id}' for t in members)}"
            ),
            update_key=f"it:incident:{incident.id}",
            buttons=[Button("it:incident_resolve", "Resolve incident", str(incident.id), "primary")]
            if incident.status == "open"
            else [],
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

    def _requester_text(self, ticket: Ticket, *, heading: str) -> str:
        assignee = ticket.assignee.name if ticket.assignee else "not yet assigned"
        lines = [
            f"*{heading}* — #{ticket.id} {escape_mrkdwn(ticket.title)}",
            f"• Category: {CATEGORY_LABELS.get(ticket.category, ticket.category)} · Priority: {ticket.priority}",
            f"• Status: {STATUS_LABELS[ticket.status]} · {assignee}",
        ]
        if ticket.resolution_note:
            lines.append(f"• Resolution: {escape_mrkdwn(ticket.resolution_note)}")
        return "\n".join(lines)

    def _requester_buttons(self, ticket: Ticket) -> list[Button]:
        if ticket.status in ("resolved",):
            buttons = [
                Button("it:confirm", "Fixed, close it", str(ticket.id), "primary"),
                Button("it:reopen", "Still broken", str(ticket.id), "danger"),
            ]
            return buttons + [Button("it:rate", f"{n}★", f"{ticket.id}:{n}") for n in range(1, 6)]
        if ticket.status == "closed":
            return []
        return [Button("it:edit", "Correct category / priority", str(ticket.id))]

    def _triage_text(self, ticket: Ticket, reasons: Sequence[str] = (), *, ctx: SkillContext) -> str:
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

    def _triage_buttons(self, ticket: Ticket) -> list[Button]:
        value = str(ticket.id)
        if ticket.status in ("resolved", "closed"):
            return [Button("it:reopen", "Reopen", value)] if ticket.status == "resolved" else []
        buttons = [Button("it:claim", "Claim", value, "primary")]
        if ticket.status != "waiting":
            buttons.append(Button("it:waiting", "Waiting on requester", value))
        else:
            buttons.append(Button("it:progress", "Back in progress", value))
        buttons.append(Button("it:resolve", "Resolve", value))
        buttons += [Button("it:priority", p, f"{ticket.id}:{p}") for p in PRIORITIES if p != ticket.priority]
        return buttons

    def _post_triage_card(self, ctx: SkillContext, ticket: Ticket, reasons: Sequence[str] = ()) -> None:
        open_ticket = ticket.status in service.OPEN
        ctx.notify(
            channel=ctx.settings.it_destination,
            text=self._triage_text(ticket, reasons, ctx=ctx),
            update_key=triage_key(ticket),
            buttons=self._triage_buttons(ticket),
            selects=[Select("it:assign", "Assign to…", str(ticket.id))] if open_ticket else [],
        )

    def _refresh_cards(self, ctx: SkillContext, ticket: Ticket, heading: str) -> None:
        """Edit both cards in place: IT's triage card and the requester's card."""
        self._post_triage_card(ctx, ticket)
        ctx.notify(
            channel=ticket.channel,
            thread_ts=ticket.thread_ts,
            text=self._requester_text(ticket, heading=heading),
            update_key=card_key(ticket),
            buttons=self._requester_buttons(ticket),
        )

    def _tell_requester(self, ctx: SkillContext, ticket: Ticket, text: str) -> None:
        ctx.notify(channel=ticket.channel, thread_ts=ticket.thread_ts, text=text)

    # ------------------------------------------------------------ the ticket's two threads

    def _relay(self, message: Message, ctx: SkillContext) -> Reply | None:
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
                return Reply(text="Only IT can answer the requester from this thread.", ephemeral=True, skill=self.name)
            if ticket.first_response_at is None:
                ticket.first_response_at = ctx.now()
            self._tell_requester(
                ctx, ticket, f"💬 {ctx.employee.name} (IT) on ticket #{ticket.id}: {escape_mrkdwn(message.text)}"
            )
            audit.record(
                ctx.session, entity="ticket", entity_id=ticket.id, action="comment_it", actor_id=ctx.employee.id
            )
            return Reply(text=f"Sent to {ticket.requester.name}.", ephemeral=True, skill=self.name)
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
                ctx.session, ticket, "in_progress", actor=ctx.employee, now=ctx.now(), webhook=_hooks(ctx)
            )
            self._post_triage_card(ctx, ticket)
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
        ctx.conversation.awaiting_skill = self.name
        return Reply(text=f"Passed to IT on ticket #{ticket.id}.", ephemeral=True, skill=self.name)

    # ------------------------------------------------------------ actions

    def _action(self, message: Message, ctx: SkillContext) -> Reply:
        action = (message.action_id or "").removeprefix("it:")
        if action == "open_ticket":
            return self._open_from_question(message, ctx)
        if action in ("incident_resolve", "incident_resolve_submit"):
            return self._incident_action(action, message, ctx)
        raw = message.action_value or ""
        ticket_id, _, argument = raw.partition(":")
        ticket = ctx.session.get(Ticket, row_id(ticket_id) or 0)
        if ticket is None:
            return Reply(text="I couldn't find that ticket any more.", ephemeral=True)
        now = ctx.now()
        if action == "claim":
            if not service.assign(ctx.session, ticket, ctx.employee, actor=ctx.employee, now=now, webhook=_hooks(ctx)):
                return Reply(text=f"You already have ticket #{ticket.id}.", skill=self.name, ephemeral=True)
            self._refresh_cards(ctx, ticket, "Your ticket")
            self._tell_requester(ctx, ticket, f"{ctx.employee.name} from IT is on your ticket #{ticket.id}.")
            return Reply(text=f"You have ticket #{ticket.id}.", skill=self.name, ephemeral=True)
        if action == "assign":
            assignee = _employee_by_slack(ctx, message.form.get("selected", ""))
            if assignee is None:
                return Reply(text="I don't know that person.", ephemeral=True)
            if not service.assign(ctx.session, ticket, assignee, actor=ctx.employee, now=now, webhook=_hooks(ctx)):
                return Reply(text=f"Ticket #{ticket.id} is already with {assignee.name}.", ephemeral=True)
            self._refresh_cards(ctx, ticket, "Your ticket")
            return Reply(text=f"Ticket #{ticket.id} is now with {assignee.name}.", skill=self.name, ephemeral=True)
        if action in ("waiting", "progress"):
            target = "waiting" if action == "waiting" else "in_progress"
            service.transition(ctx.session, ticket, target, actor=ctx.employee, now=now, webhook=_hooks(ctx))
            self._refresh_cards(ctx, ticket, "Your ticket")
            if action == "waiting":
                self._tell_requester(
                    ctx, ticket, f"IT is waiting for you on ticket #{ticket.id}: please reply here with more detail."
                )
            return Reply(text=f"Ticket #{ticket.id}: {STATUS_LABELS[ticket.status]}.", skill=self.name, ephemeral=True)
        if action == "priority":
            if argument not in PRIORITIES:
                return Reply(text="That is not a priority.", ephemeral=True)
            service.change_field(ctx.session, ticket, "priority", argument, actor=ctx.employee, webhook=_hooks(ctx))
            self._refresh_cards(ctx, ticket, "Your ticket")
            return Reply(text=f"Ticket #{ticket.id} is now {argument}.", skill=self.name, ephemeral=True)
        if action == "resolve":
            service.check_move(ticket, "resolved", actor=ctx.employee)
            return ask_for_text(
                callback_id="it:resolve_submit",
                title=f"Resolve #{ticket.id}",
                field="note",
                label="What fixed it? (the requester sees this)",
                target_id=ticket.id,
                submit_label="Resolve",
            )
        if action == "resolve_submit":
            return self._resolve(ticket, message.form.get("note", "").strip(), ctx)
        if action == "edit":
            return self._edit_form(ticket, ctx)
        if action == "edit_submit":
            return self._edited(ticket, message.form, ctx)
        if action in ("confirm", "reopen"):
            target = "closed" if action == "confirm" else "in_progress"
            service.transition(ctx.session, ticket, target, actor=ctx.employee, now=now, webhook=_hooks(ctx))
            self._refresh_cards(ctx, ticket, "Your ticket")
            text = "Thanks — closed." if target == "closed" else f"Reopened ticket #{ticket.id}; IT will pick it up."
            return Reply(text=text, skill=self.name)
        if action == "rate":
            return self._rate(ticket, argument, ctx)
        return Reply(text="That button is no longer available.", ephemeral=True)

    def _incident_action(self, action: str, message: Message, ctx: SkillContext) -> Reply:
        incident = ctx.session.get(Incident, row_id(message.action_value) or 0)
        if incident is None:
            return Reply(text="I couldn't find that incident.", ephemeral=True)
        if not ctx.employee.has_role("it"):
            return Reply(text="Only IT can resolve incidents.", ephemeral=True)
        if incident.status != "open":
            return Reply(text=f"Incident #{incident.id} is already resolved.", ephemeral=True)
        note = message.form.get("note", "").strip()
        if action == "incident_resolve" or not note:
            return ask_for_text(
                callback_id="it:incident_resolve_submit",
                title=f"Resolve incident #{incident.id}",
                field="note",
                label="What was wrong and is it fixed? (everyone affected sees this)",
                target_id=incident.id,
                submit_label="Resolve",
            )
        now = ctx.now()
        resolved = audit.change_state(
            ctx.session,
            incident,
            entity="incident",
            values={"status": "resolved", "resolved_at": now, "resolution_note": note},
            actor_id=ctx.employee.id,
            detail={"note": note},
        )
        if not resolved:
            return Reply(text=f"Incident #{incident.id} is already resolved.", ephemeral=True)
        members = incident_tickets(ctx.session, incident)
        for ticket in members:
            if ticket.status in service.OPEN:
                service.transition(
                    ctx.session, ticket, "resolved", actor=ctx.employee, now=now, note=note, webhook=_hooks(ctx)
                )
                self._refresh_cards(ctx, ticket, "Your ticket is resolved")
                self._tell_requester(
                    ctx, ticket, f"✅ The problem you reported (incident #{incident.id}) is fixed: {note}"
                )
        self._post_incident_card(ctx, incident)
        return Reply(
            text=f"Resolved incident #{incident.id}; {len(members)} people told.", skill=self.name, ephemeral=True
        )

    def _open_from_question(self, message: Message, ctx: SkillContext) -> Reply:
        asked = ctx.session.get(ChatMessage, row_id(message.action_value) or 0)
        if asked is None or asked.direction != "in":
            return Reply(
                text="I couldn't find the question to open a ticket for. Please describe the problem.", ephemeral=True
            )
        if asked.employee_id != ctx.employee.id:
            return Reply(text="Only the person who asked can open a ticket from this question.", ephemeral=True)
        return self._open(asked.text, triage_report(asked.text, self.incidents), message, ctx, asked_for_new=True)

    def _resolve(self, ticket: Ticket, note: str, ctx: SkillContext) -> Reply:
        if not note:
            return Reply(text="Please say what fixed it; the requester sees the note.", ephemeral=True)
        service.transition(
            ctx.session, ticket, "resolved", actor=ctx.employee, now=ctx.now(), note=note, webhook=_hooks(ctx)
        )
        self._refresh_cards(ctx, ticket, "Your ticket is resolved")
        ctx.notify(
            channel=ticket.channel,
            thread_ts=ticket.thread_ts,
            text=(
                f"✅ {ctx.employee.name} resolved ticket #{ticket.id}: {note}\n"
                "Is it fixed for you? Confirm or reopen, and rate how it went (1–5)."
            ),
            buttons=self._requester_buttons(ticket),
        )
        return Reply(
            text=f"Resolved #{ticket.id}; {ticket.requester.name} has been asked to confirm.",
            skill=self.name,
            ephemeral=True,
        )

    def _rate(self, ticket: Ticket, argument: str, ctx: SkillContext) -> Reply:
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
        return Reply(text=f"Thanks for rating ticket #{ticket.id} {argument}/5.", skill=self.name, ephemeral=True)

    def _edit_form(self, ticket: Ticket, ctx: SkillContext) -> Reply:
        if not (ctx.employee.has_role("it") or ctx.employee.id == ticket.requester_id):
            return Reply(text="Only IT or the person who reported it can change this ticket.", ephemeral=True)
        return Reply(
            text="",
            modal=Modal(
                callback_id="it:edit_submit",
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

    def _edited(self, ticket: Ticket, form: dict[str, str], ctx: SkillContext) -> Reply:
        category, priority = form.get("category", ticket.category), form.get("priority", ticket.priority)
        if category not in CATEGORIES or priority not in PRIORITIES:
            return Reply(
                text="Please choose a category and priority from the lists. Nothing was changed.", ephemeral=True
            )
        service.change_field(ctx.session, ticket, "category", category, actor=ctx.employee, webhook=_hooks(ctx))
        service.change_field(ctx.session, ticket, "priority", priority, actor=ctx.employee, webhook=_hooks(ctx))
        detail = form.get("detail", "").strip()
        if detail:
            ticket.description = f"{ticket.description}\n\nAdded: {detail}"[: MAX_DESCRIPTION * 2]
            ctx.session.flush()
        self._refresh_cards(ctx, ticket, "Your ticket (updated)")
        return Reply(text=f"Updated ticket #{ticket.id}.", skill=self.name)

    # ------------------------------------------------------------ questions answered from the database

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


def incident_tickets(session: Session, incident: Incident) -> list[Ticket]:
    return list(session.scalars(select(Ticket).where(Ticket.incident_id == incident.id).order_by(Ticket.id)))


def _hooks(ctx: SkillContext) -> bool:
    """Whether ticket events go to the outbound webhook."""
    return ctx.settings.webhook_url is not None


def _employee_by_slack(ctx: SkillContext, slack_id: str) -> Employee | None:
    return ctx.session.scalar(select(Employee).where(Employee.slack_id == slack_id)) if slack_id else None


def _original(ticket: Ticket) -> str:
    """A ticket's description as first reported, without the reports added to it later."""
    return ticket.description.split("\n\nAdded later:", 1)[0]


def _description(report: str, screenshot: str) -> str:
    """A new ticket's description: the report, and the text read from its screenshot."""
    return (report + (f"\n\nFrom the screenshot: {screenshot}" if screenshot else ""))[:MAX_DESCRIPTION]


def _others_open(session: Session, category: str, requester_id: int, since: datetime) -> list[Ticket]:
    """Other people's open tickets of a category reported since `since` (an outage's other reports)."""
    query = select(Ticket).where(
        Ticket.requester_id != requester_id,
        Ticket.category == category,
        Ticket.status.in_(service.OPEN),
        Ticket.security.is_(False),
        Ticket.created_at >= since,
    )
    return list(session.scalars(query))


def _embedded(ctx: SkillContext, texts: list[str], vectors: dict[str, np.ndarray]) -> np.ndarray:
    """The texts' vectors, as embedded before the transaction; any not embedded then are embedded now."""
    missing = [t for t in dict.fromkeys(texts) if t not in vectors]
    if missing:
        vectors = {**vectors, **dict(zip(missing, ctx.index.embeddings.embed_array(missing), strict=True))}
    return np.stack([vectors[t] for t in texts])


def _same_kind(ticket: Ticket, found: Triage) -> bool:
    """A ticket a new report may repeat: not a security one, and the same category (or one of them unsorted)."""
    return not ticket.security and (ticket.category == found.category or "other" in (ticket.category, found.category))


def _same_words(theirs: str, text: str) -> bool:
    words, their_words = _words(text), _words(theirs)
    return bool(words and their_words) and len(words & their_words) / len(words | their_words) >= 0.5


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2}
