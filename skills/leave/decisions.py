"""Deciding a leave request: confirming it, approving or denying it, and discarding, withdrawing or cancelling it."""

from __future__ import annotations

from datetime import date

from bot.messages import Reply
from bot.models import LeaveRequest
from bot.outbox import person_channel
from skills.base import SkillContext, ask_for_text
from skills.leave import action_ids
from skills.leave import requests as leave_requests
from skills.leave.cards import NAME, LeaveCards, approval_key, citations_of
from skills.leave.config import LeavePolicy
from skills.leave.jobs import decision_buttons
from skills.leave.proposals import Assessment, Proposal
from skills.leave.reading import local_today
from skills.leave.requests import fmt_days, fmt_range


class LeaveDecisions:
    """Confirming a draft, the approver's approve and deny, and the employee's discard, withdraw and cancel."""

    name = NAME

    def __init__(self, policy: LeavePolicy, cards: LeaveCards) -> None:
        self.policy = policy
        self.cards = cards

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

    def confirm(self, request: LeaveRequest, ctx: SkillContext) -> Reply:
        if request.employee_id != ctx.employee.id:
            return Reply(text="Only the person who asked can confirm this request.", ephemeral=True)
        if request.status != "draft":
            return Reply(text=f"This request is already {request.status}.", ephemeral=True)
        today = local_today(ctx)
        # Balances and other requests may have changed since the card was shown: check again.
        assessment = self._assess_existing(ctx, request, today)
        if assessment.blocked:
            cited = self.cards.cite_all(ctx, assessment)
            return Reply(
                text="I can't submit this any more: " + " ".join(b.message for b in assessment.breaks if b.blocking),
                citations=citations_of(cited),
                skill=self.name,
            )
        leave_type = self.policy.types[request.leave_type]
        now = ctx.now()
        if not leave_type.requires_approval:
            leave_requests.transition(ctx.session, request, "approved", actor=ctx.employee, now=now, policy=self.policy)
            self.cards.update_card(ctx, request, "Recorded", assessment)
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
        self.cards.update_card(ctx, request, "Submitted — waiting for approval", assessment)
        if approver is None:
            ctx.notify(
                channel=ctx.settings.hr_destination,
                text=f"Leave request #{request.id} from {ctx.employee.name} has no approver in the directory.",
                buttons=decision_buttons(request),
            )
            return Reply(
                text="Submitted. I couldn't find your approver, so People Ops will pick it up.", skill=self.name
            )
        self.cards.send_for_approval(ctx, request, approver, assessment)
        return Reply(
            text=f"Submitted to {approver.name} for approval. I'll tell you here when they decide.", skill=self.name
        )

    def _tell_employee(self, ctx: SkillContext, request: LeaveRequest, text: str) -> None:
        ctx.notify(channel=request.channel, thread_ts=request.thread_ts, text=text)

    def approve(self, request: LeaveRequest, ctx: SkillContext) -> Reply:
        leave_requests.transition(
            ctx.session, request, "approved", actor=ctx.employee, now=ctx.now(), policy=self.policy
        )
        label = self.policy.types[request.leave_type].label.lower()
        when = fmt_range(request.start_date, request.end_date, request.start_half, request.end_half)
        self._tell_employee(ctx, request, f"✅ {ctx.employee.name} approved your {label}: {when}.")
        self.cards.update_card(ctx, request, f"Approved by {ctx.employee.name}")
        self._close_approval_cards(ctx, request, f"✅ Approved by {ctx.employee.name}")
        return Reply(text=f"Approved. {request.employee.name} has been told.", skill=self.name)

    def _close_approval_cards(self, ctx: SkillContext, request: LeaveRequest, outcome: str) -> None:
        approver = request.approver
        if approver is not None:
            ctx.notify(
                channel=person_channel(approver, request.platform),
                text=self.cards.approval_text(ctx, request, None, outcome),
                update_key=approval_key(request),
            )
        if request.escalated_at is not None:
            ctx.notify(
                channel=ctx.settings.hr_destination,
                text=self.cards.approval_text(ctx, request, None, outcome),
                update_key=f"leave:{request.id}:hr",
            )

    def deny_form(self, request: LeaveRequest, ctx: SkillContext) -> Reply:
        # The same check as the denial itself, so only the approver (or People Ops) gets the form.
        leave_requests.check_move(request, "denied", actor=ctx.employee, policy=self.policy)
        return ask_for_text(
            callback_id=action_ids.DENY_SUBMIT,
            title="Deny leave",
            field="reason",
            label="Why? (the employee sees this)",
            target_id=request.id,
            submit_label="Deny",
        )

    def deny(self, request: LeaveRequest, reason: str, ctx: SkillContext) -> Reply:
        if not reason:
            return Reply(text="Please give a reason when denying leave.", ephemeral=True)
        leave_requests.transition(
            ctx.session, request, "denied", actor=ctx.employee, now=ctx.now(), note=reason, policy=self.policy
        )
        label = self.policy.types[request.leave_type].label.lower()
        when = fmt_range(request.start_date, request.end_date, request.start_half, request.end_half)
        self._tell_employee(ctx, request, f"❌ {ctx.employee.name} denied your {label} ({when}): {reason}")
        self.cards.update_card(ctx, request, f"Denied by {ctx.employee.name}")
        self._close_approval_cards(ctx, request, f"❌ Denied by {ctx.employee.name}: {reason}")
        return Reply(text=f"Denied. {request.employee.name} has been told.", skill=self.name)

    def discard(self, request: LeaveRequest, ctx: SkillContext) -> Reply:
        leave_requests.transition(
            ctx.session, request, "discarded", actor=ctx.employee, now=ctx.now(), policy=self.policy
        )
        self.cards.update_card(ctx, request, "Cancelled before sending")
        return Reply(text="OK, nothing was booked.", skill=self.name)

    def withdraw(self, request: LeaveRequest, ctx: SkillContext) -> Reply:
        leave_requests.transition(
            ctx.session, request, "withdrawn", actor=ctx.employee, now=ctx.now(), policy=self.policy
        )
        self.cards.update_card(ctx, request, "Withdrawn")
        self._close_approval_cards(ctx, request, f"↩️ Withdrawn by {request.employee.name} — nothing to do")
        return Reply(text=f"Withdrawn request #{request.id}. Your approver has been told.", skill=self.name)

    def cancel(self, request: LeaveRequest, ctx: SkillContext) -> Reply:
        if request.status == "pending":
            return self.withdraw(request, ctx)
        leave_requests.transition(
            ctx.session, request, "cancelled", actor=ctx.employee, now=ctx.now(), policy=self.policy
        )
        leave_type = self.policy.types[request.leave_type]
        when = fmt_range(request.start_date, request.end_date, request.start_half, request.end_half)
        self.cards.update_card(ctx, request, "Cancelled")
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
