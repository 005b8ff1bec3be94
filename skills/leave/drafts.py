"""Drafting and changing a leave request: the card of a new request, the leave form, edits and corrections."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from bot.messages import Button, Message, Modal, ModalField, Reply
from bot.models import Employee, LeaveRequest
from skills.base import NotACorrection, SkillContext, date_order, row_id
from skills.leave import action_ids
from skills.leave import requests as leave_requests
from skills.leave.cards import NAME, LeaveCards, card_key, citations_of
from skills.leave.config import LeavePolicy
from skills.leave.dates import days_named
from skills.leave.proposals import Proposal
from skills.leave.reading import local_today, parse_request
from skills.leave.requests import fmt_date, fmt_days, fmt_range

HALF_OPTIONS = (
    ("full", "Full days"),
    ("am", "One day, morning only"),
    ("pm", "One day, afternoon only"),
    ("start_pm", "First day: afternoon only"),
    ("end_am", "Last day: morning only"),
)


class LeaveDrafts:
    """New and changed requests: the draft and its card, the leave form, edits and typed corrections."""

    name = NAME

    def __init__(self, policy: LeavePolicy, cards: LeaveCards) -> None:
        self.policy = policy
        self.cards = cards

    def draft(
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
        cited = self.cards.cite_all(ctx, assessment)
        text = self.cards.card_text(
            request, assessment, approver, why, notes, cited, heading="Please check your request"
        )
        return Reply(
            text=text,
            citations=citations_of(cited),
            buttons=self.cards.draft_buttons(request, blocked=assessment.blocked),
            skill=self.name,
            update_key=card_key(request),
        )

    def _approver(self, ctx: SkillContext, request: LeaveRequest, today: date) -> tuple[Employee | None, str | None]:
        if not self.policy.types[request.leave_type].requires_approval:
            return None, None
        return leave_requests.choose_approver(ctx.session, ctx.employee, today)

    def form(self, ctx: SkillContext, request: LeaveRequest | None, *, trigger: bool) -> Reply:
        if not trigger:
            return Reply(
                text="Press the button to open the leave form, or just tell me, e.g. “vacation Dec 22 to Jan 2”.",
                buttons=[Button(action_ids.OPEN_FORM, "Open the leave form", "", "primary")],
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
                callback_id=action_ids.FORM,
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

    def edit_form(self, request: LeaveRequest, ctx: SkillContext) -> Reply:
        leave_requests.check_editor(request, ctx.employee)
        return self.form(ctx, request, trigger=True)

    def form_submitted(self, message: Message, ctx: SkillContext) -> Reply:
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
            return self.draft(proposal, ctx, message, today)
        request = ctx.session.get(LeaveRequest, request_id)
        if request is None:
            return Reply(text="I couldn't find that leave request any more.", ephemeral=True)
        return self.edit(request, proposal, ctx, today)

    def edit(self, request: LeaveRequest, proposal: Proposal, ctx: SkillContext, today: date) -> Reply:
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
            cited = self.cards.cite_all(ctx, assessment)
            return Reply(
                text="I can't change it to that: "
                + " ".join(b.message for b in assessment.breaks if b.blocking)
                + " Nothing was changed.",
                citations=citations_of(cited),
                skill=self.name,
            )
        leave_requests.apply_edit(ctx.session, request, assessment, actor=ctx.employee)
        if request.status == "pending":
            self.cards.update_card(ctx, request, "Edited — waiting for approval", assessment)
            if request.approver is not None:
                self.cards.send_for_approval(
                    ctx, request, request.approver, assessment, heading="Leave request to approve (edited)"
                )
            return Reply(text=f"Updated request #{request.id}; your approver sees the new dates.", skill=self.name)
        self.cards.update_card(ctx, request, "Please check your request", assessment)
        return Reply(text=f"Updated request #{request.id} — check the card and press Confirm.", skill=self.name)

    def correct(self, request: LeaveRequest, message: Message, ctx: SkillContext) -> Reply:
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
        parsed = parse_request(self.policy, text, ctx, today)
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
        reply = self.edit(request, proposal, ctx, today)
        if (request.start_date, request.end_date, request.leave_type) != (start, end, leave_type):
            return reply  # refused (a rule it breaks, a date it can't have): the reply says why
        when = fmt_range(request.start_date, request.end_date, request.start_half, request.end_half)
        label = self.policy.types[request.leave_type].label
        return Reply(
            text=(
                f"Changed request #{request.id}: {label}, {when} — {fmt_days(request.days)} working "
                f"day{'' if request.days == 1 else 's'}. Press Confirm when it looks right."
            ),
            buttons=self.cards.draft_buttons(request, blocked=False),
            skill=self.name,
        )


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
