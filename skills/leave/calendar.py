"""A manager's team leave calendar as an iCalendar (.ics) feed: approved leave as all-day events,
pending requests marked tentative."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Employee, LeaveRequest
from skills.leave.config import LeavePolicy


def team_calendar(session: Session, *, policy: LeavePolicy, manager: Employee, since: date, now: datetime) -> bytes:
    """The leave of `manager`'s direct reports (and the manager's own), from `since` on."""
    team = select(Employee.id).where((Employee.manager_id == manager.id) | (Employee.id == manager.id))
    calendar = Calendar()
    calendar.add("prodid", "-//Back Office Assistant//team leave//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"{manager.name}'s team — leave")
    rows = session.scalars(
        select(LeaveRequest)
        .where(
            LeaveRequest.employee_id.in_(team),
            LeaveRequest.status.in_(("pending", "approved")),
            LeaveRequest.end_date >= since,
        )
        .order_by(LeaveRequest.start_date)
    )
    for request in rows:
        label = policy.types[request.leave_type].label if request.leave_type in policy.types else "Leave"
        event = Event()
        # Stable ids: a calendar app updates the event when the request changes instead of duplicating it.
        event.add("uid", f"leave-{request.id}@backoffice-assistant")
        event.add("dtstamp", now)
        event.add(
            "summary", f"{request.employee.name} — {label}" + (" (pending)" if request.status == "pending" else "")
        )
        event.add("dtstart", request.start_date)
        event.add("dtend", request.end_date + timedelta(days=1))  # all-day events end the day after
        event.add("status", "CONFIRMED" if request.status == "approved" else "TENTATIVE")
        event.add("transp", "TRANSPARENT")
        if request.start_half or request.end_half:
            event.add("description", "Includes a half day.")
        calendar.add_component(event)
    return bytes(calendar.to_ical())
