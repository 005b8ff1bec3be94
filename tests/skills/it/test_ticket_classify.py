"""Offline ticket triage: text in, category / priority / security / is_problem / title out; and `eval tickets`."""

from __future__ import annotations

import dataclasses
import json
import unicodedata
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.cli import app
from bot.evals.jsonl import EvalFileError
from skills.it.classify import CATEGORIES, PRIORITIES, Triage, triage
from skills.it.evals import evaluate_tickets
from skills.it.titles import MAX_TITLE, make_title

REPO = Path(__file__).resolve().parents[3]
TICKETS_DEV = REPO / "benchmarks" / "tickets_dev.jsonl"
TICKET_EXAMPLES = REPO / "skills" / "it" / "examples.jsonl"

# (text, category, priority, security, is_problem) — our own sentences, none from the dev set or examples.jsonl.
CASES = [
    ("my laptop won't turn on", "hardware", "P3", False, True),
    ("LAPTOP WONT CHARGE AT ALL", "hardware", "P3", False, True),
    ("pls reset my pasword, i forgot it over the weekend", "account", "P3", False, True),
    ("im locked out of okta and cant work, pls help asap", "account", "P2", False, True),
    ("the vpn is down for the whole company", "network", "P1", False, True),
    ("wifi on the 3rd floor keeps dropping for everyone", "network", "P2", False, True),
    ("can i get access to the customer success dashboard in looker", "access", "P4", False, True),
    ("i clicked on a phishing link in a fake invoice email", "security", "P1", True, True),
    ("someone stole my laptop at the airport", "security", "P1", True, True),
    ("locked out because my 2fa phone got stolen", "security", "P1", True, True),
    ("how do i set up the vpn on my mac?", "network", "P4", False, False),
    ("how do I add a printer on windows?", "hardware", "P4", False, False),
    ("excel keeps crashing when i open the budget file", "software", "P3", False, True),
    ("could you install notepad++ for me when you get a chance", "software", "P4", False, True),
    ("outlook isnt syncing and i have a client deadline in an hour", "software", "P2", False, True),
    (
        "the projector in the main meeting room is broken and the all-hands starts in 10 minutes",
        "hardware",
        "P1",
        False,
        True,
    ),
    ("got a weird email from 'IT' asking me to confirm my password, didnt click it", "security", "P3", False, True),
    ("my macbook screen has dead pixels, not urgent", "hardware", "P4", False, True),
    ("thanks, the printer works again", "other", "P4", False, False),
    ("whats the status of my ticket about the docking station?", "other", "P4", False, False),
    ("our whole team cant access the shared finance drive, month end close is due today", "access", "P1", False, True),
    ("antivirus says my pc is infected with malware", "security", "P1", True, True),
    ("how do I request admin rights?", "access", "P4", False, False),
    ("the internet is super slow", "network", "P3", False, True),
    ("mfa prompt never shows up on my phone", "account", "P3", False, True),
    ("zoom wont share my screen", "software", "P3", False, True),
    ("new monitor for my home office would be nice to have", "hardware", "P4", False, True),
    ("my headset died and i have an interview at 3pm", "hardware", "P2", False, True),
    ("hey IT! my keyboard's missing a key lol", "hardware", "P3", False, True),
    ("jira is down and nobody can work", "software", "P1", False, True),
    ("somebody has been sending messages from my email that i never wrote", "security", "P1", True, True),
    ("I need to report a security incident on my laptop", "security", "P1", True, True),
    ("how do I report a security incident?", "security", "P4", False, False),
    ("someone keeps using the parking spot I was given", "other", "P3", False, True),
]


@pytest.mark.parametrize(("text", "category", "priority", "security", "is_problem"), CASES, ids=[c[0] for c in CASES])
def test_triage_table(text: str, category: str, priority: str, security: bool, is_problem: bool) -> None:
    found = triage(text)
    assert (found.category, found.priority, found.security, found.is_problem) == (
        category,
        priority,
        security,
        is_problem,
    ), found.reasons
    assert found.category in CATEGORIES and found.priority in PRIORITIES
    assert found.reasons, "every triage explains itself"
    if found.security:
        assert found.category == "security" and found.priority == "P1"


@pytest.mark.parametrize("text", [c[0] for c in CASES])
def test_title_shape(text: str) -> None:
    title = triage(text).title
    assert 0 < len(title) <= MAX_TITLE
    assert title[0].isupper() or title[0].isdigit()
    assert not title.lower().startswith(("my ", "hi ", "hey "))
    assert not any(unicodedata.category(ch) == "So" for ch in title)
    assert title == title.strip() and not title.endswith(("?", "!", ".", ","))


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("my laptop won't turn on", "Laptop won't turn on"),
        ("pls reset my pasword, i forgot it", "Reset my password"),
        ("hi team 👋 laptp keybord broken!!", "Laptop keyboard broken"),
        ("URGENT!!! THE VPN IS DOWN FOR EVERYONE", "The VPN is down for everyone"),
        ("Hi, hope you're well. Quick question: my outlook won't open", "Outlook won't open"),
        ("cant open the contracts folder, says access denied", "Can't open the contracts folder"),
        (
            "the big display in room 4 is broken and our board meeting starts in ten minutes",
            "The big display in room 4 is broken",
        ),
        ("", "IT request"),
        ("😩😩", "IT request"),
    ],
)
def test_title_is_the_first_clause_tidied(text: str, title: str) -> None:
    assert make_title(text) == title


def test_long_title_is_cut_on_a_word() -> None:
    title = make_title("outlook " + "really " * 30 + "crashes")
    assert len(title) <= MAX_TITLE and title.endswith("…") and " " in title


@pytest.mark.parametrize(
    "spelling",
    [
        "I can't connect to the VPN",
        "i cant connect to the vpn",
        "I CANNOT CONNECT TO THE VPN",
        "i can’t conect to the vpn",
        "i cnt connect to teh vpn pls",
    ],
)
def test_spellings_and_typos_agree(spelling: str) -> None:
    found = triage(spelling)
    assert (found.category, found.priority, found.is_problem) == ("network", "P3", True)


def test_real_words_are_not_folded_into_cue_words() -> None:
    # "there" is one edit from "three" and "looked" from "locked": both must survive.
    assert triage("is there a way to see who looked at my shared folder?").is_problem is False
    lure = triage("I opened an attachment that looked like an invoice, phishing?")
    assert "looked like" in lure.title and lure.security
    assert any("a lure acted on" in reason for reason in lure.reasons)


def test_reasons_name_the_cues() -> None:
    found = triage("the wifi is down for everyone on the floor and we can't work")
    assert found.priority == "P1"
    joined = " | ".join(found.reasons)
    assert "wide impact" in joined and "urgent" in joined and "'wifi'" in joined
    assert "not urgent" not in joined
    calm = triage("the office wifi is a bit slow, not urgent")
    assert calm.priority == "P4" and any("low urgency" in r for r in calm.reasons)
    assert any("knowledge base" in r for r in triage("how do I connect to the wifi?").reasons)


def test_a_reported_lure_is_not_an_incident_but_a_clicked_one_is() -> None:
    reported = triage("got a phishing email pretending to be payroll, I didn't click anything")
    clicked = triage("got a phishing email pretending to be payroll and I clicked the link")
    assert (reported.category, reported.security) == ("security", False)
    assert (clicked.category, clicked.security, clicked.priority) == ("security", True, "P1")


def test_triage_is_frozen() -> None:
    found = triage("printer jammed")
    assert isinstance(found, Triage)
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.priority = "P1"  # type: ignore[misc]  # writing to the frozen field is the test


def _rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_dev_set_is_broad_and_separate_from_tuning_data_and_these_tests() -> None:
    dev = _rows(TICKETS_DEV)
    assert len(dev) >= 70
    assert {r["category"] for r in dev} == set(CATEGORIES)
    assert {r["priority"] for r in dev} == set(PRIORITIES)
    assert any(r["security"] for r in dev) and any(not r["is_problem"] for r in dev)
    dev_texts = {str(r["text"]).lower() for r in dev}
    assert not dev_texts & {str(r["text"]).lower() for r in _rows(TICKET_EXAMPLES)}
    assert not dev_texts & {c[0].lower() for c in CASES}


def test_evaluate_tickets_counts_and_confusions() -> None:
    rows: list[dict[str, object]] = [
        {
            "text": "my laptop won't turn on",
            "category": "hardware",
            "priority": "P3",
            "security": False,
            "is_problem": True,
        },
        # Deliberately mislabelled, to see a confusion pair and a within-one priority.
        {
            "text": "outlook keeps crashing",
            "category": "network",
            "priority": "P2",
            "security": False,
            "is_problem": True,
        },
        {
            "text": "I clicked a phishing link",
            "category": "security",
            "priority": "P1",
            "security": True,
            "is_problem": True,
        },
    ]
    result = evaluate_tickets(rows)
    assert result.total == 3
    assert result.category_accuracy == pytest.approx(2 / 3)
    assert result.priority_accuracy == pytest.approx(2 / 3)
    assert result.priority_within_one == 1.0
    assert (result.security_precision, result.security_recall) == (1.0, 1.0)
    assert result.category_confusions == [{"gold": "network", "predicted": "software", "count": 1}]
    assert result.priority_confusions == [{"gold": "P2", "predicted": "P3", "count": 1}]
    assert result.per_category["network"] == {
        "support": 1,
        "predicted": 0,
        "correct": 0,
        "precision": 0.0,
        "recall": 0.0,
    }
    assert len(result.misses) == 1
    no_incidents = evaluate_tickets(rows[:1])
    assert no_incidents.security_precision is None and no_incidents.security_recall is None


def test_evaluate_tickets_rejects_unknown_labels() -> None:
    with pytest.raises(EvalFileError, match="priority 'P9'"):
        evaluate_tickets([{"text": "x", "category": "other", "priority": "P9", "security": False, "is_problem": True}])


# The `eval tickets` command through typer's CliRunner, as tests/bot/test_cli.py runs the others.
ENV = {"COLUMNS": "200", "NO_COLOR": "1"}


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=ENV)


def squashed(text: str) -> str:
    return "".join(text.split())


def test_eval_tickets_prints_the_figures() -> None:
    result = run("eval", "tickets", str(TICKETS_DEV))
    assert result.exit_code == 0, result.output
    text = squashed(result.stdout)
    for figure in (
        "categoryaccuracy",
        "priorityaccuracy",
        "prioritywithinonelevel",
        "securityprecision",
        "securityrecall",
        "is_problemaccuracy",
        "Percategory",
    ):
        assert figure in text
    for category in CATEGORIES:
        assert category in text


def test_eval_tickets_json_meets_the_targets() -> None:
    result = run("eval", "tickets", str(TICKETS_DEV), "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["total"] == len(_rows(TICKETS_DEV))
    assert figures["category_accuracy"] >= 0.85
    assert figures["priority_accuracy"] >= 0.75
    assert figures["priority_within_one"] >= figures["priority_accuracy"]
    assert figures["security_recall"] == 1.0
    assert sum(f["support"] for f in figures["per_category"].values()) == figures["total"]


def test_eval_tickets_show_misses_lists_them() -> None:
    result = run("eval", "tickets", str(TICKETS_DEV), "--show-misses", "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    if figures["category_accuracy"] < 1.0:
        assert "'reasons'" in result.stdout


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"text": "printer jammed"\n', "tickets.jsonl:1:notvalidJSON"),
        ('{"text": "printer jammed", "category": "hardware"}\n', "tickets.jsonl:1:eachlineneedsthekeys"),
        ("\n\n", "tickets.jsonl:nolinestoevaluate"),
        (
            '{"text": "printer jammed", "category": "printers", "priority": "P3", "security": false, '
            '"is_problem": true}\n',
            "category'printers'isnotoneof",
        ),
        (
            '{"text": "printer jammed", "category": "hardware", "priority": "P3", "security": "no", '
            '"is_problem": true}\n',
            "securitymustbetrueorfalse",
        ),
    ],
    ids=["bad-json", "missing-key", "empty", "bad-category", "bad-bool"],
)
def test_eval_tickets_bad_file_exits_2(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "tickets.jsonl"
    path.write_text(content, encoding="utf-8")
    result = run("eval", "tickets", str(path), "--json")
    assert result.exit_code == 2, result.output
    assert expected in squashed(result.output)


def test_eval_tickets_missing_file_exits_2(tmp_path: Path) -> None:
    result = run("eval", "tickets", str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 2
    assert "nope.jsonl" in squashed(result.output)


def test_eval_help_mentions_tickets() -> None:
    result = run("eval", "tickets", "--help")
    assert result.exit_code == 0
    assert "is_problem" in result.stdout and "--json" in result.stdout
    assert "tickets" in run("eval", "--help").stdout
