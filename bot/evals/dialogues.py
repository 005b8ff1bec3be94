"""Dialogues measured end to end: scripted conversations over HTTP, each turn's reply and the records at the end."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from bot.db import Database
from bot.evals.deployment import deployed, post_chat, post_json
from bot.evals.jsonl import EvalFileError, read_jsonl

DIALOGUE_TODAY = datetime(2027, 3, 9, 10, 0, tzinfo=UTC)  # a Tuesday with no US holiday near it
DIALOGUE_SKILLS = ("leave", "expense", "it", "policy", "smalltalk", "out_of_scope", "sensitive")
RECORD_KINDS = ("leave", "expenses", "tickets")
_RELATIVE_DAY = re.compile(r"^today(?:([+-])(\d+))?$")


def dialogue_rows(path: Path) -> list[dict[str, Any]]:
    """The dialogues of a JSONL file, checked: each has an id, turns (say or click, with what to expect) and
    optionally the records the employee must have at the end (see docs/benchmarks.md)."""
    rows = read_jsonl(path, ("id", "turns"))
    for number, row in enumerate(rows, start=1):
        where = f"{path}:{number} ({row['id']})"
        if not isinstance(row["turns"], list) or not row["turns"]:
            raise EvalFileError(f"{where}: turns must be a non-empty list")
        for turn in row["turns"]:
            if not isinstance(turn, dict) or ("say" in turn) == ("click" in turn):
                raise EvalFileError(f"{where}: each turn has either 'say' or 'click'")
            expect = turn.get("expect", {})
            for key in ("skill", "not_skill"):
                if key in expect and expect[key] not in DIALOGUE_SKILLS:
                    raise EvalFileError(f"{where}: {key} {expect[key]!r} is not one of {', '.join(DIALOGUE_SKILLS)}")
        unknown = set(row.get("records", {})) - set(RECORD_KINDS)
        if unknown:
            raise EvalFileError(f"{where}: unknown record kinds {sorted(unknown)}")
    return rows


def resolve_day(value: str, today: date) -> date:
    """ "today", "today+N", "today-N" (calendar days) or an ISO date."""
    found = _RELATIVE_DAY.match(value.strip())
    if found is None:
        return date.fromisoformat(value)
    sign, days = found.groups()
    return today + timedelta(days=int(days or 0) * (-1 if sign == "-" else 1))


@dataclass
class DialogueOutcome:
    id: str
    behaviour: str
    problems: list[str] = dataclass_field(default_factory=list)
    transcript: list[str] = dataclass_field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


@dataclass
class DialogueEvalResult:
    outcomes: list[DialogueOutcome]

    @property
    def figures(self) -> dict[str, Any]:
        figures: dict[str, Any] = {
            "dialogues": len(self.outcomes),
            "passed": round(sum(o.passed for o in self.outcomes) / len(self.outcomes), 4) if self.outcomes else None,
        }
        for behaviour in sorted({o.behaviour for o in self.outcomes}):
            group = [o for o in self.outcomes if o.behaviour == behaviour]
            figures[f"passed[{behaviour}]"] = f"{sum(o.passed for o in group)}/{len(group)}"
        return figures

    @property
    def misses(self) -> list[dict[str, Any]]:
        return [
            {"id": o.id, "problems": "; ".join(o.problems), "transcript": " | ".join(o.transcript)}
            for o in self.outcomes
            if not o.passed
        ]


def evaluate_dialogues(
    corpus: Path | None,
    rows: list[dict[str, Any]],
    *,
    today: datetime = DIALOGUE_TODAY,
    work_dir: Path | None = None,
    on_step: Callable[[str], None] | None = None,
) -> DialogueEvalResult:
    """Deploy (as `eval answers` does) with the clock at `today`, play every dialogue over HTTP as a new
    employee (POST /api/chat, and /api/action for a button pressed), check each turn's reply and, at the end,
    the employee's leave requests, expense claims and tickets in the deployment's database."""
    step = on_step or (lambda _text: None)
    outcomes: list[DialogueOutcome] = []
    with deployed(corpus, len(rows), work_dir=work_dir, on_step=step, clock=today) as (http, url, people, db_url):
        step(f"playing {len(rows)} dialogues over HTTP")
        database = Database(db_url)
        try:
            for who, row in zip(people, rows, strict=True):
                outcome = _play(http, url, who, row)
                outcome.problems += check_records(database, who, row.get("records", {}), today.date())
                outcomes.append(outcome)
        finally:
            database.dispose()
    return DialogueEvalResult(outcomes)


def _play(http: Any, url: str, who: str, row: dict[str, Any]) -> DialogueOutcome:
    outcome = DialogueOutcome(id=str(row["id"]), behaviour=str(row.get("behaviour", "other")))
    last: dict[str, Any] = {}
    for number, turn in enumerate(row["turns"], start=1):
        if "say" in turn:
            said = str(turn["say"])
            body, _ms = post_chat(http, url, who, said)
        else:
            said = f"[{turn['click']}]"
            button = next(
                (b for b in last.get("buttons", []) if str(turn["click"]).lower() in str(b.get("text", "")).lower()),
                None,
            )
            if button is None:
                outcome.problems.append(f"turn {number}: no button {turn['click']!r} to press")
                outcome.transcript.append(f"{said} -> (no such button)")
                break
            pressed = {"user": who, "action_id": button["action_id"], "value": button["value"]}
            body, _ms = post_json(http, f"{url}/api/action", pressed)
        text = str(body.get("text", ""))
        skill = body.get("skill")
        outcome.transcript.append(f"{said} -> {skill}: {' '.join(text.split())[:160]}")
        outcome.problems += [f"turn {number}: {p}" for p in check_reply(turn.get("expect", {}), body)]
        last = body
    return outcome


def check_reply(expect: dict[str, Any], body: dict[str, Any]) -> list[str]:
    problems = []
    text, skill = str(body.get("text", "")), body.get("skill")
    lowered = text.lower()
    if "skill" in expect and skill != expect["skill"]:
        problems.append(f"reply from {skill}, expected {expect['skill']}")
    if "answered" in expect and bool(body.get("answered")) != bool(expect["answered"]):
        problems.append("answered from the documents" if body.get("answered") else "not answered from the documents")
    if "not_skill" in expect and skill == expect["not_skill"]:
        problems.append(f"reply from {skill}")
    says_any = [str(s).lower() for s in expect.get("says_any", [])]
    if says_any and not any(s in lowered for s in says_any):
        problems.append(f"says none of {says_any}")
    said = [s for s in (str(s).lower() for s in expect.get("not_says", [])) if s in lowered]
    if said:
        problems.append(f"says {said}")
    return problems


def _records(database: Database, who: str) -> dict[str, list[dict[str, Any]]]:
    """The employee's leave requests, expense claims and tickets, as the fields a dialogue may check."""
    from sqlalchemy import select

    from bot.models import Employee, Expense, LeaveRequest
    from skills.it.models import Ticket

    with database.session_scope() as session:
        employee = session.scalar(select(Employee).where(Employee.slack_id == who))
        if employee is None:
            return {kind: [] for kind in RECORD_KINDS}
        leave = session.scalars(select(LeaveRequest).where(LeaveRequest.employee_id == employee.id)).all()
        claims = session.scalars(select(Expense).where(Expense.employee_id == employee.id)).all()
        tickets = session.scalars(select(Ticket).where(Ticket.requester_id == employee.id)).all()
        return {
            "leave": [
                {
                    "leave_type": r.leave_type,
                    "start_date": r.start_date,
                    "end_date": r.end_date,
                    "days": Decimal(r.days),
                    "status": r.status,
                }
                for r in leave
            ],
            "expenses": [
                {
                    "amount": Decimal(c.amount),
                    "currency": c.currency,
                    "spent_on": c.spent_on,
                    "status": c.status,
                    "category": c.category,
                }
                for c in claims
            ],
            "tickets": [
                {"priority": t.priority, "security": t.security, "category": t.category, "status": t.status}
                for t in tickets
            ],
        }


def _field_matches(expected: Any, actual: Any, today: date) -> bool:
    if isinstance(expected, list):
        return any(_field_matches(e, actual, today) for e in expected)
    if isinstance(actual, date):
        return resolve_day(str(expected), today) == actual
    if isinstance(actual, Decimal):
        try:
            return Decimal(str(expected)) == actual
        except InvalidOperation:
            return False
    if isinstance(actual, bool):
        return bool(expected) is actual
    return str(expected).lower() == str(actual).lower()


def check_records(database: Database, who: str, expected: dict[str, Any], today: date) -> list[str]:
    """Each kind listed must hold exactly as many records as expected, each matching one of them."""
    if not expected:
        return []
    actual = _records(database, who)
    problems = []
    for kind, wanted in expected.items():
        found = actual[kind]
        free = list(found)
        unmatched = []
        for record in wanted:
            match = next((f for f in free if all(_field_matches(v, f.get(k), today) for k, v in record.items())), None)
            if match is None:
                unmatched.append(record)
            else:
                free.remove(match)
        if unmatched or free:
            shown = [{k: str(v) for k, v in f.items()} for f in found]
            problems.append(f"{kind}: expected {wanted}, found {shown}")
    return problems
