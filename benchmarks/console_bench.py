"""Console page loads with a busy database: 10,000 tickets, 10,000 leave requests and 10,000 expenses (plus an
audit row each, 10,000 questions, 10,000 cited answers and 100 open HR questions) on SQLite, served by the real
app under uvicorn; each page fetched over HTTP as the role that uses it.

Usage: python -m benchmarks.console_bench [--rows 10000] [--rounds 20] [--json FILE]

Prints the first load (caches cold) and p50 / p95 / max milliseconds of the next loads per page (server time plus
localhost HTTP), against the 300 ms target."""

from __future__ import annotations

import argparse
import json
import logging
import random
import re
import socket
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import insert, select

from benchmarks.common import latency_summary, machine
from bot.models import AuditEntry, ChatMessage, Employee, Escalation, Expense, KnowledgeDocument, LeaveRequest
from bot.runtime import Runtime, bootstrap_samples, build_runtime
from bot.settings import Settings
from bot.web_app import create_app
from skills.it.models import Ticket

logging.getLogger("httpx").setLevel(logging.WARNING)
TARGET_MS = 300.0
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
# (page, who opens it): each role's own pages.
PAGES = [
    ("/console", "U0000ADMIN1"),
    ("/console/hr", "U0000HRLEAD"),
    ("/console/it", "U0000ITDESK"),
    ("/console/it?status=&priority=P2", "U0000ITDESK"),
    ("/console/team", "U0000ENGMGR"),
    ("/console/finance", "U0000FINANC"),
    ("/console/admin", "U0000ADMIN1"),
    ("/console/audit", "U0000ADMIN1"),
    ("/console/audit?entity=ticket&action=resolve", "U0000ADMIN1"),
    ("/console/items/ticket/{middle}", "U0000ITDESK"),  # the ticket in the middle of the table
    ("/console/insights", "U0000HRLEAD"),
]


def seed(runtime: Runtime, rows: int) -> None:
    """`rows` tickets, leave requests and expenses over the last year, in bulk, with one audit row each."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    with runtime.database.session_scope() as db:
        people = {e.slack_id: e.id for e in db.scalars(select(Employee))}
        staff = list(people.values())
        employees = [people[s] for s in ("U0000DEVONE", "U0000DEVTWO", "U0000DEVTHR", "U0000SALONE")]
        manager, it_desk = people["U0000ENGMGR"], people["U0000ITDESK"]
        tickets, leave, expenses, audit = [], [], [], []
        for n in range(rows):
            created = now - timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
            status = rng.choice(("new", "in_progress", "waiting", "resolved", "closed", "closed", "closed"))
            tickets.append(
                {
                    "requester_id": rng.choice(employees),
                    "title": f"Laptop issue number {n}",
                    "description": "The laptop does not start after the update.",
                    "category": rng.choice(("hardware", "software", "access", "network")),
                    "priority": rng.choice(("P1", "P2", "P3", "P4")),
                    "status": status,
                    "assignee_id": it_desk if status != "new" else None,
                    "channel": "D0BENCH001",
                    "created_at": created,
                    "updated_at": created,
                    "first_response_at": created + timedelta(minutes=30) if status != "new" else None,
                    "resolved_at": created + timedelta(hours=6) if status in ("resolved", "closed") else None,
                    "sla_alerts": [],
                }
            )
            start = (now + timedelta(days=rng.randrange(-300, 60))).date()
            leave_status = rng.choice(("pending", "approved", "approved", "denied", "withdrawn"))
            leave.append(
                {
                    "employee_id": rng.choice(employees),
                    "leave_type": "vacation",
                    "start_date": start,
                    "end_date": start + timedelta(days=rng.randrange(0, 5)),
                    "days": Decimal(rng.randrange(1, 6)),
                    "status": leave_status,
                    "approver_id": manager,
                    "warnings": [],
                    "channel": "D0BENCH001",
                    "submitted_at": created,
                    "decided_at": created + timedelta(hours=5) if leave_status in ("approved", "denied") else None,
                    "created_at": created,
                    "updated_at": created,
                }
            )
            amount = Decimal(rng.randrange(500, 90000)) / 100
            expense_status = rng.choice(("submitted", "manager_approved", "approved", "reimbursed", "rejected"))
            expenses.append(
                {
                    "employee_id": rng.choice(employees),
                    "status": expense_status,
                    "amount": amount,
                    "currency": "EUR",
                    "base_amount": amount,
                    "base_currency": "EUR",
                    "rate": Decimal(1),
                    "spent_on": created.date(),
                    "merchant": f"Merchant {n % 300}",
                    "category": rng.choice(("meals", "travel", "lodging", "supplies")),
                    "description": "bench",
                    "flags": [],
                    "approver_id": manager,
                    "channel": "D0BENCH001",
                    "submitted_at": created,
                    "decided_at": created + timedelta(hours=20) if expense_status != "submitted" else None,
                    "created_at": created,
                    "updated_at": created,
                }
            )
        db.execute(insert(Ticket), tickets)
        db.execute(insert(LeaveRequest), leave)
        db.execute(insert(Expense), expenses)
        for entity in ("ticket", "leave_request", "expense"):
            for n in range(1, rows + 1):
                audit.append(
                    {
                        "entity": entity,
                        "entity_id": n,
                        "action": "resolve" if entity == "ticket" else "approve",
                        "actor_id": rng.choice(staff),
                        "from_state": "open",
                        "to_state": "done",
                        "at": now - timedelta(minutes=n),
                    }
                )
        db.execute(insert(AuditEntry), audit)
        # As many questions to the bot as tickets (the insights page's deflection looks for a ticket or HR request
        # after each), as many answers citing a document (the HR page counts citations over 90 days), and a
        # hundred open HR questions.
        db.execute(
            insert(ChatMessage),
            [
                {
                    "channel": "D0BENCH001",
                    "direction": "in",
                    "employee_id": rng.choice(staff),
                    "text": "A question for the bot.",
                    "skill": ("policy", "it", "leave", "expense")[n % 4],
                    "created_at": now - timedelta(minutes=rng.randrange(0, 120 * 24 * 60)),
                }
                for n in range(rows)
            ],
        )
        titles = [d.title for d in db.scalars(select(KnowledgeDocument))]
        db.execute(
            insert(ChatMessage),
            [
                {
                    "channel": "D0BENCH001",
                    "direction": "out",
                    "text": "An answer with a source.",
                    "skill": "policy",
                    "payload": {"citations": [{"title": rng.choice(titles), "heading": "", "location": ""}]},
                    "created_at": now - timedelta(minutes=rng.randrange(0, 120 * 24 * 60)),
                }
                for _ in range(rows)
            ],
        )
        db.execute(
            insert(Escalation),
            [
                {
                    "employee_id": rng.choice(employees),
                    "question": f"Question number {n} about the parking rules?",
                    "sources": [],
                    "status": "open",
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(100)
            ],
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sign_in(base: str, slack_id: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    form = client.get("/console/login")
    token = CSRF.search(form.text)
    assert token, form.text[:300]
    client.post("/console/login", data={"csrf": token.group(1), "slack_id": slack_id})
    return client


def run(rows: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            BACKOFFICE_DATA_DIR=str(Path(tmp) / "var"),
        )
        runtime = build_runtime(settings)
        bootstrap_samples(runtime)
        started = time.perf_counter()
        seed(runtime, rows)
        seeded_s = time.perf_counter() - started
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(runtime, run_scheduler=False, bind_host="127.0.0.1"),
                host="127.0.0.1",
                port=port,
                log_level="warning",
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        clients: dict[str, httpx.Client] = {}
        results: dict[str, Any] = {}
        try:
            for template, who in PAGES:
                path = template.format(middle=max(1, rows // 2))
                client = clients.get(who) or clients.setdefault(who, sign_in(base, who))
                begin = time.perf_counter()
                first = client.get(path)
                first_ms = (time.perf_counter() - begin) * 1000
                if first.status_code != 200:
                    results[path] = {"status": first.status_code}
                    continue
                timings = []
                for _ in range(rounds):
                    begin = time.perf_counter()
                    response = client.get(path)
                    timings.append((time.perf_counter() - begin) * 1000)
                    assert response.status_code == 200, (path, response.status_code)
                results[path] = {
                    "as": who,
                    "bytes": len(first.content),
                    "first_ms": round(first_ms, 1),
                    **latency_summary(timings),
                }
        finally:
            for client in clients.values():
                client.close()
            server.should_exit = True
            thread.join(timeout=10)
            runtime.close()
    return {"rows_per_table": rows, "rounds": rounds, "seed_seconds": round(seeded_s, 1), "pages": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000, help="tickets, leave requests and expenses each")
    parser.add_argument("--rounds", type=int, default=20, help="timed loads per page")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results = run(args.rows, args.rounds)
    results["machine"] = machine()
    print(f"Console page loads, {args.rows:,} tickets + leave requests + expenses, {args.rounds} loads each")
    print("| page | as | first load ms | p50 ms | p95 ms | max ms | under 300 ms (p95) |")
    print("|---|---|---:|---:|---:|---:|:---:|")
    for path, figures in results["pages"].items():
        if "p95" not in figures:
            print(f"| {path} | | HTTP {figures['status']} | | | | |")
            continue
        met = "yes" if figures["p95"] <= TARGET_MS else "**no**"
        print(
            f"| {path} | {figures['as']} | {figures['first_ms']:.1f} | {figures['p50']:.1f} | {figures['p95']:.1f} "
            f"| {figures['max']:.1f} | {met} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
