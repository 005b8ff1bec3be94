"""The leave request's cards: what the employee and the approver see, its buttons, and the SOP rules it cites."""

from __future__ import annotations

from collections.abc import Sequence

from bot.messages import Button, Citation, escape_mrkdwn
from bot.models import Employee, LeaveRequest
from bot.outbox import person_channel
from knowledge.answer import best_sentence, citations_for
from skills.base import SkillContext
from skills.leave import action_ids
from skills.leave import requests as leave_requests
from skills.leave.config import LeavePolicy, LeaveType
from skills.leave.jobs import decision_buttons
from skills.leave.proposals import Assessment, RuleBreak
from skills.leave.reading import local_today
from skills.leave.requests import fmt_days, fmt_range
from skills.leave.workdays import working_days

NAME = "leave"  # the skill's name: the prefix of its action ids, and the skill its replies come from
Cited = dict[str, tuple[list[Citation], str]]


def citations_of(cited: Cited) -> list[Citation]:
    """Every citation of the rules cited, once each."""
    found: list[Citation] = []
    for citations, _quote in cited.values():
        found += [c for c in citations if c not in found]
    return found


def summary_lines(request: LeaveRequest, assessment: Assessment | None) -> list[str]:
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


def card_key(request: LeaveRequest) -> str:
    return f"leave:{request.id}:card"


def approval_key(request: LeaveRequest) -> str:
    return f"leave:{request.id}:approval"


class LeaveCards:
    """The employee's and the approver's cards of a leave request: their text, buttons and cited rules."""

    name = NAME

    def __init__(self, policy: LeavePolicy) -> None:
        self.policy = policy

    def draft_buttons(self, request: LeaveRequest, *, blocked: bool) -> list[Button]:
        buttons = [] if blocked else [Button(action_ids.CONFIRM, "Confirm", str(request.id), "primary")]
        return buttons + [
            Button(action_ids.EDIT, "Edit", str(request.id)),
            Button(action_ids.DISCARD, "Cancel", str(request.id), "danger"),
        ]

    def card_text(
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
        lines = [f"*{heading}* — {leave_type.label} (request #{request.id})", *summary_lines(request, assessment)]
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

    def cite_all(self, ctx: SkillContext, assessment: Assessment) -> Cited:
        return {rule.rule: self.cite(ctx, assessment.leave_type, rule) for rule in assessment.breaks}

    def approval_text(
        self, ctx: SkillContext, request: LeaveRequest, assessment: Assessment | None, heading: str
    ) -> str:
        """The approver's card: the request, the rules it breaks, and who else on the team is away."""
        leave_type = self.policy.types[request.leave_type]
        employee = request.employee
        lines = [
            f"*{heading}* — {employee.name}: {leave_type.label} (request #{request.id})",
            *summary_lines(request, assessment),
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

    def update_card(
        self, ctx: SkillContext, request: LeaveRequest, heading: str, assessment: Assessment | None = None
    ) -> None:
        """Rewrite the employee's card in place with the request's current state and buttons."""
        buttons: list[Button] = []
        if request.status == "draft":
            buttons = self.draft_buttons(request, blocked=assessment is not None and assessment.blocked)
        elif request.status == "pending":
            buttons = [
                Button(action_ids.EDIT, "Edit", str(request.id)),
                Button(action_ids.WITHDRAW, "Withdraw", str(request.id), "danger"),
            ]
        elif request.status == "approved" and request.end_date >= local_today(ctx):
            buttons = [Button(action_ids.CANCEL, "Cancel this leave", str(request.id), "danger")]
        ctx.notify(
            channel=request.channel,
            thread_ts=request.thread_ts,
            text=self.card_text(request, assessment, request.approver, request.approver_note, heading=heading),
            update_key=card_key(request),
            buttons=buttons,
        )
