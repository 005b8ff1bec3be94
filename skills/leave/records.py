"""The leave skill's answers from the database: request status, balances, and the leave that can be cancelled."""

from __future__ import annotations

import re
from datetime import date

from bot.date_words import MONTH_NUMBERS, MONTHS, fmt_day
from bot.messages import Button, Reply
from bot.models import LeaveRequest
from skills.base import SkillContext
from skills.leave import action_ids, ledger
from skills.leave import requests as leave_requests
from skills.leave.cards import NAME
from skills.leave.config import LeavePolicy
from skills.leave.reading import local_today, parse_request
from skills.leave.requests import fmt_days, fmt_range

# A word that starts with a month's first three letters: "dec", "december", "decembers".
_MONTH = re.compile(r"\b(" + "|".join(m[:3] + r"[a-z]*" for m in MONTHS) + r")\b", re.IGNORECASE)


class LeaveRecords:
    """Answers from the database: the employee's requests, their balances, and which leave they can cancel."""

    name = NAME

    def __init__(self, policy: LeavePolicy) -> None:
        self.policy = policy

    def status(self, text: str, ctx: SkillContext) -> Reply:
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
            since = f" since {fmt_day(request.submitted_at.date())}" if request.submitted_at else ""
            text += f" — waiting for {waiting}{since}"
        elif request.status in ("approved", "denied") and request.approver is not None and request.decided_at:
            text += f" on {fmt_day(request.decided_at.date())}"
        if request.status == "denied" and request.decision_note:
            text += f" — “{request.decision_note}”"
        return text

    def balance(self, text: str, ctx: SkillContext) -> Reply:
        today = local_today(ctx)
        parsed = parse_request(self.policy, text, ctx, today)
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
                    f"By {fmt_day(on)} you should have *{fmt_days(projection.days)}* {leave_type.label.lower()} "
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
            text=f"Your balances today ({fmt_day(today)}), approved leave already subtracted:\n" + "\n".join(lines),
            skill=self.name,
        )

    def cancel_options(self, text: str, ctx: SkillContext) -> Reply:
        today = local_today(ctx)
        active = [
            r
            for r in leave_requests.requests_of(ctx.session, ctx.employee, statuses=("pending", "approved"))
            # Approved leave can be cancelled until its first day is over (skills.leave.requests.transition).
            if (r.end_date if r.status == "pending" else r.start_date) >= today
        ]
        month = _month_in(text)
        parsed = parse_request(self.policy, text, ctx, today)
        if parsed.start is not None:
            end = parsed.end or parsed.start
            active = [r for r in active if r.start_date <= end and r.end_date >= parsed.start] or active
        elif month is not None:
            active = [r for r in active if _touches_month(r, month)] or active
        if not active:
            return Reply(text="You have no upcoming leave to cancel.", skill=self.name)
        buttons = [
            Button(
                action_ids.WITHDRAW if r.status == "pending" else action_ids.CANCEL,
                f"Cancel #{r.id} ({r.start_date:%b} {r.start_date.day})",
                str(r.id),
                "danger",
            )
            for r in active[:5]
        ]
        lines = ["Which one should I cancel? Press its button:"] + ["• " + self._status_line(r) for r in active[:5]]
        return Reply(text="\n".join(lines), buttons=buttons, skill=self.name)


def _month_in(text: str) -> int | None:
    found = _MONTH.search(text)
    if not found:
        return None
    word = found.group(1).lower()
    if word in ("may",) and not re.search(r"\bin may\b|\bmay request\b|\bby may\b", text.lower()):
        return None  # "may I ..." is not the month
    return MONTH_NUMBERS.get(word[:3])


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
