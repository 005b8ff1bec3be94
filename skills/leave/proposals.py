"""A proposed leave request and what checking it against the rules found: the rules it breaks, the days it costs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from bot.models import LeaveRequest
from skills.leave.config import LeaveType
from skills.leave.workdays import WorkingDays


@dataclass(frozen=True)
class Proposal:
    """What the employee asked for, before it is a request."""

    leave_type: str
    start: date
    end: date
    start_half: str | None = None
    end_half: str | None = None
    reason: str | None = None

    @classmethod
    def of(cls, request: LeaveRequest) -> Proposal:
        """What an existing request asks for (to check it again)."""
        return cls(
            leave_type=request.leave_type,
            start=request.start_date,
            end=request.end_date,
            start_half=request.start_half,
            end_half=request.end_half,
            reason=request.reason,
        )


@dataclass(frozen=True)
class RuleBreak:
    """A rule the request breaks; `rule` names the policy passage to cite (LeaveType.policy key)."""

    rule: str
    message: str
    blocking: bool


@dataclass
class Assessment:
    proposal: Proposal
    leave_type: LeaveType
    workdays: WorkingDays
    balance_before: Decimal | None = None
    balance_after: Decimal | None = None
    pending: Decimal = Decimal(0)
    breaks: list[RuleBreak] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return any(b.blocking for b in self.breaks)

    @property
    def days(self) -> Decimal:
        return self.workdays.days
