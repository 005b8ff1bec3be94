"""The employee directory on a real database (SQLite and PostgreSQL): CSV in, employees and audit rows out;
unknown Slack users created through the real Slack client against the Slack stand-in."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.db import Database
from bot.directory import (
    DirectoryError,
    ImportReport,
    ensure_employee,
    get_by_slack_id,
    import_csv,
    members_with_role,
    profile_if_new,
)
from bot.migrate import upgrade
from bot.models import AuditEntry, Employee
from integrations.slack import SlackGateway, make_client
from tests.slack_standin import SlackStandIn

SAMPLE = Path(__file__).resolve().parents[2] / "bot" / "samples" / "directory.csv"
HEADER = "slack_id,name,email,tz,country,manager_slack_id,roles\n"


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    upgrade(database_url)
    db = Database(database_url)
    yield db
    db.dispose()


def employees(database: Database) -> dict[str, Employee]:
    with database.session_scope() as session:
        return {e.slack_id: e for e in session.scalars(select(Employee))}


def audit_rows(database: Database) -> list[tuple[str, int, str]]:
    with database.session_scope() as session:
        return [(a.entity, a.entity_id, a.action) for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def counts(database: Database) -> tuple[int, int]:
    with database.session_scope() as session:
        return (
            session.scalar(select(func.count()).select_from(Employee)) or 0,
            session.scalar(select(func.count()).select_from(AuditEntry)) or 0,
        )


def run_import(database: Database, text: str) -> ImportReport:
    with database.session_scope() as session:
        return import_csv(session, text)


# ----------------------------------------------------------------------------- CSV import


def test_sample_directory_creates_twelve_linked_employees(database: Database) -> None:
    report = run_import(database, SAMPLE.read_text(encoding="utf-8"))
    assert (report.created, report.updated, report.errors) == (12, 0, [])
    people = employees(database)
    assert len(people) == 12
    by_id = {e.id: e for e in people.values()}

    def manager_of(slack_id: str) -> str | None:
        manager_id = people[slack_id].manager_id
        return by_id[manager_id].slack_id if manager_id else None

    assert manager_of("U0000ADMIN1") is None
    assert manager_of("U0000HRLEAD") == "U0000ADMIN1"
    assert manager_of("U0000HRPART") == "U0000HRLEAD"
    assert manager_of("U0000DEVONE") == "U0000ENGMGR"
    assert manager_of("U0000SALONE") == "U0000SALMGR"
    assert sum(e.manager_id is None for e in people.values()) == 1

    sofia = people["U0000DEVONE"]
    assert (sofia.name, sofia.email, sofia.tz, sofia.country, sofia.roles) == (
        "Sofia Rossi",
        "sofia.rossi@larkspur.example",
        "Europe/Rome",
        "IT",
        "employee",
    )
    assert people["U0000ADMIN1"].role_set == {"employee", "manager", "admin"}
    assert people["U0000HRLEAD"].role_set == {"employee", "manager", "hr"}
    assert people["U0000ITDESK"].role_set == {"employee", "it"}
    assert people["U0000FINANC"].has_role("finance") and not people["U0000FINANC"].has_role("hr")
    assert people["U0000ADMIN1"].has_role("hr")  # admins can do everything
    assert people["U0000HRPART"].name == "Tomás Ferreira"

    with database.session_scope() as session:
        hr = [e.slack_id for e in members_with_role(session, "hr")]
    assert sorted(hr) == ["U0000ADMIN1", "U0000HRLEAD", "U0000HRPART"]

    audits = audit_rows(database)
    assert len(audits) == 12
    assert {a[2] for a in audits} == {"directory_import"}
    assert {a[1] for a in audits} == {e.id for e in people.values()}


def test_reimport_updates_in_place(database: Database) -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    run_import(database, text)
    ids_before = {s: e.id for s, e in employees(database).items()}
    changed = text.replace(
        "Sofia Rossi,sofia.rossi@larkspur.example,Europe/Rome,IT,U0000ENGMGR,employee",
        "Sofia Rossi-Bianchi,sofia.rossi@larkspur.example,Europe/Rome,IT,U0000SALMGR,employee;manager",
    )
    assert changed != text
    report = run_import(database, changed)
    assert (report.created, report.updated, report.errors) == (0, 12, [])
    people = employees(database)
    assert {s: e.id for s, e in people.items()} == ids_before
    sofia = people["U0000DEVONE"]
    assert sofia.name == "Sofia Rossi-Bianchi"
    assert sofia.manager_id == people["U0000SALMGR"].id
    assert sofia.role_set == {"employee", "manager"}
    assert counts(database) == (12, 24)


def test_import_defaults_role_separators_and_manager_order(database: Database) -> None:
    text = HEADER + 'U1,Ann,,,,,\nU2,Bob,bob@x.example,Asia/Tokyo,jp,U1,it|hr\nU3,Cy,,UTC,,,"manager , finance"\n'
    report = run_import(database, text)
    assert (report.created, report.errors) == (3, [])
    people = employees(database)
    ann, bob = people["U1"], people["U2"]
    assert (ann.email, ann.tz, ann.country, ann.roles) == (None, "UTC", "US", "employee")
    assert (bob.country, bob.roles, bob.manager_id) == ("JP", "employee,it,hr", ann.id)
    assert people["U3"].roles == "employee,manager,finance"

    # A manager may come later in the file, or already be in the directory from an earlier import.
    report = run_import(database, HEADER + "UA,Alice,,UTC,US,UB,employee\nUB,Bea,,UTC,US,U3,manager\n")
    assert report.errors == [] and report.created == 2
    people = employees(database)
    assert people["UA"].manager_id == people["UB"].id
    assert people["UB"].manager_id == people["U3"].id


BAD_ROWS = [
    (
        "U0000NEWONE,New Person,new@larkspur.example,Mars/Olympus_Mons,US,U0000ADMIN1,employee",
        "line 3: unknown time zone 'Mars/Olympus_Mons'",
    ),
    (
        "U0000NEWONE,New Person,new@larkspur.example,Europe/Paris,FR,U0000ADMIN1,employee;wizard",
        "line 3: unknown role(s) wizard",
    ),
    (
        "U0000NEWONE,New Person,new@larkspur.example,Europe/Paris,FR,U0000GHOST1,employee",
        "line 3: manager U0000GHOST1 is not in the directory",
    ),
    (",Nameless,,UTC,US,,employee", "line 3: slack_id and name are required"),
    ("U0000ADMIN1,Morgan Again,,UTC,US,,employee", "line 3: duplicate slack_id U0000ADMIN1"),
]


def test_a_bad_row_names_its_line_and_nothing_is_written(database: Database) -> None:
    good = "U0000ADMIN1,Morgan Reyes,morgan@larkspur.example,America/New_York,US,,admin\n"
    for bad_line, message in BAD_ROWS:
        report = run_import(database, HEADER + good + bad_line + "\n")
        assert (report.created, report.updated) == (0, 0), bad_line
        assert len(report.errors) == 1 and report.errors[0].startswith(message), report.errors
        assert counts(database) == (0, 0), bad_line  # not even the good first row


def test_all_errors_are_reported_together_and_existing_rows_untouched(database: Database) -> None:
    run_import(database, SAMPLE.read_text(encoding="utf-8"))
    before = {s: (e.name, e.tz, e.roles) for s, e in employees(database).items()}
    text = (
        HEADER
        + "U0000DEVONE,Sofia Renamed,,Europe/Rome,IT,U0000ENGMGR,employee\n"
        + "U0000DEVTWO,Jamal Carter,,Nowhere/City,US,U0000ENGMGR,employee\n"
        + "U0000DEVTHR,Mei Lin,,UTC,US,U0000NOBODY,boss\n"
    )
    report = run_import(database, text)
    assert report.errors == [
        "line 3: unknown time zone 'Nowhere/City'",
        "line 4: unknown role(s) boss; allowed: employee, manager, hr, it, finance, admin",
        "line 4: manager U0000NOBODY is not in the directory",
    ]
    assert {s: (e.name, e.tz, e.roles) for s, e in employees(database).items()} == before
    assert counts(database) == (12, 12)


def test_duplicate_email_is_a_row_error_not_a_crash(database: Database) -> None:
    """employees.email is UNIQUE, so a repeated email must be reported by line like any other bad row.
    (Regression: import_csv used to skip email checks, so the INSERT failed with IntegrityError
    instead of a report error, and `backoffice directory import` died with a traceback.)"""
    text = HEADER + "U1,Ann,same@x.example,UTC,US,,employee\nU2,Bob,same@x.example,UTC,US,,employee\n"
    report = run_import(database, text)
    assert report.errors and report.errors[0].startswith("line 3:"), report.errors
    assert "same@x.example" in report.errors[0]
    assert counts(database) == (0, 0)


def test_missing_column_raises_directory_error(database: Database) -> None:
    for text in ("name,email\nAnn,ann@x.example\n", "slack_id,email\nU1,ann@x.example\n", ""):
        with pytest.raises(DirectoryError, match="missing column"):
            run_import(database, text)
    assert counts(database) == (0, 0)


# ----------------------------------------------------------------------------- ensure_employee


@pytest.fixture
def gateway(slack: SlackStandIn) -> SlackGateway:
    return SlackGateway(make_client(slack.token, slack.base_url))


def test_unknown_slack_user_is_created_from_users_info(
    database: Database, slack: SlackStandIn, gateway: SlackGateway
) -> None:
    profile = profile_if_new(database, "U0NEWHIRE1", gateway.lookup_user)
    with database.session_scope() as session:
        nina = ensure_employee(session, "U0NEWHIRE1", profile)
        nina_id = nina.id
    people = employees(database)
    nina = people["U0NEWHIRE1"]
    assert (nina.id, nina.name, nina.email, nina.tz, nina.roles, nina.manager_id) == (
        nina_id,
        "Nina Newhire",
        "nina@larkspur.example",
        "Europe/Berlin",
        "employee",
        None,
    )
    assert [c.params.get("user") for c in slack.calls_to("users.info")] == ["U0NEWHIRE1"]
    assert all(c.token == slack.token for c in slack.calls_to("users.info"))
    assert audit_rows(database) == [("employee", nina_id, "created_from_slack")]
    # Next time she is known: same record, no second users.info call, no second audit row.
    profile = profile_if_new(database, "U0NEWHIRE1", gateway.lookup_user)
    with database.session_scope() as session:
        assert ensure_employee(session, "U0NEWHIRE1", profile).id == nina_id
    assert len(slack.calls_to("users.info")) == 1
    assert counts(database) == (1, 1)


def test_known_employee_is_returned_without_asking_slack(
    database: Database, slack: SlackStandIn, gateway: SlackGateway
) -> None:
    run_import(database, SAMPLE.read_text(encoding="utf-8"))
    profile = profile_if_new(database, "U0000DEVONE", gateway.lookup_user)
    with database.session_scope() as session:
        sofia = ensure_employee(session, "U0000DEVONE", profile)
        assert sofia.name == "Sofia Rossi"
        grace = get_by_slack_id(session, "U0000ITLEAD")
        assert grace is not None and grace.name == "Grace Okafor"
        assert get_by_slack_id(session, "U0NOBODY01") is None
        assert get_by_slack_id(session, "") is None
    assert slack.calls_to("users.info") == []
    assert counts(database) == (12, 12)


def test_id_unknown_to_slack_gets_a_default_record(
    database: Database, slack: SlackStandIn, gateway: SlackGateway
) -> None:
    profile = profile_if_new(database, "U0GHOST999", gateway.lookup_user)
    with database.session_scope() as session:
        ghost_id = ensure_employee(session, "U0GHOST999", profile).id
    ghost = employees(database)["U0GHOST999"]
    assert (ghost.name, ghost.email, ghost.tz, ghost.country, ghost.roles) == (
        "U0GHOST999",
        None,
        "UTC",
        "US",
        "employee",
    )
    assert [c.params.get("user") for c in slack.calls_to("users.info")] == ["U0GHOST999"]
    assert audit_rows(database) == [("employee", ghost_id, "created_unknown")]
    # With no Slack at all (lookup=None) the same defaults apply.
    with database.session_scope() as session:
        offline = ensure_employee(session, "U0OFFLINE1", None)
        assert (offline.name, offline.tz, offline.email) == ("U0OFFLINE1", "UTC", None)
    assert [a[2] for a in audit_rows(database)] == ["created_unknown", "created_unknown"]


def test_slack_profile_edge_cases(database: Database, slack: SlackStandIn, gateway: SlackGateway) -> None:
    run_import(database, HEADER + "U0OLDNINA1,Nina Old,nina@larkspur.example,UTC,US,,employee\n")
    profile = profile_if_new(database, "U0NEWHIRE1", gateway.lookup_user)
    with database.session_scope() as session:
        ensure_employee(session, "U0NEWHIRE1", profile)
    people = employees(database)
    assert people["U0NEWHIRE1"].email is None
    assert people["U0NEWHIRE1"].name == "Nina Newhire"
    assert people["U0OLDNINA1"].email == "nina@larkspur.example"

    # A time zone Slack gives must be a real one; a bare profile still yields a usable record.
    slack.users["U0BADZONE1"] = {"id": "U0BADZONE1", "name": "zed", "tz": "Not/AZone", "profile": {"real_name": "Zed"}}
    slack.users["U0NOPROF01"] = {"id": "U0NOPROF01", "name": "just.a.handle"}
    zed = profile_if_new(database, "U0BADZONE1", gateway.lookup_user)
    handle_only = profile_if_new(database, "U0NOPROF01", gateway.lookup_user)
    with database.session_scope() as session:
        ensure_employee(session, "U0BADZONE1", zed)
        ensure_employee(session, "U0NOPROF01", handle_only)
    people = employees(database)
    assert (people["U0BADZONE1"].name, people["U0BADZONE1"].tz, people["U0BADZONE1"].email) == ("Zed", "UTC", None)
    assert (people["U0NOPROF01"].name, people["U0NOPROF01"].tz) == ("just.a.handle", "UTC")


def test_delegate_and_hire_date_columns(database: Database) -> None:
    header = "slack_id,name,tz,country,manager_slack_id,roles,delegate_slack_id,hired_on\n"
    rows = (
        "U0BOSS0001,Bea Boss,UTC,US,,manager,U0DEPUTY01,\nU0DEPUTY01,Dev Deputy,UTC,US,U0BOSS0001,manager,,2026-06-15\n"
    )
    with database.session_scope() as session:
        report = import_csv(session, header + rows)
    assert report.errors == [] and report.created == 2
    people = employees(database)
    assert people["U0BOSS0001"].delegate_id == people["U0DEPUTY01"].id
    assert str(people["U0DEPUTY01"].hired_on) == "2026-06-15" and people["U0BOSS0001"].hired_on is None

    bad = "U0OTHER001,Otto,UTC,US,,employee,U0NOBODY01,15/06/2026\n"
    with database.session_scope() as session:
        report = import_csv(session, header + bad)
    assert report.errors == [
        "line 2: delegate U0NOBODY01 is not in the directory",
        "line 2: hired_on '15/06/2026' is not a date (YYYY-MM-DD)",
    ]
    assert "U0OTHER001" not in employees(database)


def test_a_new_persons_messages_at_the_same_moment_create_them_once(database: Database) -> None:
    """Several first messages of someone the directory doesn't know yet, handled at once: one record, no
    "UNIQUE constraint failed" for the others."""
    barrier = threading.Barrier(4)
    found: list[int] = []
    failed: list[BaseException] = []

    def first_message() -> None:
        try:
            barrier.wait()
            with database.session_scope() as session:
                found.append(ensure_employee(session, "U0NEWCOMER1", None).id)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            failed.append(exc)

    threads = [threading.Thread(target=first_message) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failed == [] and len(set(found)) == 1
    with database.session_scope() as session:
        assert session.scalar(select(func.count()).where(Employee.slack_id == "U0NEWCOMER1")) == 1
