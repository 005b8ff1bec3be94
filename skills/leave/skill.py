"""Leave: request, change and cancel time off in one message; approvers decide with one click; balances
and statuses come from the database. Rules that a request breaks are named and cited from the SOPs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from bot.db import local_date
from bot.messages import Button, Citation, Message, Modal, ModalField, Reply, escape_mrkdwn
from bot.models import Employee, LeaveRequest
from bot.outbox import person_channel
from bot.router import QUESTION, REQUEST, drops_it, read_act
from knowledge.answer import best_sentence, citations_for
from skills.base import (
    NotACorrection,
    SkillContext,
    ask_for_text,
    changed_since_shown,
    date_order,
    load_examples,
    pending_memo,
    row_id,
)
from skills.leave import ledger
from skills.leave import requests as leave_requests
from skills.leave.config import LeavePolicy, LeaveType, load_policy
from skills.leave.dates import ParsedLeave, days_named, parse_leave
from skills.leave.jobs import decision_buttons
from skills.leave.proposals import Assessment, Proposal, RuleBreak
from skills.leave.requests import fmt_date, fmt_days, fmt_range
from skills.leave.workdays import working_days
from skills.policy import answer_from_sources, answer_in_between, cited_reply

MONTHS = ("january february march april may june july august september october november december").split()
_MONTH = re.compile(r"\b(" + "|".join(m[:3] + r"[a-z]*" for m in MONTHS) + r")\b", re.IGNORECASE)
_STATUS = re.compile(
    r"\b(approved|pending|status|denied|declined|rejected|heard back|hear back|waiting on|been decided)\b", re.I
)
_CANCEL = re.compile(r"\b(cancel|withdraw|call off|take back|scrap)\b", re.I)
_BALANCE = re.compile(
    r"\b(left|remaining|balance|have i (used|taken)|i('ve| have) (used|taken)|used|taken so far|will i have|"
    r"do i (still )?have(?! to)|how many .* have i|accrued)\b",
    re.I,
)
_FORM_WORDS = {"leave", "leave request", "request leave", "time off", "book leave", "book time off", "form"}
HALF_OPTIONS = (
    ("full", "Full days"),
    ("am", "One day, morning only"),
    ("pm", "One day, afternoon only"),
    ("start_pm", "First day: afternoon only"),
    ("end_am", "Last day: morning only"),
)
Cited = dict[str, tuple[list[Citation], str]]
HELP = (
    "I can book time off, tell you your balance, and check on requests. Try: “vacation Dec 22 to Jan 2”, "
    "“sick today”, “how many vacation days do I have left?” or “did my time off get approved?”."
)


def local_today(ctx: SkillContext) -> date:
    """Today in the employee's own time zone (from Slack), so "tomorrow" means their tomorrow."""
    return local_date(ctx.now(), ctx.employee.tz)


def _citations(cited: Cited) -> list[Citation]:
    found: list[Citation] = []
    for citations, _quote in cited.values():
        found += [c for c in citations if c not in found]
    return found


def _summary(request: LeaveRequest, assessment: Assessment | None) -> list[str]:
    """The lines both the employee's and the approver's cards show."""
    counted = f"• Working days: *{fmt_days(request.days)}*"
    # Cards rebuilt later (approved, cancelled) have no assessment: the holidays are counted again.
    days = (
        assessment.workdays
        if assessment is not None
        else working_days(
            request.start_date,
            request.end_date,
            country=request.employee.country,
            start_half=request.start_half,
            end_half=request.end_half,
        )
    )
    if days.excluded_text():
        counted += f" — {days.excluded_text()}"
    lines = [
        f"• Dates: {fmt_range(request.start_date, request.end_date, request.start_half, request.end_half)}",
        counted,
    ]
    if assessment is not None and assessment.balance_before is not None and assessment.balance_after is not None:
        pending = f", {fmt_days(assessment.pending)} already pending" if assessment.pending else ""
        lines.append(
            f"• Balance: {fmt_days(assessment.balance_before)} → {fmt_days(assessment.balance_after)} days{pending}"
        )
    if request.reason:
        lines.append(f"• Reason: {escape_mrkdwn(request.reason)}")
    return lines


def _looks_like_request(text: str) -> bool:
    return bool(re.search(r"\b(book|take|request|need|want|off|out|away|like|can i|could i|i'm|im|i am)\b", text, re.I))


def card_key(request: LeaveRequest) -> str:
    return f"leave:{request.id}:card"


def approval_key(request: LeaveRequest) -> str:
    return f"leave:{request.id}:approval"


# Working elsewhere or later is not time off: "wfh thursday", "remote day tomorrow", "running 20 min late".
_NOT_LEAVE = re.compile(
    r"\b(wfh|work(ing)? (from|at) home|work(ing)? remotely|remote (day|work|working)|home ?office day|"
    r"running( \d+ \w+)? late|be(ing)?( \d+ \w+)? late|stuck in traffic|(be|being|i'm|im|am|working) remote(ly)?)\b",
    re.IGNORECASE,
)
NOT_LEAVE = (
    "Working from home, a remote day or running late isn't time off, so there's nothing to book "
    "(if you meant a day off, say e.g. “vacation on Thursday”)."
)


class LeaveSkill:
    name = "leave"
    description = "Leave requests: book, change or cancel time off, check balances and request status"

    def __init__(self, policy: LeavePolicy | None = None) -> None:
        self.policy = policy or load_policy()
        self.examples: Sequence[str] = load_examples("leave")

    # ------------------------------------------------------------ dispatch

    def handle(self, message: Message, ctx: SkillContext) -> Reply:
        if message.action_id:
            return self._action(message, ctx)
        text = message.text.strip()
        if text.lower().strip(" .!?") in _FORM_WORDS:
            return self._form(ctx, None, trigger=message.trigger_id is not None or message.platform != "slack")
        follow_up = self._pending_question(ctx)
        if follow_up is not None and drops_it(text):
            return Reply(text="Okay, I've dropped that request. Nothing was booked.", skill=self.name)
        # Someone new since the last bookings job still sees a true balance.
        ledger.catch_up(ctx.session, policy=self.policy, employee=ctx.employee, today=local_today(ctx))
        if _STATUS.search(text) and not _CANCEL.search(text):
            return self._status(text, ctx)
        if _CANCEL.search(text):
            return self._cancel_options(text, ctx)
        if _BALANCE.search(text):
            return self._balance(text, ctx)
        if ctx.about_own_records and follow_up is None:
            # "when is my parental leave scheduled to end": what their own requests say, not the handbook's rules.
            return self._status(text, ctx)
        today = local_today(ctx)
        parsed = self._parse(text, ctx, today)
        if parsed.leave_type is None and _NOT_LEAVE.search(text):
            return self._not_leave(text, message, ctx)
        if follow_up is not None and parsed.start is None and read_act(text) == QUESTION:
            # A question in between ("do I need a doctor's note?"): answered, and the request still waits.
            again = " ".join(self._parse(follow_up, ctx, today).questions) or "Which dates would you like off?"
            return answer_in_between(
                text,
                ctx,
                message.channel_type,
                self.name,
                waiting={"leave_question": follow_up},
                ask_again=f"Now, about your request: {again}",
            )
        if follow_up is not None and (parsed.start is None or parsed.questions or not parsed.type_named):
            # The answer to the question asked (the dates, often): read with the request it completes, whose
            # leave type it keeps ("I need to log some sick leave" + "yesterday and today").
            combined = f"{follow_up} {text}"
            return self._request(combined, self._parse(combined, ctx, today), message, ctx, today, asked=True)
        if parsed.start is not None or parsed.problems or parsed.unknown_type:
            return self._request(text, parsed, message, ctx, today, asked=False)
        if (
            parsed.leave_type is not None
            and parsed.questions
            and (_looks_like_request(text) or read_act(text) == REQUEST)
        ):
            return self._request(text, parsed, message, ctx, today, asked=False)
        answer = answer_from_sources(text, ctx, message.channel_type)
        if answer.confident:
            return cited_reply(text, answer, ctx, self.name)
        return Reply(text=HELP, skill=self.name)

    def _not_leave(self, text: str, message: Message, ctx: SkillContext) -> Reply:
        """Working from home, a remote day, running late: no time off to book. What the documents say about
        it, when they do."""
        answer = answer_from_sources(text, ctx, message.channel_type)
        if answer.confident:
            reply = cited_reply(text, answer, ctx, self.name)
            reply.text = f"{NOT_LEAVE} What our documents say:\n{reply.text}"
            return reply
        return Reply(text=f"{NOT_LEAVE} Just let your manager and team know.", skill=self.name)

    def _action(self, message: Message, ctx: SkillContext) -> Reply:
        action = (message.action_id or "").removeprefix("leave:")
        if action == "open_form":
            return self._form(ctx, None, trigger=True)
        if action == "form":
            return self._form_submitted(message, ctx)
        request = ctx.session.get(LeaveRequest, row_id(message.action_value) or 0) if action != "form" else None
        if request is None:
            return Reply(text="I couldn't find that leave request any more.", ephemeral=True)
        if action == "confirm":
            return self._confirm(request, ctx)
        if action == "edit":
            return self._edit_form(request, ctx)
        if action == "correct":
            return self._correct(request, message, ctx)
        if action == "discard":
            return self._discard(request, ctx)
        if action in ("approve", "deny") and changed_since_shown(message, request.revision):
            # Edited after this card was sent: deciding it would decide days the approver never saw.
            if request.status == "pending" and request.approver is not None:
                self.send_for_approval(
                    ctx, request, request.approver, None, heading="Leave request to approve (edited)"
                )
            when = fmt_range(request.start_date, request.end_date, request.start_half, request.end_half)
            return Reply(
                text=(
                    f"Request #{request.id} was changed after that card was sent: it is now {when} "
                    f"({fmt_days(request.days)} working days). Nothing was decided; the card shows it as it is now."
                ),
                ephemeral=True,
                skill=self.name,
            )
        if action == "approve":
            return self._approve(request, ctx)
        if action == "deny":
            return self._deny_form(request, ctx)
        if action == "deny_submit":
            return self._deny(request, message.form.get("reason", "").strip(), ctx)
        if action == "withdraw":
            return self._withdraw(request, ctx)
        if action == "cancel":
            return self._cancel(request, ctx)
        return Reply(text="That button is no longer available.", ephemeral=True)

    # ------------------------------------------------------------ parsing and the confirmation card

    def _parse(self, text: str, ctx: SkillContext, today: date) -> ParsedLeave:
        return parse_leave(text, today=today, aliases=self.policy.aliases(), date_order=date_order(ctx.employee))

    def _pending_question(self, ctx: SkillContext) -> str | None:
        """The request text of a question the skill asked last in this conversation, if that is the newest
        thing the bot said here."""
        return pending_memo(ctx, self.name, "leave_question")

    def _request(
        self, text: str, parsed: ParsedLeave, message: Message, ctx: SkillContext, today: date, *, asked: bool
    ) -> Reply:
        if parsed.unknown_type:
            return Reply(
                text=(
                    f"I don't know a leave type called “{parsed.unknown_type}”. I can book: {self.policy.labels()}. "
                    "For anything else, please ask People Ops."
                ),
                skill=self.name,
            )
        if parsed.problems:
            return Reply(text=" ".join(parsed.problems) + " Nothing was booked.", skill=self.name)
        questions = list(parsed.questions)
        if parsed.start is None and not questions:
            questions.append("Which dates would you like off? For example “Dec 22 to Jan 2” or “next Friday”.")
        if parsed.start is not None and parsed.end is None and not questions:
            questions.append("Until when? For example “until March 20”.")
        if questions:
            if asked:
                return Reply(
                    text=(
                        "I still can't tell: " + " ".join(questions) + " Please fill in the form so nothing is guessed."
                    ),
                    buttons=[Button("leave:open_form", "Open the leave form", "", "primary")],
                    skill=self.name,
                )
            ctx.conversation.awaiting_skill = self.name
            sorry = "I'm so sorry for your loss. " if parsed.leave_type == "bereavement" else ""
            return Reply(text=sorry + " ".join(questions), skill=self.name, memo={"leave_question": text})
        assert parsed.start is not None and parsed.end is not None
        proposal = Proposal(
            leave_type=parsed.leave_type or "vacation",
            start=parsed.start,
            end=parsed.end,
            start_half=parsed.start_half,
            end_half=parsed.end_half,
            reason=parsed.reason,
        )
        notes = list(parsed.notes)
        if parsed.leave_type is None:
            notes.append("No leave type was named, so this is vacation — use Edit to change it.")
        return self._draft(proposal, ctx, message, today, notes)

    def _draft(
        self, proposal: Proposal, ctx: SkillContext, message: Message, today: date, notes: Sequence[str] = ()
    ) -> Reply:
        leave_type = self.policy.types[proposal.leave_type]
        problems = leave_requests.check_dates(proposal, leave_type, self.policy, today)
        if problems:
            return Reply(text=" ".join(problems) + " Nothing was booked.", skill=self.name)
        assessment = leave_requests.assess(
            ctx.session, policy=self.policy, employee=ctx.employee, proposal=proposal, today=today
        )
        if assessment.days <= 0:
            return Reply(text=assessment.breaks[0].message + " Nothing was booked.", skill=self.name)
        thread = message.conversation_thread if message.platform == "slack" and message.ts else message.thread_ts
        request = leave_requests.create_draft(
            ctx.session,
            employee=ctx.employee,
            assessment=assessment,
            platform=message.platform,
            channel=message.channel,
            thread_ts=thread if message.platform == "slack" else None,
            conversation_id=ctx.conversation.id,
        )
        approver, why = self._approver(ctx, request, today)
        cited = self._cite_all(ctx, assessment)
        text = self._card_text(request, assessment, approver, why, notes, cited, heading="Please check your request")
        return Reply(
            text=text,
            citations=_citations(cited),
            buttons=self._draft_buttons(request, blocked=assessment.blocked),
            skill=self.name,
            update_key=card_key(request),
        )

    def _approver(self, ctx: SkillContext, request: LeaveRequest, today: date) -> tuple[Employee | None, str | None]:
        if not self.policy.types[request.leave_type].requires_approval:
            return None, None
        return leave_requests.choose_approver(ctx.session, ctx.employee, today)

    def _draft_buttons(self, request: LeaveRequest, *, blocked: bool) -> list[Button]:
        buttons = [] if blocked else [Button("leave:confirm", "Confirm", str(request.id), "primary")]
        return buttons + [
            Button("leave:edit", "Edit", str(request.id)),
            Button("leave:discard", "Cancel", str(request.id), "danger"),
        ]

    def _card_text(
        self,
        request: LeaveRequest,
        assessment: Assessment | None,
        approver: Employee | None,
        why: str | None,
        notes: Sequence[str] = (),
        cited: Cited | None = None,
        *,
        heading: str,
    ) -> str:
        leave_type = self.policy.types[request.leave_type]
        lines = [f"*{heading}* — {leave_type.label} (request #{request.id})", *_summary(request, assessment)]
        if leave_type.requires_approval:
            lines.append(f"• Approver: {approver.name if approver else 'nobody found — People Ops will pick it up'}")
            if why:
                lines.append(f"  _{why}_")
        else:
            lines.append("• No approval needed: your manager is told when you confirm.")
        for note in notes:
            lines.append(f"• _{note}_")
        if assessment is not None:
            for rule in assessment.breaks:
                lines.append(("⛔ " if rule.blocking else "⚠️ ") + rule.message)
                quote = (cited or {}).get(rule.rule, ([], ""))[1]
                if quote:
                    lines.append(f"> {quote}")
        return "\n".join(lines)

    # ------------------------------------------------------------ rule citations

    def cite(self, ctx: SkillContext, leave_type: LeaveType, rule: RuleBreak) -> tuple[list[Citation], str]:
        """The SOP passage that states a rule (found with the search configured for it) and its sentence
        closest to the rule. Only everyone-documents: the approver sees the same card."""
        query = leave_type.policy.get(rule.rule)
        if not query:
            return [], ""
        hits = ctx.index.search(query, k=1, audiences=["everyone"])
        if not hits:
            return [], ""
        return citations_for(hits, limit=1), best_sentence(rule.message, hits, ctx.index)

    def _cite_all(self, ctx: SkillContext, assessment: Assessment) -> Cited:
        return {rule.rule: self.cite(ctx, assessment.leave_type, rule) for rule in assessment.breaks}

    # ------------------------------------------------------------ confirming and deciding

    def _assess_existing(self, ctx: SkillContext, request: LeaveRequest, today: date) -> Assessment:
        proposal = Proposal.of(request)
        return leave_requests.assess(
            ctx.session,
            policy=self.policy,
            employee=request.employee,
            proposal=proposal,
            today=today,
            exclude_id=request.id,
        )

    def _confirm(self, request: LeaveRequest, ctx: SkillContext) -> Reply:
        if request.employee_id != ctx.employee.id:
            return Reply(text="Only the person who asked can confirm this request.", ephemeral=True)
        if request.status != "draft":
            return Reply(text=f"This request is already {request.status}.", ephemeral=True)
        today = local_today(ctx)
        # Balances and other requests may have changed since the card was shown: check again.
        assessment = self._assess_existing(ctx, request, today)
        if assessment.blocked:
            cited = self._cite_all(ctx, assessment)
            return Reply(
                text="I can't submit this any more: " + " ".join(b.message for b in assessment.breaks if b.blocking),
                citations=_citations(cited),
                skill=self.name,
            )
        leave_type = self.policy.types[request.leave_type]
        now = ctx.now()
        if not leave_type.requires_approval:
            leave_requests.transition(ctx.session, request, "approved", actor=ctx.employee, now=now, policy=self.policy)
            self._update_card(ctx, request, "Recorded", assessment)
            manager = ctx.employee.manager
            if manager is not None:
                ctx.notify(
                    channel=person_channel(manager, request.platform),
                    text=(
                        f"FYI: {ctx.employee.name} is on {leave_type.label.lower()} "
                        f"{fmt_range(request.start_date, request.end_date, request.start_half, request.end_half)} "
                        f"({fmt_days(request.days)} working days). No action needed."
                    ),
                )
            told = f" I've let {manager.name} know." if manager else ""
            return Reply(
                text=f"Recorded: {leave_type.label.lower()}, request #{request.id}.{told} Get well soon!"
                if request.leave_type == "sick"
                else f"Recorded, request #{request.id}.{told}",
                skill=self.name,
            )
        approver, why = leave_requests.choose_approver(ctx.session, ctx.employee, today)
        leave_requests.transition(ctx.session, request, "pending", actor=ctx.employee, now=now, policy=self.policy)
        leave_requests.assign_approver(ctx.session, request, approver, why)
        self._update_card(ctx, request, "Submitted — waiting for approval", assessment)
        if approver is None:
            ctx.notify(
                channel=ctx.settings.hr_destination,
                text=f"Leave request #{request.id} from {ctx.employee.name} has no approver in the directory.",
                buttons=decision_buttons(request),
            )
            return Reply(
                text="Submitted. I couldn't find your approver, so People Ops will pick it up.", skill=self.name
            )
        self.send_for_approval(ctx, request, approver, assessment)
        return Reply(
            text=f"Submitted to {approver.name} for approval. I'll tell you here when they decide.", skill=self.name
        )

    def approval_text(
        self, ctx: SkillContext, request: LeaveRequest, assessment: Assessment | None, heading: str
    ) -> str:
        """The approver's card: the request, the rules it breaks, and who else on the team is away."""
        leave_type = self.policy.types[request.leave_type]
        employee = request.employee
        lines = [
            f"*{heading}* — {employee.name}: {leave_type.label} (request #{request.id})",
            *_summary(request, assessment),
        ]
        if request.approver_note:
            lines.append(f"• Why you: _{request.approver_note}_")
        others = leave_requests.team_absences(ctx.session, request)
        if others:
            lines.append("• Team coverage — also away then:")
            for other in others:
                lines.append(
                    f"    ◦ {other.employee.name}: {fmt_range(other.start_date, other.end_date)} ({other.status})"
                )
        else:
            lines.append("• Team coverage: nobody else on the team is away then.")
        for warning in request.warnings:
            lines.append(f"⚠️ {warning}")
        return "\n".join(lines)

    def send_for_approval(
        self,
        ctx: SkillContext,
        request: LeaveRequest,
        approver: Employee,
        assessment: Assessment | None,
        heading: str = "Leave request to approve",
    ) -> None:
        ctx.notify(
            channel=person_channel(approver, request.platform),
            text=self.approval_text(ctx, request, assessment, heading),
            update_key=approval_key(request),
            buttons=decision_buttons(request),
        )

    def _update_card(
        self, ctx: SkillContext, request: LeaveRequest, heading: str, assessment: Assessment | None = None
    ) -> None:
        """Rewrite the employee's card in place with the request's current state and buttons."""
        buttons: list[Button] = []
        if request.status == "draft":
            buttons = self._draft_buttons(request, blocked=assessment is not None and assessment.blocked)
        elif request.status == "pending":
            buttons = [
                Button("leave:edit", "Edit", str(request.id)),
                Button("leave:withdraw", "Withdraw", str(request.id), "danger"),
            ]
        elif request.status == "approved" and request.end_date >= local_today(ctx):
            buttons = [Button("leave:cancel", "Cancel this leave", str(request.id), "danger")]
        ctx.notify(
            channel=request.channel,
            thread_ts=request.thread_ts,
            text=self._card_text(request, assessment, request.approver, request.approver_note, heading=heading),
            update_key=card_key(request),
            buttons=buttons,
        )

    def _tell_employee(self, ctx: SkillContext, request: LeaveRequest, text: str) -> None:
        ctx.notify(channel=request.channel, thread_ts=request.thread_ts, text=text)

    def _approve(self, request: LeaveRequest, ctx: SkillContext) -> Reply:
        leave_requests.transition(
            ctx.session, request, "approved", actor=ctx.employee, now=ctx.now(), policy=self.policy
        )
        label = self.policy.types[request.leave_type].label.lower()
        when = fmt_range(request.start_date, request.end_date, request.start_half, request.end_half)
        self._tell_employee(ctx, request, f"✅ {ctx.employee.name} approved your {label}: {when}.")
        self._update_card(ctx, request, f"Approved by {ctx.employee.name}")
        self._close_approval_cards(ctx, request, f"✅ Approved by {ctx.employee.name}")
        return Reply(text=f"Approved. {request.employee.name} has been told.", skill=self.name)

    def _close_approval_cards(self, ctx: SkillContext, request: LeaveRequest, outcome: str) -> None:
        approver = request.approver
        if approver is not None:
            ctx.notify(
                channel=person_channel(approver, request.platform),
                text=self.approval_text(ctx, request, None, outcome),
                update_key=approval_key(request),
            )
        if request.escalated_at is not None:
            ctx.notify(
                channel=ctx.settings.hr_destination,
                text=self.approval_text(ctx, request, None, outcome),
                update_key=f"leave:{request.id}:hr",
            )

    def _deny_form(self, request: LeaveRequest, ctx: SkillContext) -> Reply:
        # The same check as the denial itself, so only the approver (or People Ops) gets the form.
        leave_requests.check_move(request, "denied", actor=ctx.employee, policy=self.policy)
        return ask_for_text(
            callback_id="leave:deny_submit",
            title="Deny leave",
            field="reason",
            label="Why? (the employee sees this)",
            target_id=request.id,
            submit_label="Deny",
        )

    def _deny(self, request: LeaveRequest, reason: str, ctx: SkillContext) -> Reply:
        if not reason:
            return Reply(text="Please give a reason when denying leave.", ephemeral=True)
        leave_requests.transition(
            ctx.session, request, "denied", actor=ctx.employee, now=ctx.now(), note=reason, policy=self.policy
        )
        label = self.policy.types[request.leave_type].label.lower()
        when = fmt_range(request.start_date, request.end_date, request.start_half, request.end_half)
        self._tell_employee(ctx, request, f"❌ {ctx.employee.name} denied your {label} ({when}): {reason}")
        self._update_card(ctx, request, f"Denied by {ctx.employee.name}")
        self._close_approval_cards(ctx, request, f"❌ Denied by {ctx.employee.name}: {reason}")
        return Reply(text=f"Denied. {request.employee.name} has been told.", skill=self.name)

    def _discard(self, request: LeaveRequest, ctx: SkillContext) -> Reply:
        leave_requests.transition(
            ctx.session, request, "discarded", actor=ctx.employee, now=ctx.now(), policy=self.policy
        )
        self._update_card(ctx, request, "Cancelled before sending")
        return Reply(text="OK, nothing was booked.", skill=self.name)

    def _withdraw(self, request: LeaveRequest, ctx: SkillContext) -> Reply:
        leave_requests.transition(
            ctx.session, request, "withdrawn", actor=ctx.employee, now=ctx.now(), policy=self.policy
        )
        self._update_card(ctx, request, "Withdrawn")
        self._close_approval_cards(ctx, request, f"↩️ Withdrawn by {request.employee.name} — nothing to do")
        return Reply(text=f"Withdrawn request #{request.id}. Your approver has been told.", skill=self.name)

    def _cancel(self, request: LeaveRequest, ctx: SkillContext) -> Reply:
        if request.status == "pending":
            return self._withdraw(request, ctx)
        leave_requests.transition(
            ctx.session, request, "cancelled", actor=ctx.employee, now=ctx.now(), policy=self.policy
        )
        leave_type = self.policy.types[request.leave_type]
        when = fmt_range(request.start_date, request.end_date, request.start_half, request.end_half)
        self._update_card(ctx, request, "Cancelled")
        approver = request.approver or request.employee.manager
        if approver is not None:
            ctx.notify(
                channel=person_channel(approver, request.platform),
                text=(
                    f"{request.employee.name} cancelled their approved {leave_type.label.lower()} ({when}, "
                    f"request #{request.id})." + (" The days are back in their balance." if leave_type.tracked else "")
                ),
            )
        returned = f" {fmt_days(request.days)} days are back in your balance." if leave_type.tracked else ""
        told = f" {approver.name} has been told." if approver else ""
        return Reply(text=f"Cancelled your {leave_type.label.lower()} {when}.{returned}{told}", skill=self.name)

    # ------------------------------------------------------------ the form (Slack modal / web dialog)

    def _form(self, ctx: SkillContext, request: LeaveRequest | None, *, trigger: bool) -> Reply:
        if not trigger:
            return Reply(
                text="Press the button to open the leave form, or just tell me, e.g. “vacation Dec 22 to Jan 2”.",
                buttons=[Button("leave:open_form", "Open the leave form", "", "primary")],
                skill=self.name,
            )
        half = "full"
        if request is not None:
            if request.start_date == request.end_date and (request.start_half or request.end_half):
                half = request.start_half or request.end_half or "full"
            elif request.start_half == "pm":
                half = "start_pm"
            elif request.end_half == "am":
                half = "end_am"
        types = tuple((t.key, t.label) for t in self.policy.types.values())
        return Reply(
            text="",
            modal=Modal(
                callback_id="leave:form",
                title="Edit leave request" if request else "Request leave",
                fields=(
                    ModalField(
                        "leave_type",
                        "Type",
                        kind="select",
                        options=types,
                        initial=request.leave_type if request else "vacation",
                    ),
                    ModalField(
                        "start", "First day off", kind="date", initial=request.start_date.isoformat() if request else ""
                    ),
                    ModalField(
                        "end", "Last day off", kind="date", initial=request.end_date.isoformat() if request else ""
                    ),
                    ModalField("half", "Half days", kind="select", options=HALF_OPTIONS, initial=half),
                    ModalField(
                        "reason", "Reason (optional)", optional=True, initial=(request.reason or "") if request else ""
                    ),
                ),
                private_metadata=str(request.id) if request else "new",
                submit_label="Save" if request else "Next",
            ),
        )

    def _edit_form(self, request: LeaveRequest, ctx: SkillContext) -> Reply:
        leave_requests.check_editor(request, ctx.employee)
        return self._form(ctx, request, trigger=True)

    def _form_submitted(self, message: Message, ctx: SkillContext) -> Reply:
        form = message.form
        problems: list[str] = []
        leave_type = form.get("leave_type", "")
        if leave_type not in self.policy.types:
            problems.append(f"Unknown leave type “{leave_type}”. Choose one of: {self.policy.labels()}.")
        dates: dict[str, date] = {}
        for name, label in (("start", "first day"), ("end", "last day")):
            try:
                dates[name] = date.fromisoformat(form.get(name, "").strip())
            except ValueError:
                problems.append(f"The {label} “{form.get(name, '')}” is not a date (use YYYY-MM-DD).")
        if problems:
            return Reply(text=" ".join(problems) + " Nothing was saved.", ephemeral=True, skill=self.name)
        half = form.get("half", "full")
        start_half = {"am": "am", "pm": "pm", "start_pm": "pm"}.get(half)
        end_half = {"am": "am", "pm": "pm", "end_am": "am"}.get(half)
        if half in ("am", "pm") and dates["start"] != dates["end"]:
            return Reply(
                text="A morning-only or afternoon-only request must be a single day. Nothing was saved.",
                ephemeral=True,
                skill=self.name,
            )
        proposal = Proposal(
            leave_type=leave_type,
            start=dates["start"],
            end=dates["end"],
            start_half=start_half,
            end_half=end_half,
            reason=form.get("reason", "").strip() or None,
        )
        today = local_today(ctx)
        request_id = row_id(message.action_value)
        if request_id is None:
            return self._draft(proposal, ctx, message, today)
        request = ctx.session.get(LeaveRequest, request_id)
        if request is None:
            return Reply(text="I couldn't find that leave request any more.", ephemeral=True)
        return self._edit(request, proposal, ctx, today)

    def _edit(self, request: LeaveRequest, proposal: Proposal, ctx: SkillContext, today: date) -> Reply:
        # Before anything is checked against the owner's balance and other requests (the answer names them).
        leave_requests.check_editor(request, ctx.employee)
        leave_type = self.policy.types[proposal.leave_type]
        problems = leave_requests.check_dates(proposal, leave_type, self.policy, today)
        if problems:
            return Reply(text=" ".join(problems) + " Nothing was changed.", ephemeral=True, skill=self.name)
        assessment = leave_requests.assess(
            ctx.session,
            policy=self.policy,
            employee=request.employee,
            proposal=proposal,
            today=today,
            exclude_id=request.id,
        )
        if assessment.blocked:
            cited = self._cite_all(ctx, assessment)
            return Reply(
                text="I can't change it to that: "
                + " ".join(b.message for b in assessment.breaks if b.blocking)
                + " Nothing was changed.",
                citations=_citations(cited),
                skill=self.name,
            )
        leave_requests.apply_edit(ctx.session, request, assessment, actor=ctx.employee)
        if request.status == "pending":
            self._update_card(ctx, request, "Edited — waiting for approval", assessment)
            if request.approver is not None:
                self.send_for_approval(
                    ctx, request, request.approver, assessment, heading="Leave request to approve (edited)"
                )
            return Reply(text=f"Updated request #{request.id}; your approver sees the new dates.", skill=self.name)
        self._update_card(ctx, request, "Please check your request", assessment)
        return Reply(text=f"Updated request #{request.id} — check the card and press Confirm.", skill=self.name)

    def _correct(self, request: LeaveRequest, message: Message, ctx: SkillContext) -> Reply:
        """A change typed right after the request's card ("make it thursday instead", "end it on the 16th",
        "extend it to include today", "change the start to the 17th", "make it sick leave"): the draft changes and
        the card shows it. NotACorrection when nothing would change."""
        if request.status != "draft" or request.employee_id != ctx.employee.id:
            raise NotACorrection
        text, today = message.text, local_today(ctx)
        current = Proposal.of(request)
        named = days_named(
            text, today=today, aliases=self.policy.aliases(), date_order=date_order(ctx.employee), near=current.start
        )
        parsed = self._parse(text, ctx, today)
        start, end = _corrected_dates(text, named, current.start, current.end)
        leave_type = parsed.leave_type if parsed.type_named and parsed.leave_type else current.leave_type
        if (start, end, leave_type) == (current.start, current.end, current.leave_type):
            raise NotACorrection
        if end < start:
            return Reply(
                text=f"That would end ({fmt_date(end)}) before it starts ({fmt_date(start)}). Nothing was changed.",
                skill=self.name,
            )
        moved = (start, end) != (current.start, current.end)
        proposal = replace(
            current,
            leave_type=leave_type,
            start=start,
            end=end,
            start_half=parsed.start_half if moved else current.start_half,
            end_half=parsed.end_half if moved else current.end_half,
        )
        reply = self._edit(request, proposal, ctx, today)
        if (request.start_date, request.end_date, request.leave_type) != (start, end, leave_type):
            return reply  # refused (a rule it breaks, a date it can't have): the reply says why
        when = fmt_range(request.start_date, request.end_date, request.start_half, request.end_half)
        label = self.policy.types[request.leave_type].label
        return Reply(
            text=(
                f"Changed request #{request.id}: {label}, {when} — {fmt_days(request.days)} working "
                f"day{'' if request.days == 1 else 's'}. Press Confirm when it looks right."
            ),
            buttons=self._draft_buttons(request, blocked=False),
            skill=self.name,
        )

    # ------------------------------------------------------------ questions answered from the database

    def _status(self, text: str, ctx: SkillContext) -> Reply:
        mine = leave_requests.requests_of(ctx.session, ctx.employee)
        month = _month_in(text)
        if month is not None:
            mine = [r for r in mine if _touches_month(r, month)]
        if not mine:
            where = f" in {MONTHS[month - 1].title()}" if month else ""
            return Reply(text=f"I don't see any leave requests of yours{where}.", skill=self.name)
        today = local_today(ctx)
        upcoming = [r for r in mine if r.end_date >= today] or mine
        lines = ["Your leave requests:"]
        for request in upcoming[-10:]:
            lines.append("• " + self._status_line(request))
        return Reply(text="\n".join(lines), skill=self.name)

    def _status_line(self, request: LeaveRequest) -> str:
        label = self.policy.types[request.leave_type].label if request.leave_type in self.policy.types else "Leave"
        when = fmt_range(request.start_date, request.end_date, request.start_half, request.end_half)
        text = f"#{request.id} {label}, {when} ({fmt_days(request.days)} days): *{request.status}*"
        if request.status == "pending":
            waiting = request.approver.name if request.approver else "People Ops"
            since = f" since {fmt_date(request.submitted_at.date())}" if request.submitted_at else ""
            text += f" — waiting for {waiting}{since}"
        elif request.status in ("approved", "denied") and request.approver is not None and request.decided_at:
            text += f" on {fmt_date(request.decided_at.date())}"
        if request.status == "denied" and request.decision_note:
            text += f" — “{request.decision_note}”"
        return text

    def _balance(self, text: str, ctx: SkillContext) -> Reply:
        today = local_today(ctx)
        parsed = self._parse(text, ctx, today)
        tracked = [t for t in self.policy.types.values() if t.tracked]
        leave_type = self.policy.types.get(parsed.leave_type or "") if parsed.leave_type else None
        if leave_type is None or not leave_type.tracked:
            leave_type = tracked[0]
        employee = ctx.employee
        lowered = text.lower()
        if re.search(r"\b(used|taken)\b", lowered):
            used = ledger.used_days(ctx.session, employee_id=employee.id, leave_type=leave_type.key, year=today.year)
            left = ledger.booked_balance(ctx.session, employee_id=employee.id, leave_type=leave_type.key, as_of=today)
            day_word = "day" if used == 1 else "days"
            left_word = "day is" if left == 1 else "days are"
            return Reply(
                text=(
                    f"You have used {fmt_days(used)} {day_word} of {leave_type.label.lower()} in {today.year} "
                    f"(approved days still ahead included); {fmt_days(left)} {left_word} left."
                ),
                skill=self.name,
            )
        month = _month_in(text)
        if month is not None or re.search(r"\b(will i have|by the end of|by then)\b", lowered):
            on = _next_month_start(today, month) if month else date(today.year, 12, 31)
            projection = ledger.project(
                ctx.session, policy=self.policy, employee=employee, leave_type=leave_type, today=today, on=on
            )
            now_balance = ledger.booked_balance(
                ctx.session, employee_id=employee.id, leave_type=leave_type.key, as_of=today
            )
            parts = [f"{fmt_days(now_balance)} today", f"+ {fmt_days(projection.accrued)} still to accrue"]
            if projection.expiring:
                parts.append(f"− {fmt_days(projection.expiring)} that expire on the way (carry-over limits)")
            return Reply(
                text=(
                    f"By {fmt_date(on)} you should have *{fmt_days(projection.days)}* {leave_type.label.lower()} "
                    f"days: {' '.join(parts)}. Approved leave is already subtracted; pending requests are not."
                ),
                skill=self.name,
            )
        lines = []
        for kind in tracked if leave_type is tracked[0] and parsed.leave_type is None else [leave_type]:
            balance = ledger.booked_balance(ctx.session, employee_id=employee.id, leave_type=kind.key, as_of=today)
            pending = ledger.pending_days(ctx.session, employee_id=employee.id, leave_type=kind.key)
            extra = f" ({fmt_days(pending)} more in pending requests)" if pending else ""
            lines.append(f"• {kind.label}: *{fmt_days(balance)}* days left{extra}")
        return Reply(
            text=f"Your balances today ({fmt_date(today)}), approved leave already subtracted:\n" + "\n".join(lines),
            skill=self.name,
        )

    def _cancel_options(self, text: str, ctx: SkillContext) -> Reply:
        today = local_today(ctx)
        active = [
            r
            for r in leave_requests.requests_of(ctx.session, ctx.employee, statuses=("pending", "approved"))
            # Approved leave can be cancelled until its first day is over (skills.leave.requests.transition).
            if (r.end_date if r.status == "pending" else r.start_date) >= today
        ]
        month = _month_in(text)
        parsed = self._parse(text, ctx, today)
        if parsed.start is not None:
            end = parsed.end or parsed.start
            active = [r for r in active if r.start_date <= end and r.end_date >= parsed.start] or active
        elif month is not None:
            active = [r for r in active if _touches_month(r, month)] or active
        if not active:
            return Reply(text="You have no upcoming leave to cancel.", skill=self.name)
        buttons = [
            Button(
                "leave:withdraw" if r.status == "pending" else "leave:cancel",
                f"Cancel #{r.id} ({r.start_date:%b} {r.start_date.day})",
                str(r.id),
                "danger",
            )
            for r in active[:5]
        ]
        lines = ["Which one should I cancel? Press its button:"] + ["• " + self._status_line(r) for r in active[:5]]
        return Reply(text="\n".join(lines), buttons=buttons, skill=self.name)


_NEW_START = re.compile(r"\b(start|starting|begin|beginning|from|earlier)\b", re.IGNORECASE)
_NEW_END = re.compile(r"\b(end|ending|until|till|through|extend|extended|include|longer|back on|last day)\b", re.I)


def _corrected_dates(
    text: str, named: Sequence[tuple[date | None, date | None]], start: date, end: date
) -> tuple[date, date]:
    """The dates a request has after a correction that names `named`: a new stretch replaces it; one day moves
    the start or the end when the words say which ("change the start to", "end it on", "extend it to include"),
    and otherwise replaces it."""
    if len(named) > 1 and all(a is not None and b is not None for a, b in named):
        starts = [a for a, _ in named if a is not None]
        ends = [b for _, b in named if b is not None]
        return min(starts), max(ends)
    if len(named) != 1:
        return start, end
    first, last = named[0]
    if first is None and last is not None:
        return start, last  # "until friday"
    if last is None and first is not None:
        return first, end  # "from wednesday"
    assert first is not None and last is not None
    if first != last:
        return first, last
    new_start, new_end = bool(_NEW_START.search(text)), bool(_NEW_END.search(text))
    if new_end and not new_start:
        return (first, end) if first < start else (start, first)  # "extend it to include monday" reaches back
    if new_start and not new_end:
        return first, end
    return first, first


def _month_in(text: str) -> int | None:
    found = _MONTH.search(text)
    if not found:
        return None
    word = found.group(1).lower()
    if word in ("may",) and not re.search(r"\bin may\b|\bmay request\b|\bby may\b", text.lower()):
        return None  # "may I ..." is not the month
    for number, name in enumerate(MONTHS, start=1):
        if name.startswith(word[:3]):
            return number
    return None


def _touches_month(request: LeaveRequest, month: int) -> bool:
    day = request.start_date
    while day <= request.end_date:
        if day.month == month:
            return True
        day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return False


def _next_month_start(today: date, month: int) -> date:
    year = today.year if month > today.month else today.year + 1
    return date(year, month, 1)
