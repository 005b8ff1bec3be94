"""Leave: request, change and cancel time off in one message; approvers decide with one click; balances
and statuses come from the database. Rules that a request breaks are named and cited from the SOPs."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from functools import partial
from typing import TYPE_CHECKING

from bot.jobs import Job
from bot.messages import Button, Message, Reply
from bot.models import LeaveRequest
from bot.router import QUESTION, REQUEST, drops_it, read_act
from skills.base import (
    ActionHandler,
    SkillContext,
    changed_since_shown,
    load_examples,
    no_longer_available,
    on_row,
    pending_memo,
)
from skills.leave import action_ids, ledger
from skills.leave import jobs as leave_jobs
from skills.leave.cards import NAME, LeaveCards
from skills.leave.config import LeavePolicy, load_policy
from skills.leave.dates import ParsedLeave
from skills.leave.decisions import LeaveDecisions
from skills.leave.drafts import LeaveDrafts
from skills.leave.proposals import Proposal
from skills.leave.reading import local_today, parse_request
from skills.leave.records import LeaveRecords
from skills.leave.requests import fmt_days, fmt_range
from skills.policy.skill import answer_from_sources, answer_in_between, cited_reply

if TYPE_CHECKING:
    from bot.console.shell import ConsolePages

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
HELP = (
    "I can book time off, tell you your balance, and check on requests. Try: “vacation Dec 22 to Jan 2”, "
    "“sick today”, “how many vacation days do I have left?” or “did my time off get approved?”."
)


def _looks_like_request(text: str) -> bool:
    return bool(re.search(r"\b(book|take|request|need|want|off|out|away|like|can i|could i|i'm|im|i am)\b", text, re.I))


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
    name = NAME
    description = "Leave requests: book, change or cancel time off, check balances and request status"

    def __init__(self, policy: LeavePolicy | None = None) -> None:
        self.policy = policy or load_policy()
        self.examples: Sequence[str] = load_examples("leave")
        self.jobs: Sequence[Job] = leave_jobs.scheduled(self.policy)
        self.cards = LeaveCards(self.policy)
        self.drafts = LeaveDrafts(self.policy, self.cards)
        self.decisions = LeaveDecisions(self.policy, self.cards)
        self.records = LeaveRecords(self.policy)
        on = partial(on_row, LeaveRequest, "I couldn't find that leave request any more.")
        self.actions: Mapping[str, ActionHandler] = {
            action_ids.OPEN_FORM: lambda message, ctx: self.drafts.form(ctx, None, trigger=True),
            action_ids.FORM: self.drafts.form_submitted,
            action_ids.CONFIRM: on(lambda request, message, ctx: self.decisions.confirm(request, ctx)),
            action_ids.EDIT: on(lambda request, message, ctx: self.drafts.edit_form(request, ctx)),
            action_ids.CORRECT: on(self.drafts.correct),
            action_ids.DISCARD: on(lambda request, message, ctx: self.decisions.discard(request, ctx)),
            action_ids.APPROVE: on(self._approve),
            action_ids.DENY: on(self._deny),
            action_ids.DENY_SUBMIT: on(self._deny_submitted),
            action_ids.WITHDRAW: on(lambda request, message, ctx: self.decisions.withdraw(request, ctx)),
            action_ids.CANCEL: on(lambda request, message, ctx: self.decisions.cancel(request, ctx)),
        }
        # An id not (or no longer) declared: as for the others, a request that is gone is said so first.
        self._unknown_action = on(lambda request, message, ctx: no_longer_available(message, ctx))

    # ------------------------------------------------------------ dispatch

    @property
    def console(self) -> ConsolePages:
        """Its staff console pages (imported here: they import the console shell, which imports the runtime)."""
        from skills.leave.console import PAGES  # noqa: PLC0415

        return PAGES

    def handle(self, message: Message, ctx: SkillContext) -> Reply:
        if message.action_id:
            return self.actions.get(message.action_id, self._unknown_action)(message, ctx)
        text = message.text.strip()
        if text.lower().strip(" .!?") in _FORM_WORDS:
            return self.drafts.form(ctx, None, trigger=message.trigger_id is not None or message.platform != "slack")
        follow_up = self._pending_question(ctx)
        if follow_up is not None and drops_it(text):
            return Reply(text="Okay, I've dropped that request. Nothing was booked.", skill=self.name)
        # Someone new since the last bookings job still sees a true balance.
        ledger.catch_up(ctx.session, policy=self.policy, employee=ctx.employee, today=local_today(ctx))
        if _STATUS.search(text) and not _CANCEL.search(text):
            return self.records.status(text, ctx)
        if _CANCEL.search(text):
            return self.records.cancel_options(text, ctx)
        if _BALANCE.search(text):
            return self.records.balance(text, ctx)
        if ctx.about_own_records and follow_up is None:
            # "when is my parental leave scheduled to end": what their own requests say, not the handbook's rules.
            return self.records.status(text, ctx)
        today = local_today(ctx)
        parsed = parse_request(self.policy, text, ctx, today)
        if parsed.leave_type is None and _NOT_LEAVE.search(text):
            return self._not_leave(text, message, ctx)
        if follow_up is not None and parsed.start is None and read_act(text) == QUESTION:
            # A question in between ("do I need a doctor's note?"): answered, and the request still waits.
            again = (
                " ".join(parse_request(self.policy, follow_up, ctx, today).questions)
                or "Which dates would you like off?"
            )
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
            return self._request(
                combined, parse_request(self.policy, combined, ctx, today), message, ctx, today, asked=True
            )
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

    def _approve(self, request: LeaveRequest, message: Message, ctx: SkillContext) -> Reply:
        changed = self._changed_since_card(request, message, ctx)
        return changed if changed is not None else self.decisions.approve(request, ctx)

    def _deny(self, request: LeaveRequest, message: Message, ctx: SkillContext) -> Reply:
        changed = self._changed_since_card(request, message, ctx)
        return changed if changed is not None else self.decisions.deny_form(request, ctx)

    def _deny_submitted(self, request: LeaveRequest, message: Message, ctx: SkillContext) -> Reply:
        return self.decisions.deny(request, message.form.get("reason", "").strip(), ctx)

    def _changed_since_card(self, request: LeaveRequest, message: Message, ctx: SkillContext) -> Reply | None:
        """Approve or Deny pressed on a card sent before the request was edited: deciding it would decide days
        the approver never saw, so nothing is decided and the card is sent again as the request is now."""
        if not changed_since_shown(message, request.revision):
            return None
        if request.status == "pending" and request.approver is not None:
            self.cards.send_for_approval(
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

    # ------------------------------------------------------------ a request in words

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
                    buttons=[Button(action_ids.OPEN_FORM, "Open the leave form", "", "primary")],
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
        return self.drafts.draft(proposal, ctx, message, today, notes)
