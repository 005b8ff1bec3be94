"""The access matrix: every button and form each skill handles, pressed by every role, through the real app.

One directory with a person per role (employee A and B in different teams, A's manager, a manager who is
not A's, HR, IT, finance, admin). Each row makes a fresh item owned by A (or by the person a "nobody approves
their own" row is about), sends one action as that actor — signed Slack `block_actions`/`view_submission`
over real HTTP, and again through the web chat's POST /api/action — and checks the outcome against ALLOWED:
an allowed actor changes the row and leaves an audit row in their name (or gets the form); anyone else gets a
clear refusal, and nothing changes: no row, no audit entry, no form. Then free-text status questions, forged
ids, the REST APIs per token and the calendar feed. SQLite runs every row; PostgreSQL the approval rows."""

from __future__ import annotations

import itertools
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from bot import escalations
from bot.directory import get_by_slack_id, import_csv
from bot.models import (
    ApiToken,
    AuditEntry,
    Base,
    ChatMessage,
    Conversation,
    Employee,
    Escalation,
    Expense,
    Faq,
    Feedback,
    LeaveRequest,
    OutboxItem,
)
from bot.runtime import Runtime, build_runtime
from bot.tokens import create_token, revoke
from skills.expenses import service as expenses
from skills.expenses.service import Draft
from skills.it import service as tickets
from skills.it.models import Incident, Ticket
from skills.leave import requests as leave_requests
from skills.leave.home import calendar_token
from skills.leave.proposals import Proposal
from skills.leave.workdays import working_days
from tests.conftest import PG_ADMIN_URL, LiveServer, _pg_available, make_settings
from tests.slack_payloads import block_actions, message_event, post_event, post_interaction, view_submission
from tests.slack_standin import SlackStandIn

NOW = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # a Monday
SPENT_ON = date(2026, 11, 20)
IT_CHANNEL, FINANCE_CHANNEL, HR_CHANNEL = "C0MXITQUE1", "C0MXFINQU1", "C0HRQUEUE1"

PEOPLE = {
    "A": "U0MXEMPA01",  # employee, reports to MGR
    "B": "U0MXEMPB01",  # employee in another team (reports to MGR2)
    "MGR": "U0MXMGRA01",  # A's manager
    "MGR2": "U0MXMGRB01",  # a manager, but not A's
    "HR": "U0MXHR0001",
    "IT": "U0MXIT0001",
    "FIN": "U0MXFIN001",
    "ADMIN": "U0MXADMIN1",  # everyone's top manager; the admin role includes every other role
}
DIRECTORY = """slack_id,name,email,tz,country,manager_slack_id,roles,hired_on
U0MXADMIN1,Ada Admin,ada@matrix.example,UTC,US,,admin,2020-01-06
U0MXMGRA01,Max Manager,max@matrix.example,UTC,US,U0MXADMIN1,manager,2020-01-06
U0MXMGRB01,Olga Othermanager,olga@matrix.example,UTC,US,U0MXADMIN1,manager,2020-01-06
U0MXEMPA01,Alice Employee,alice@matrix.example,UTC,US,U0MXMGRA01,employee,2020-01-06
U0MXEMPB01,Bob Employee,bob@matrix.example,UTC,US,U0MXMGRB01,employee,2020-01-06
U0MXHR0001,Hana Hr,hana@matrix.example,UTC,US,U0MXADMIN1,hr,2020-01-06
U0MXIT0001,Ivan It,ivan@matrix.example,UTC,US,U0MXADMIN1,it,2020-01-06
U0MXFIN001,Fay Finance,fay@matrix.example,UTC,US,U0MXADMIN1,finance,2020-01-06
"""
ACTORS = tuple(PEOPLE)
EVERYONE = frozenset(ACTORS)
# A refusal says who may act, or that nobody may do this to their own item.
REFUSAL = re.compile(r"\b(only|nobody|waits for finance)\b", re.IGNORECASE)
# Modal callback ids: these come back as view_submission on Slack.
SUBMISSIONS = {
    "leave:form",
    "leave:deny_submit",
    "expense:edit_submit",
    "expense:reject_submit",
    "it:resolve_submit",
    "it:edit_submit",
    "it:incident_resolve_submit",
    "policy:answer_submit",
}
ENTITY = {
    LeaveRequest: "leave_request",
    Ticket: "ticket",
    Expense: "expense",
    Escalation: "escalation",
    Faq: "faq",
    Incident: "incident",
}


# ------------------------------------------------------------------ the environment (one per database)


@dataclass
class Env:
    rt: Runtime
    slack: SlackStandIn
    url: str
    http: httpx.Client
    days: Iterator[date] = field(default_factory=lambda: _leave_days(date(2027, 1, 4)))
    serial: Iterator[int] = field(default_factory=itertools.count)
    tokens: dict[str, str] = field(default_factory=dict)  # API tokens by person, made on first use

    def session(self) -> Any:
        return self.rt.database.session_scope()

    def employee_id(self, key: str) -> int:
        with self.session() as s:
            found = get_by_slack_id(s, PEOPLE[key])
            assert found is not None
            return found.id

    def next(self) -> int:
        return next(self.serial)


def _leave_days(start: date) -> Iterator[date]:
    """Working days one after the other, so no two of A's requests overlap."""
    day = start
    while True:
        if working_days(day, day, country="US").days > 0:
            yield day
        day += timedelta(days=1)


def by_key(session: Session, key: str) -> Employee:
    found = get_by_slack_id(session, PEOPLE[key])
    assert found is not None
    return found


def dm(key: str) -> str:
    return "D" + PEOPLE[key][1:]


@contextmanager
def environment(tmp: Path, database_url: str) -> Iterator[Env]:
    slack = SlackStandIn().start()
    settings = make_settings(
        tmp, database_url, slack, BACKOFFICE_IT_CHANNEL=IT_CHANNEL, BACKOFFICE_FINANCE_CHANNEL=FINANCE_CHANNEL
    )
    rt = build_runtime(settings)
    rt.assistant.clock = lambda: NOW
    with rt.database.session_scope() as session:
        report = import_csv(session, DIRECTORY)
        assert not report.errors, report.errors
    try:
        with LiveServer(rt) as live, httpx.Client(timeout=30) as http:
            yield Env(rt=rt, slack=slack, url=live.url, http=http)
    finally:
        rt.close()
        slack.stop()


@contextmanager
def postgres_database() -> Iterator[str]:
    if not _pg_available():
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}; start it (see .ci/run)")
    name = f"bo_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        yield f"postgresql+psycopg://{base.split('://', 1)[1]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("matrix-sqlite")
    with environment(tmp, f"sqlite:///{tmp / 'matrix.db'}") as e:
        yield e


@pytest.fixture(scope="module")
def pg_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with postgres_database() as url, environment(tmp_path_factory.mktemp("matrix-pg"), url) as e:
        yield e


# ------------------------------------------------------------------ items (made with the real service functions)


@dataclass(frozen=True)
class Item:
    model: type[Base]
    id: int
    value: str  # what the button or form carries


def make_leave(e: Env, owner: str = "A", state: str = "pending") -> Item:
    """A parental-leave request (needs approval, no balance to run out over hundreds of rows)."""
    day = next(e.days)
    with e.session() as s:
        employee = by_key(s, owner)
        proposal = Proposal(leave_type="parental", start=day, end=day)
        policy = e.rt.leave_policy
        assessment = leave_requests.assess(s, policy=policy, employee=employee, proposal=proposal, today=NOW.date())
        request = leave_requests.create_draft(
            s,
            employee=employee,
            assessment=assessment,
            platform="slack",
            channel=dm(owner),
            thread_ts=None,
            conversation_id=None,
        )
        if state in ("pending", "approved"):
            approver, why = leave_requests.choose_approver(s, employee, NOW.date())
            assert approver is not None
            leave_requests.transition(s, request, "pending", actor=employee, now=NOW, policy=policy)
            leave_requests.assign_approver(s, request, approver, why)
            if state == "approved":
                leave_requests.transition(s, request, "approved", actor=approver, now=NOW, policy=policy)
        return Item(LeaveRequest, request.id, str(request.id))


def make_claim(e: Env, owner: str = "A", state: str = "submitted", amount: str = "20.00") -> Item:
    with e.session() as s:
        employee = by_key(s, owner)
        policy = e.rt.expense_policy
        draft = Draft(
            amount=Decimal(amount),
            currency="USD",
            spent_on=SPENT_ON,
            category="meals",
            merchant=f"Quokka Cafe ({owner})",
            description="Lunch with a customer",
        )
        expense = expenses.create_draft(
            s,
            policy=policy,
            employee=employee,
            draft=draft,
            flags=[],
            platform="slack",
            channel=dm(owner),
            thread_ts=None,
            conversation_id=None,
        )
        if state != "draft":
            approver, _why = expenses.claim_approver(s, employee, NOW.date())
            expenses.transition(s, expense, "submitted", actor=employee, now=NOW, policy=policy)
            expense.approver_id = approver.id if approver else None
            s.flush()
            if state in ("manager_approved", "approved"):
                assert approver is not None
                expenses.approve(s, expense, actor=approver, now=NOW, policy=policy)
                assert expense.status == state, expense.status
        return Item(Expense, expense.id, str(expense.id))


def make_ticket(e: Env, state: str = "new", incident: bool = False, requester: str = "A") -> Item:
    with e.session() as s:
        ivan = by_key(s, "IT")
        ticket = tickets.create_ticket(
            s,
            requester=by_key(s, requester),
            title="Laptop fan grinding",
            description="The fan of my laptop grinds loudly all day",
            category="software",
            priority="P3",
            security=False,
            platform="slack",
            channel=dm(requester),
            thread_ts=None,
            conversation_id=None,
            now=NOW,
        )
        if state in ("waiting", "resolved"):
            tickets.assign(s, ticket, ivan, actor=ivan, now=NOW)
        if state == "waiting":
            tickets.transition(s, ticket, "waiting", actor=ivan, now=NOW)
        if state == "resolved":
            tickets.transition(s, ticket, "resolved", actor=ivan, now=NOW, note="Replaced the fan")
        if incident:
            outage = Incident(title="Wi-Fi down on floor 2", category="network", status="open")
            s.add(outage)
            s.flush()
            ticket.incident_id = outage.id
            return Item(Incident, outage.id, str(outage.id))
        return Item(Ticket, ticket.id, str(ticket.id))


def make_escalation(e: Env, faq: bool = False) -> Item:
    with e.session() as s:
        escalation = escalations.create_escalation(
            s, employee=by_key(s, "A"), conversation=None, question=f"Can I work from Lisbon? ({e.next()})", sources=[]
        )
        if not faq:
            return Item(Escalation, escalation.id, str(escalation.id))
        hana = by_key(s, "HR")
        escalations.transition(s, escalation, "answered", actor=hana, answer="Up to four weeks a year.")
        draft = escalations.create_draft_faq(s, escalation=escalation, actor=hana)
        return Item(Faq, draft.id, str(draft.id))


def make_question(e: Env) -> Item:
    """Something A asked (its id is what Ask HR and Still stuck? carry); each one new, so none is a repeat."""
    words = " ".join(uuid.uuid4().hex[:8] for _ in range(3))
    with e.session() as s:
        alice = by_key(s, "A")
        conversation = Conversation(platform="slack", channel=dm("A"), thread_ts=f"q{e.next()}", employee_id=alice.id)
        s.add(conversation)
        s.flush()
        asked = ChatMessage(
            conversation_id=conversation.id,
            channel=dm("A"),
            direction="in",
            employee_id=alice.id,
            text=f"printer error {words}",
        )
        s.add(asked)
        s.flush()
        return Item(ChatMessage, asked.id, str(asked.id))


def make_answer(e: Env, channel: str) -> Item:
    """A bot answer to A in `channel` (feedback buttons carry its id)."""
    with e.session() as s:
        conversation = Conversation(
            platform="slack", channel=channel, thread_ts=f"{next(e.serial)}.0001", employee_id=e.employee_id("A")
        )
        s.add(conversation)
        s.flush()
        answer = ChatMessage(
            conversation_id=conversation.id,
            channel=channel,
            direction="out",
            text="Per diem is 60 USD a day.",
            skill="policy",
        )
        s.add(answer)
        s.flush()
        return Item(ChatMessage, answer.id, str(answer.id))


FACTORIES: dict[str, Callable[[Env], Item]] = {
    "none": lambda e: Item(LeaveRequest, 0, ""),
    "new": lambda e: Item(LeaveRequest, 0, "new"),
    "leave_draft": lambda e: make_leave(e, state="draft"),
    "leave_pending": lambda e: make_leave(e),
    "leave_approved": lambda e: make_leave(e, state="approved"),
    "mgr_own_leave": lambda e: make_leave(e, owner="MGR"),
    "hr_own_leave": lambda e: make_leave(e, owner="HR"),
    "admin_own_leave": lambda e: make_leave(e, owner="ADMIN"),
    "question": make_question,
    "ticket_new": lambda e: make_ticket(e),
    "ticket_waiting": lambda e: make_ticket(e, "waiting"),
    "ticket_resolved": lambda e: make_ticket(e, "resolved"),
    "incident": lambda e: make_ticket(e, incident=True),
    "claim_draft": lambda e: make_claim(e, state="draft"),
    "claim_submitted": lambda e: make_claim(e),
    "claim_big_submitted": lambda e: make_claim(e, amount="1500.00"),
    "claim_manager_approved": lambda e: make_claim(e, state="manager_approved", amount="1500.00"),
    "claim_approved": lambda e: make_claim(e, state="approved"),
    "mgr_own_claim": lambda e: make_claim(e, owner="MGR"),
    "hr_own_claim": lambda e: make_claim(e, owner="HR"),
    "fin_own_claim": lambda e: make_claim(e, owner="FIN"),
    "fin_own_claim_approved": lambda e: make_claim(e, owner="FIN", state="approved"),
    "admin_own_claim": lambda e: make_claim(e, owner="ADMIN"),
    "escalation": make_escalation,
    "faq_draft": lambda e: make_escalation(e, faq=True),
    "channel_answer": lambda e: make_answer(e, "C0MXGENRL1"),
    "dm_answer": lambda e: make_answer(e, dm("A")),
}


# ------------------------------------------------------------------ the table: who may do what


@dataclass(frozen=True)
class Case:
    action: str
    item: str
    allowed: frozenset[str]
    outcome: str = "change"  # change | modal:<callback id> | create:<Model> | vote
    form: dict[str, str] = field(default_factory=dict)
    suffix: str = ""  # appended to the item id in the value ("it:priority" carries "42:P1")
    known_hole: frozenset[str] = frozenset()  # actors let through by code outside these files (see reason)

    @property
    def label(self) -> str:
        return f"{self.action}[{self.item}]"


def who(*keys: str) -> frozenset[str]:
    return frozenset(keys)


LEAVE_FORM = {"leave_type": "parental", "half": "full", "reason": ""}
CLAIM_FORM = {"amount": "21.00", "currency": "USD", "spent_on": SPENT_ON.isoformat(), "category": "meals"}
# People Ops (HR) decide leave when the approver can't; finance decides claims the same way. The admin role
# includes every other role (Employee.has_role), so admins may do what HR, IT and finance may do.
PEOPLE_OPS = who("HR", "ADMIN")
IT_STAFF = who("IT", "ADMIN")
FINANCE = who("FIN", "ADMIN")
CASES = (
    # leave
    Case("leave:open_form", "none", EVERYONE, "modal:leave:form"),
    Case("leave:form", "new", EVERYONE, "create:LeaveRequest", LEAVE_FORM),
    Case("leave:confirm", "leave_draft", who("A")),
    Case("leave:edit", "leave_pending", who("A"), "modal:leave:form"),
    Case("leave:form", "leave_pending", who("A"), form=LEAVE_FORM),
    Case("leave:discard", "leave_draft", who("A")),
    Case("leave:withdraw", "leave_pending", who("A")),
    Case("leave:cancel", "leave_approved", who("A") | PEOPLE_OPS),
    Case("leave:approve", "leave_pending", who("MGR") | PEOPLE_OPS),
    Case("leave:deny", "leave_pending", who("MGR") | PEOPLE_OPS, "modal:leave:deny_submit"),
    Case("leave:deny_submit", "leave_pending", who("MGR") | PEOPLE_OPS, form={"reason": "Team offsite that day"}),
    # nobody approves their own: not a draft that needs approval, not as a manager, HR or admin
    Case("leave:approve", "leave_draft", who()),
    Case("leave:approve", "mgr_own_leave", PEOPLE_OPS),
    Case("leave:approve", "hr_own_leave", who("ADMIN")),
    Case("leave:approve", "admin_own_leave", who("HR")),
    # IT tickets: only IT triages; the requester may correct their ticket, reply, confirm, reopen and rate
    Case("it:open_ticket", "question", who("A"), "create:Ticket"),
    Case("it:claim", "ticket_new", IT_STAFF),
    Case("it:assign", "ticket_new", IT_STAFF, form={"selected": PEOPLE["IT"]}),
    Case("it:waiting", "ticket_new", IT_STAFF),
    Case("it:progress", "ticket_waiting", who("A") | IT_STAFF),
    Case("it:priority", "ticket_new", who("A") | IT_STAFF, suffix=":P1"),
    Case("it:resolve", "ticket_new", IT_STAFF, "modal:it:resolve_submit"),
    Case("it:resolve_submit", "ticket_new", IT_STAFF, form={"note": "Reinstalled the driver"}),
    Case("it:edit", "ticket_new", who("A") | IT_STAFF, "modal:it:edit_submit"),
    Case("it:edit_submit", "ticket_new", who("A") | IT_STAFF, form={"category": "hardware", "priority": "P2"}),
    Case("it:confirm", "ticket_resolved", who("A") | IT_STAFF),
    Case("it:reopen", "ticket_resolved", who("A") | IT_STAFF),
    Case("it:rate", "ticket_resolved", who("A"), suffix=":4"),
    Case("it:incident_resolve", "incident", IT_STAFF, "modal:it:incident_resolve_submit"),
    Case("it:incident_resolve_submit", "incident", IT_STAFF, form={"note": "The access point was replaced"}),
    # expenses: the claimant's manager approves, finance above the threshold and reimburses
    Case("expense:confirm", "claim_draft", who("A")),
    Case("expense:edit", "claim_submitted", who("A"), "modal:expense:edit_submit"),
    Case("expense:edit_submit", "claim_submitted", who("A"), form=CLAIM_FORM),
    Case("expense:discard", "claim_draft", who("A")),
    Case("expense:withdraw", "claim_submitted", who("A")),
    Case("expense:approve", "claim_submitted", who("MGR") | FINANCE),
    Case("expense:approve", "claim_big_submitted", who("MGR") | FINANCE),
    Case("expense:approve", "claim_manager_approved", FINANCE),
    Case("expense:reject", "claim_submitted", who("MGR") | FINANCE, "modal:expense:reject_submit"),
    Case("expense:reject_submit", "claim_submitted", who("MGR") | FINANCE, form={"reason": "Personal expense"}),
    Case("expense:reject_submit", "claim_manager_approved", FINANCE, form={"reason": "Over budget"}),
    Case("expense:reimbursed", "claim_approved", FINANCE),
    # nobody approves their own claim
    Case("expense:approve", "mgr_own_claim", FINANCE),
    Case("expense:approve", "hr_own_claim", FINANCE),
    Case("expense:approve", "fin_own_claim", who("ADMIN")),
    Case("expense:approve", "admin_own_claim", who("FIN")),
    Case("expense:reimbursed", "fin_own_claim_approved", who("ADMIN")),
    # HR escalations: only HR answers, resolves and publishes; only the asker sends their question to HR
    Case("policy:ask_hr", "question", who("A"), "create:Escalation"),
    Case("policy:answer", "escalation", PEOPLE_OPS, "modal:policy:answer_submit"),
    Case("policy:answer_submit", "escalation", PEOPLE_OPS, form={"answer": "Yes, for up to four weeks."}),
    Case("policy:resolve", "escalation", PEOPLE_OPS),
    Case("policy:publish", "faq_draft", PEOPLE_OPS),
    # feedback: anyone who can see an answer in a channel may vote on it; a DM answer only its reader
    Case("feedback:up", "channel_answer", EVERYONE, "vote"),
    Case("feedback:down", "dm_answer", who("A"), "vote"),
)
# The approvals, and a form of each skill, run on PostgreSQL too.
PG_CASES = tuple(
    c
    for c in CASES
    if c.label
    in {
        "leave:approve[leave_pending]",
        "leave:approve[admin_own_leave]",
        "leave:deny_submit[leave_pending]",
        "expense:approve[claim_big_submitted]",
        "expense:approve[claim_manager_approved]",
        "expense:reimbursed[claim_approved]",
        "it:claim[ticket_new]",
        "policy:answer_submit[escalation]",
    }
)
FEEDBACK_HOLE = (
    "Votes are stored by bot/assistant.py (not part of this change): it accepts a vote on any answer id, "
    "including another person's DM answer."
)


def rows(cases: tuple[Case, ...]) -> list[Any]:
    params = []
    for case in cases:
        for actor in ACTORS:
            verdict = "allowed" if actor in case.allowed else "refused"
            marks = [pytest.mark.xfail(reason=FEEDBACK_HOLE, strict=True)] if actor in case.known_hole else []
            params.append(pytest.param(case, actor, id=f"{case.label}-{actor}-{verdict}", marks=marks))
    return params


# ------------------------------------------------------------------ sending an action


@dataclass
class Outcome:
    text: str
    ephemeral: bool
    modal: str | None


def send_web(e: Env, actor: str, case: Case, value: str, form: dict[str, str]) -> Outcome:
    body = {"user": PEOPLE[actor], "action_id": case.action, "value": value, "form": form}
    response = e.http.post(f"{e.url}/api/action", json=body)
    assert response.status_code == 200, response.text
    data = response.json()
    modal = data.get("modal")
    return Outcome(text=data["text"], ephemeral=bool(data["ephemeral"]), modal=modal["callback_id"] if modal else None)


def send_slack(e: Env, actor: str, case: Case, value: str, form: dict[str, str], item: Item) -> Outcome:
    """A signed interactivity payload to /slack/events; the listener runs after the ack, so wait for what
    it sends back (each row uses its own channel and trigger id, so replies can't be confused)."""
    user, row = PEOPLE[actor], e.next()
    channel, trigger = f"D0ROW{row:05d}", f"trigger.{row}"
    start = len(e.slack.calls)
    audit_before = max_audit_id(e)
    if case.action in SUBMISSIONS:
        payload = view_submission(user, case.action, value, form)
        channel = user  # a modal has no channel: replies go to the person
    else:
        payload = block_actions(user, case.action, value, channel, message_ts=f"1700000000.{row:06d}")
        payload["trigger_id"] = trigger
        if case.action == "it:assign":  # a user select: the ticket id travels in the action_id
            payload["actions"][0] = {
                "action_id": f"it:assign|{value}",
                "block_id": "b1",
                "type": "users_select",
                "selected_user": form["selected"],
                "action_ts": "1700000000.1",
            }
    assert post_interaction(e.http, e.url, payload).status_code == 200
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for call in e.slack.calls[start:]:
            if call.method == "views.open" and call.params.get("trigger_id") == trigger:
                return Outcome(text="", ephemeral=False, modal=call.params["view"]["callback_id"])
            if call.params.get("channel") != channel:
                continue
            if call.method == "chat.postEphemeral" and call.params.get("user") == user:
                return Outcome(text=call.params["text"], ephemeral=True, modal=None)
            if call.method == "chat.postMessage" and case.action not in SUBMISSIONS:
                return Outcome(text=call.params["text"], ephemeral=False, modal=None)
        if case.action in SUBMISSIONS and (max_audit_id(e) > audit_before or created_since(e, case, actor, item)):
            # A form's public reply goes to the person's DM like other messages to them: wait until
            # everything this submission sent has gone out.
            settle(e)
            return Outcome(text="", ephemeral=False, modal=None)
        time.sleep(0.01)
    sent = [(c.method, c.params) for c in e.slack.calls[start:]]
    raise AssertionError(f"no reply to {case.label} by {actor}: {sent}")


def settle(e: Env) -> None:
    quiet_since, seen = time.monotonic(), len(e.slack.calls)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with e.session() as s:
            waiting = s.scalar(
                select(func.count()).select_from(OutboxItem).where(OutboxItem.status.in_(("pending", "running")))
            )
        if len(e.slack.calls) != seen:
            quiet_since, seen = time.monotonic(), len(e.slack.calls)
        elif not waiting and time.monotonic() - quiet_since > 0.15:
            return
        time.sleep(0.02)


# ------------------------------------------------------------------ reading the database


def max_audit_id(e: Env) -> int:
    with e.session() as s:
        return int(s.scalar(select(func.max(AuditEntry.id))) or 0)


def audit_since(e: Env, after: int) -> list[AuditEntry]:
    with e.session() as s:
        found = list(s.scalars(select(AuditEntry).where(AuditEntry.id > after).order_by(AuditEntry.id)))
        s.expunge_all()
        return found


def snapshot(e: Env, item: Item) -> dict[str, Any]:
    if not item.id:
        return {}
    with e.session() as s:
        row = s.get(item.model, item.id)
        assert row is not None
        return {c.key: getattr(row, c.key) for c in inspect(item.model).column_attrs}


CREATED: dict[str, tuple[type, Any]] = {
    "LeaveRequest": (LeaveRequest, LeaveRequest.employee_id),
    "Ticket": (Ticket, Ticket.requester_id),
    "Escalation": (Escalation, Escalation.employee_id),
}


def owned_count(e: Env, case: Case, actor: str, item: Item) -> int:
    with e.session() as s:
        actor_id = by_key(s, actor).id
        if case.outcome == "vote":
            where = (Feedback.message_id == item.id, Feedback.employee_id == actor_id)
            return int(s.scalar(select(func.count()).select_from(Feedback).where(*where)) or 0)
        if case.outcome.startswith("create:"):
            model, owner = CREATED[case.outcome.split(":", 1)[1]]
            return int(s.scalar(select(func.count()).select_from(model).where(owner == actor_id)) or 0)
    return 0


_counts: dict[tuple[str, str, int], int] = {}


def created_since(e: Env, case: Case, actor: str, item: Item) -> bool:
    key = (case.label, actor, item.id)
    return key in _counts and owned_count(e, case, actor, item) > _counts[key]


# ------------------------------------------------------------------ the matrix


def run_row(e: Env, case: Case, actor: str, transport: str) -> None:
    item = FACTORIES[case.item](e)
    value = item.value + case.suffix
    form = dict(case.form)
    if case.action == "leave:form":  # new dates each time, so no two of A's requests overlap
        day = next(e.days).isoformat()
        form.update(start=day, end=day)
    before, audit_before = snapshot(e, item), max_audit_id(e)
    key = (case.label, actor, item.id)
    _counts[key] = owned_count(e, case, actor, item)
    opened_before = len(e.slack.calls_to("views.open"))
    if transport == "web":
        outcome = send_web(e, actor, case, value, form)
    else:
        outcome = send_slack(e, actor, case, value, form, item)
    after, new_audit = snapshot(e, item), audit_since(e, audit_before)
    actor_id = e.employee_id(actor)
    said = f"{case.label} by {actor} over {transport}: {outcome}"

    if actor not in case.allowed:
        assert outcome.modal is None, said
        assert outcome.ephemeral and REFUSAL.search(outcome.text), f"no clear refusal: {said}"
        assert after == before, f"row changed: {said}"
        assert new_audit == [], f"audit rows written: {said} {[(a.entity, a.action) for a in new_audit]}"
        assert owned_count(e, case, actor, item) == _counts[key], f"something was created: {said}"
        if transport == "slack":
            assert len(e.slack.calls_to("views.open")) == opened_before, said
        return

    if case.outcome.startswith("modal:"):
        assert outcome.modal == case.outcome.split(":", 1)[1], said
        assert after == before and new_audit == [], said
        return
    assert not (outcome.ephemeral and REFUSAL.search(outcome.text)), f"refused: {said}"
    if case.outcome == "vote":
        assert owned_count(e, case, actor, item) == _counts[key] + 1, said
        return
    assert new_audit, f"no audit row: {said}"
    assert {a.actor_id for a in new_audit} == {actor_id}, f"audit rows by someone else: {said}"
    if case.outcome.startswith("create:"):
        assert owned_count(e, case, actor, item) == _counts[key] + 1, said
        return
    assert after != before, f"nothing changed: {said}"
    assert any(a.entity == ENTITY[item.model] and a.entity_id == item.id for a in new_audit), said


@pytest.mark.parametrize(("case", "actor"), rows(CASES))
def test_slack_action(env: Env, case: Case, actor: str) -> None:
    run_row(env, case, actor, "slack")


@pytest.mark.parametrize(("case", "actor"), rows(CASES))
def test_web_action(env: Env, case: Case, actor: str) -> None:
    run_row(env, case, actor, "web")


@pytest.mark.parametrize(("case", "actor"), rows(PG_CASES))
def test_postgresql_slack_action(pg_env: Env, case: Case, actor: str) -> None:
    run_row(pg_env, case, actor, "slack")


# ------------------------------------------------------------------ status questions in free text


# What is asked, the kind of item and its owner column.
StatusQuestion = tuple[str, type[LeaveRequest] | type[Ticket] | type[Expense], InstrumentedAttribute[int]]
STATUS_QUESTIONS: dict[str, StatusQuestion] = {
    "leave": ("is my leave approved?", LeaveRequest, LeaveRequest.employee_id),
    "tickets": ("any update on my tickets?", Ticket, Ticket.requester_id),
    "claims": ("did my expense claims get approved?", Expense, Expense.employee_id),
}


def ask_in_dm(e: Env, actor: str, text: str) -> str:
    """`actor` writes to the bot in a DM of their own; the reply there."""
    channel = f"D0ST{e.next():06d}"
    start = len(e.slack.calls)
    assert post_event(e.http, e.url, message_event(PEOPLE[actor], text, channel, "im")).status_code == 200
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for call in e.slack.calls[start:]:
            if call.method in ("chat.postMessage", "chat.postEphemeral") and call.params.get("channel") == channel:
                return str(call.params["text"])
        time.sleep(0.01)
    raise AssertionError(f"no reply to {text!r} from {actor}")


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("kind", STATUS_QUESTIONS)
def test_status_questions_show_only_the_askers_items(env: Env, kind: str, actor: str) -> None:
    make_leave(env)
    make_leave(env, owner="MGR")
    make_ticket(env)
    make_ticket(env, requester="B")
    make_claim(env)
    make_claim(env, owner="MGR")
    text, model, owner_column = STATUS_QUESTIONS[kind]
    reply = ask_in_dm(env, actor, text)
    shown = {int(n) for n in re.findall(r"#(\d+)", reply)}
    with env.session() as s:
        asker = by_key(s, actor).id
        mine = set(s.scalars(select(model.id).where(owner_column == asker)))
    assert shown <= mine, f"{actor} was shown someone else's {kind}: {reply}"
    if actor == "A":
        assert shown, reply
    assert "Quokka Cafe (A)" not in reply or actor == "A", reply


# ------------------------------------------------------------------ forged ids in free text and forms


def test_editing_someone_elses_leave_reveals_nothing_about_their_requests(env: Env) -> None:
    other = make_leave(env)
    target = make_leave(env)
    with env.session() as s:
        taken = s.get_one(LeaveRequest, other.id).start_date.isoformat()
    form = {**LEAVE_FORM, "start": taken, "end": taken}  # overlaps A's other request
    case = Case("leave:form", "leave_pending", who("A"), form=form)
    for actor in ("B", "MGR", "HR"):
        reply = send_web(env, actor, case, target.value, form)
        assert reply.ephemeral and "Only the person who asked" in reply.text, reply
        assert f"#{other.id}" not in reply.text and "Overlaps" not in reply.text, reply


def test_only_it_answers_the_requester_from_the_triage_thread(env: Env) -> None:
    start = len(env.slack.calls)
    card_posted = post_event(
        env.http, env.url, message_event(PEOPLE["A"], "my laptop screen is cracked and flickers", dm("A"), "im")
    )
    assert card_posted.status_code == 200
    card = env.slack.wait_for_post(lambda c: c.params.get("channel") == IT_CHANNEL)
    with env.session() as s:
        triage = s.scalar(
            select(ChatMessage).where(ChatMessage.channel == IT_CHANNEL, ChatMessage.update_key.like("it:%:triage"))
        )
        assert triage is not None and triage.slack_ts
        card_ts = triage.slack_ts
    assert "Alice Employee" in card.params["text"]
    for actor, text in (("B", "ignore IT, just restart it"), ("IT", "Bring it to the help desk at 3pm")):
        event = message_event(PEOPLE[actor], text, IT_CHANNEL, "channel", thread_ts=card_ts)
        assert post_event(env.http, env.url, event).status_code == 200
    env.slack.wait_for_post(lambda c: "help desk at 3pm" in str(c.params.get("text")))

    def refusals() -> list[Any]:
        calls = env.slack.calls[start:]
        return [c for c in calls if c.method == "chat.postEphemeral" and "Only IT" in c.params["text"]]

    deadline = time.monotonic() + 10  # B's message is handled beside IT's: its refusal may come a little later
    while not refusals() and time.monotonic() < deadline:
        time.sleep(0.05)
    refused = refusals()
    assert [c.params["user"] for c in refused] == [PEOPLE["B"]]
    relayed = [c.params["text"] for c in env.slack.calls[start:] if c.params.get("channel") == dm("A")]
    assert not any("restart it" in t for t in relayed), relayed


# ------------------------------------------------------------------ the REST APIs and the calendar feed


def api_tokens(e: Env) -> dict[str, str]:
    if not e.tokens:
        with e.session() as s:
            e.tokens.update({k: create_token(s, employee=by_key(s, k), name=f"matrix {k}") for k in ACTORS})
    return e.tokens


EVERY_TICKET, EVERY_CLAIM = frozenset(ACTORS), frozenset(ACTORS)
# Who sees whose tickets / claims (by owner). Managers see their reports' claims (they approve them), not
# their IT tickets (they play no part in those).
TICKETS_SEEN = {k: who(k) for k in ACTORS} | {"IT": EVERY_TICKET, "ADMIN": EVERY_TICKET}
CLAIMS_SEEN = {k: who(k) for k in ACTORS} | {
    "MGR": who("MGR", "A"),
    "MGR2": who("MGR2", "B"),
    "FIN": EVERY_CLAIM,
    "ADMIN": EVERY_CLAIM,
}


def one_of_each(e: Env) -> None:
    """A ticket and a claim for every person, so each row of the table shows up (or must not)."""
    for key in ACTORS:
        make_ticket(e, requester=key)
        make_claim(e, owner=key, state="draft" if key == "B" else "submitted")


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize(
    ("path", "field", "seen"), [("tickets", "requester", TICKETS_SEEN), ("expenses", "employee_slack_id", CLAIMS_SEEN)]
)
def test_rest_api_shows_each_role_what_it_may_see(
    env: Env, path: str, field: str, seen: dict[str, frozenset[str]], actor: str
) -> None:
    one_of_each(env)
    token = api_tokens(env)[actor]
    headers = {"Authorization": f"Bearer {token}"}
    response = env.http.get(f"{env.url}/api/{path}", params={"limit": 5000}, headers=headers)
    assert response.status_code == 200
    owners = {row[field] for row in response.json()[path]}
    assert owners == {PEOPLE[k] for k in seen[actor]}, (actor, owners)


@pytest.mark.parametrize("path", ["tickets", "expenses"])
@pytest.mark.parametrize("credential", ["none", "not bearer", "unknown", "revoked", "malformed"])
def test_rest_api_refuses_without_a_valid_token(env: Env, path: str, credential: str) -> None:
    with env.session() as s:
        alice = by_key(s, "A")
        revoked = create_token(s, employee=alice, name="revoked")
        token_id = max(t.id for t in s.scalars(select(ApiToken)))
        assert revoke(s, token_id, now=NOW)
    headers = {
        "none": {},
        "not bearer": {"Authorization": f"Basic {api_tokens(env)['FIN']}"},
        "unknown": {"Authorization": "Bearer bo_" + uuid.uuid4().hex},
        "revoked": {"Authorization": f"Bearer {revoked}"},
        "malformed": {"Authorization": "Bearer"},
    }[credential]
    response = env.http.get(f"{env.url}/api/{path}", headers=headers)
    assert response.status_code == 401, response.text
    assert path not in response.json()


@pytest.mark.parametrize("holder", ACTORS)
def test_team_calendar_opens_only_with_that_managers_token(env: Env, holder: str) -> None:
    """Each person's own calendar link token, used on A's manager's calendar: only his own opens it."""
    make_leave(env, state="approved")
    with env.session() as s:
        token = calendar_token(env.rt.settings.secret_key, by_key(s, holder))
    response = env.http.get(f"{env.url}/calendar/{PEOPLE['MGR']}.ics", params={"token": token})
    if holder == "MGR":
        assert response.status_code == 200 and "Alice Employee" in response.text
    else:
        assert response.status_code == 403 and "Alice Employee" not in response.text
    assert env.http.get(f"{env.url}/calendar/{PEOPLE['MGR']}.ics").status_code == 422
    assert json.loads(env.http.get(f"{env.url}/calendar/U0NOBODY01.ics", params={"token": token}).text)["detail"]
