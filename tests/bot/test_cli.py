"""The `backoffice` command line through typer's CliRunner: arguments in, exit codes, output and files out.
Every command gets its own data folder and SQLite database under tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from bot.cli import app
from bot.db import Database
from bot.models import Employee, KnowledgeDocument
from tests.knowledge.test_loaders import make_pdf

REPO = Path(__file__).resolve().parents[2]
ROUTING_DEV = REPO / "benchmarks" / "routing_dev.jsonl"
RETRIEVAL_SAMPLES = REPO / "benchmarks" / "retrieval_samples.jsonl"
SAMPLE_SOPS = REPO / "knowledge" / "samples" / "sops"
SAMPLE_DIRECTORY = REPO / "bot" / "samples" / "directory.csv"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "BACKOFFICE_DATA_DIR": str(tmp_path / "var"),
        "BACKOFFICE_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'cli.db'}",
        "BACKOFFICE_LLM": "",
        "SLACK_BOT_TOKEN": "",
        "SLACK_SIGNING_SECRET": "",
        "COLUMNS": "200",
        "NO_COLOR": "1",
    }


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def squashed(text: str) -> str:
    """Output with all whitespace removed, so rich's line wrapping cannot split what we look for."""
    return "".join(text.split())


def count(env: dict[str, str], model: type) -> int:
    database = Database(env["BACKOFFICE_DATABASE_URL"])
    try:
        with database.session_scope() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        database.dispose()


def test_help_lists_the_commands(env: dict[str, str]) -> None:
    result = run(env, "--help")
    assert result.exit_code == 0, result.output
    for command in ("serve", "scheduler", "migrate", "bootstrap", "ingest", "directory", "chat", "eval"):
        assert command in result.stdout
    eval_help = run(env, "eval", "--help")
    assert eval_help.exit_code == 0
    assert "routing" in eval_help.stdout and "retrieval" in eval_help.stdout
    # No sub-command: help is shown and the exit code says "usage".
    bare = run(env)
    assert bare.exit_code == 2
    assert "ingest" in bare.output


@pytest.mark.slow
def test_eval_routing_prints_json_and_writes_predictions(env: dict[str, str], tmp_path: Path) -> None:
    predictions = tmp_path / "predictions.jsonl"
    result = run(env, "eval", "routing", str(ROUTING_DEV), "--json", "--predictions", str(predictions))
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    inputs = [json.loads(line) for line in ROUTING_DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert figures["total"] == len(inputs)
    assert figures["accuracy"] >= 0.85
    assert set(figures["per_skill"]) >= {"out_of_scope", "expense", "it"}
    assert sum(f["support"] for f in figures["per_skill"].values()) == len(inputs)
    lines = predictions.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(inputs)
    rows = [json.loads(line) for line in lines]
    assert all(set(row) == {"text", "predicted", "confidence"} for row in rows)
    assert [row["text"] for row in rows] == [row["text"] for row in inputs]
    assert all(isinstance(row["confidence"], float) for row in rows)
    correct = sum(p["predicted"] == g["skill"] for p, g in zip(rows, inputs, strict=True))
    assert round(correct / len(inputs), 4) == figures["accuracy"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"text": "hi", "skill": "it"}\n{"text": "broken\n', "routing.jsonl:2:notvalidJSON"),
        ('{"text": "hi", "skill": "it"}\n\n{"text": "no skill"}\n', "routing.jsonl:3:eachlineneedsthekeystext,skill"),
        ("\n\n", "routing.jsonl:nolinestoevaluate"),
    ],
    ids=["bad-json", "missing-key", "empty"],
)
def test_eval_routing_malformed_file_exits_2_naming_the_line(
    env: dict[str, str], tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "routing.jsonl"
    path.write_text(content, encoding="utf-8")
    predictions = tmp_path / "out.jsonl"
    result = run(env, "eval", "routing", str(path), "--json", "--predictions", str(predictions))
    assert result.exit_code == 2, result.output
    assert expected in squashed(result.output)
    assert not predictions.exists()


def test_eval_routing_missing_file_exits_2(env: dict[str, str], tmp_path: Path) -> None:
    result = run(env, "eval", "routing", str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 2
    assert "nope.jsonl" in squashed(result.output)


@pytest.mark.slow
def test_eval_retrieval_over_the_sample_sops(env: dict[str, str]) -> None:
    result = run(env, "eval", "retrieval", str(RETRIEVAL_SAMPLES), "--corpus", str(SAMPLE_SOPS), "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    questions = [line for line in RETRIEVAL_SAMPLES.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert figures["questions"] == len(questions)
    assert figures["documents"] == len(list(SAMPLE_SOPS.glob("*.md")))
    assert figures["recall@5"] >= 0.9
    assert figures["recall@1"] <= figures["recall@3"] <= figures["recall@5"]


def test_eval_retrieval_needs_a_corpus_folder(env: dict[str, str], tmp_path: Path) -> None:
    result = run(env, "eval", "retrieval", str(RETRIEVAL_SAMPLES), "--corpus", str(tmp_path / "missing"))
    assert result.exit_code == 2
    assert "isnotafolder" in squashed(result.output)


def test_ingest_reports_a_corrupt_pdf_and_exits_1(env: dict[str, str], tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "travel.md").write_text("# Travel\n\nBook trains for trips under 4 hours.\n", encoding="utf-8")
    (folder / "policy.pdf").write_bytes(make_pdf(["Laptops are replaced every three years."]))
    (folder / "scanned-contract.pdf").write_bytes(b"%PDF-1.7\n\x00\x01garbage, not a PDF body")
    result = run(env, "ingest", str(folder))
    assert result.exit_code == 1, result.output
    assert "failed" in result.output
    assert "scanned-contract.pdf" in squashed(result.output)
    assert "2added" in squashed(result.output) and "1failed" in squashed(result.output)
    # The good files were still ingested; the corrupt one left no row.
    assert count(env, KnowledgeDocument) == 2

    # A clean folder: exit 0, and a second run changes nothing.
    (folder / "scanned-contract.pdf").unlink()
    again = run(env, "ingest", str(folder))
    assert again.exit_code == 0, again.output
    assert "0added,0updated,2unchanged" in squashed(again.output)


def test_directory_import_of_a_bad_csv_writes_nothing(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "people.csv"
    bad.write_text(
        "slack_id,name,email,tz,country,manager_slack_id,roles\n"
        "U0000ALICE1,Alice,alice@x.example,Europe/Paris,FR,,employee\n"
        "U0000BOB001,Bob,bob@x.example,Moon/Base,US,U0000ALICE1,employee\n",
        encoding="utf-8",
    )
    result = run(env, "directory", "import", str(bad))
    assert result.exit_code == 1, result.output
    assert "Nothing was imported" in result.output
    assert "line3:unknowntimezone'Moon/Base'" in squashed(result.output)
    assert count(env, Employee) == 0


def test_directory_import_missing_column_exits_1(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "people.csv"
    bad.write_text("name,email\nAlice,alice@x.example\n", encoding="utf-8")
    result = run(env, "directory", "import", str(bad))
    assert result.exit_code == 1
    assert "missingcolumn(s):slack_id" in squashed(result.output)


def test_directory_import_of_the_sample_then_again(env: dict[str, str]) -> None:
    first = run(env, "directory", "import", str(SAMPLE_DIRECTORY))
    assert first.exit_code == 0, first.output
    assert "12 created, 0 updated." in first.output
    second = run(env, "directory", "import", str(SAMPLE_DIRECTORY))
    assert second.exit_code == 0
    assert "0 created, 12 updated." in second.output
    assert count(env, Employee) == 12


def test_token_create_prints_a_working_token_once(env: dict[str, str]) -> None:
    assert run(env, "bootstrap").exit_code == 0
    result = run(env, "token", "create", "--as", "U0000ITDESK", "--name", "console")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("bo_") and "Lukas Brandt" in result.output
    from bot.db import Database, utcnow
    from bot.settings import Settings
    from bot.tokens import authenticate

    database = Database(Settings(_env_file=None, **env).resolved_database_url)  # type: ignore[arg-type]  # **env meets the typed _-options too
    with database.session_scope() as session:
        person = authenticate(session, token, now=utcnow())
        assert person is not None and person.slack_id == "U0000ITDESK"
    database.dispose()
    assert run(env, "token", "create", "--as", "UNOBODY").exit_code == 1


def test_expenses_export_writes_csv_and_refuses_bad_dates(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "claims.csv"
    assert run(env, "bootstrap").exit_code == 0
    result = run(env, "expenses", "export", str(out), "--from", "2026-11-01", "--to", "2026-11-30")
    assert result.exit_code == 0, result.output
    assert "Wrote0claims" in squashed(result.output)
    assert out.read_text(encoding="utf-8").startswith("claim_id,employee_slack_id")
    assert run(env, "expenses", "export", str(out), "--from", "2026-13-01", "--to", "2026-11-30").exit_code == 2
    assert run(env, "expenses", "export", str(out), "--from", "2026-11-30", "--to", "2026-11-01").exit_code == 2
    assert (
        run(
            env, "expenses", "export", str(out), "--from", "2026-11-01", "--to", "2026-11-30", "--status", "paid"
        ).exit_code
        == 2
    )


def test_token_list_and_revoke(env: dict[str, str]) -> None:
    assert run(env, "bootstrap").exit_code == 0
    token = run(env, "token", "create", "--as", "U0000FINANC", "--name", "ledger sync").stdout.strip().splitlines()[-1]
    listed = run(env, "token", "list")
    assert listed.exit_code == 0 and "ledger sync" in listed.output and "Amara Mensah" in listed.output
    from bot.db import Database, utcnow
    from bot.models import ApiToken
    from bot.settings import Settings
    from bot.tokens import authenticate

    database = Database(Settings(_env_file=None, **env).resolved_database_url)  # type: ignore[arg-type]  # **env meets the typed _-options too
    with database.session_scope() as session:
        token_id = session.query(ApiToken).one().id
    revoked = run(env, "token", "revoke", str(token_id))
    assert revoked.exit_code == 0, revoked.output
    with database.session_scope() as session:
        assert authenticate(session, token, now=utcnow()) is None  # refused from now on
    database.dispose()
    assert run(env, "token", "revoke", str(token_id)).exit_code == 1  # already revoked: said so
    assert run(env, "token", "revoke", "999").exit_code == 1


@pytest.mark.slow
def test_eval_answers_deploys_with_only_the_corpus_and_grades_replies_over_http(
    env: dict[str, str], tmp_path: Path
) -> None:
    corpus = tmp_path / "handbook"
    corpus.mkdir()
    (corpus / "bikes.md").write_text(
        "# Cycling to work\n\nStaff who cycle to work receive a commuter bonus of 40 euros per month. "
        "Secure bicycle storage is in the basement of the Harbour Street office.\n",
        encoding="utf-8",
    )
    (corpus / "badges.md").write_text(
        "# Building badges\n\nA lost building badge is replaced by the reception desk on the ground floor. "
        "Report the loss within one working day so the old badge can be blocked.\n",
        encoding="utf-8",
    )
    qa = tmp_path / "qa.jsonl"
    qa.write_text(
        json.dumps({"question": "how much is the commuter bonus for cycling?", "answer_keywords": ["40 euros"]})
        + "\n"
        + json.dumps({"question": "how many vacation days do I have left?", "skill": "leave", "kind": "personal"})
        + "\n",
        encoding="utf-8",
    )
    unanswerable = tmp_path / "unanswerable.jsonl"
    # The second is answered by the sample SOPs, which a company's deployment must not have indexed.
    unanswerable.write_text(
        json.dumps({"question": "when is the company ski trip this winter?"})
        + "\n"
        + json.dumps({"question": "how many vacation days do I get per year?"})
        + "\n"
    )
    result = run(env, "eval", "answers", str(corpus), str(qa), str(unanswerable), "--json")
    assert result.exit_code == 0, result.stdout
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["questions"] == 4
    assert (figures["fact_hit"], figures["abstain_on_unanswerable"], figures["personal_to_records"]) == (1.0, 1.0, 1.0)
    assert figures["misrouted"] == 0.0 and figures["latency_ms_p95"] > 0
    assert "serve--no-samples" in squashed(result.output)


def test_eval_answers_refuses_a_missing_corpus_and_a_bad_file(env: dict[str, str], tmp_path: Path) -> None:
    missing = run(env, "eval", "answers", str(tmp_path / "nope"), str(RETRIEVAL_SAMPLES))
    assert missing.exit_code == 2 and "isnotafolder" in squashed(missing.output)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "no question key"}\n')
    refused = run(env, "eval", "answers", str(tmp_path), str(bad))
    assert refused.exit_code == 2 and "bad.jsonl:1" in squashed(refused.output)


def _sources(env: dict[str, str]) -> list[str]:
    from sqlalchemy import select

    from bot.db import Database
    from bot.models import KnowledgeDocument

    database = Database(env["BACKOFFICE_DATABASE_URL"])
    try:
        with database.session_scope() as session:
            return list(session.scalars(select(KnowledgeDocument.source)))
    finally:
        database.dispose()


def test_the_companys_own_documents_take_the_samples_out_of_the_index(env: dict[str, str], tmp_path: Path) -> None:
    assert run(env, "bootstrap").exit_code == 0
    assert len(_sources(env)) == 14  # the demo: the sample SOPs
    handbook = tmp_path / "handbook"
    handbook.mkdir()
    (handbook / "leave.md").write_text("# Leave\n\nEveryone gets 31 days of paid leave a year.\n", encoding="utf-8")
    kept = run(env, "ingest", str(handbook), "--keep-samples")
    assert kept.exit_code == 0 and len(_sources(env)) == 15
    ingested = run(env, "ingest", str(handbook))
    assert ingested.exit_code == 0 and "samplesops" in squashed(ingested.output).lower()
    assert [Path(s).name for s in _sources(env)] == ["leave.md"]
    assert run(env, "bootstrap").exit_code == 0  # a restart does not bring them back
    assert [Path(s).name for s in _sources(env)] == ["leave.md"]


@pytest.mark.slow
def test_eval_intents_grades_where_each_reply_went_over_http(env: dict[str, str], tmp_path: Path) -> None:
    """A data file in CLINC150's shape (our own sentences) and a mapping: an in-scope intent, small talk and an
    out-of-scope intent, sent over HTTP to a deployment with no documents."""
    data = tmp_path / "data_full.json"
    data.write_text(
        json.dumps(
            {
                "val": [
                    ["how many vacation days do i have left", "leave_balance"],
                    ["hello there", "hello"],
                    ["play some jazz in the kitchen", "music"],
                ],
                "oos_val": [["what is the tallest tree in the world", "oos"]],
                "test": [],
                "oos_test": [],
            }
        ),
        encoding="utf-8",
    )
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"intents": {"leave_balance": "leave", "hello": "smalltalk"}}), encoding="utf-8")
    result = run(env, "eval", "intents", str(data), "--mapping", str(mapping), "--json", "--show-misses")
    assert result.exit_code == 0, result.stdout
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["messages"] == 4
    assert (figures["in_scope_accuracy"], figures["out_of_scope_recall"], figures["smalltalk_reply"]) == (1.0, 1.0, 1.0)
    assert "nodocuments" in squashed(result.output)
    missing_split = run(env, "eval", "intents", str(data), "--mapping", str(mapping), "--split", "train")
    assert missing_split.exit_code == 2 and "nosplit'train'" in squashed(missing_split.output)


@pytest.mark.slow
def test_eval_dialogues_plays_each_conversation_and_checks_the_records(env: dict[str, str], tmp_path: Path) -> None:
    """Two scripted conversations over HTTP on a clock pinned to a Tuesday: a leave request confirmed with its
    button (the record checked, its date given relative to the pinned day), and one whose expectations are
    wrong on purpose, which must fail with the reasons."""
    dialogues = tmp_path / "dialogues.jsonl"
    rows = [
        {
            "id": "monday-off",
            "behaviour": "day-count",
            "turns": [{"say": "vacation next monday please", "expect": {"skill": "leave"}}, {"click": "Confirm"}],
            "records": {
                "leave": [{"leave_type": "vacation", "start_date": "today+6", "days": 1, "status": "pending"}],
                "tickets": [],
            },
        },
        {
            "id": "wrong-on-purpose",
            "behaviour": "cancel",
            "turns": [{"say": "my laptop screen is cracked", "expect": {"skill": "expense"}}, {"click": "Submit"}],
            "records": {"tickets": []},
        },
    ]
    dialogues.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    result = run(env, "eval", "dialogues", str(dialogues), "--today", "2027-03-09T10:00:00", "--json", "--show-misses")
    assert result.exit_code == 0, result.stdout
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["dialogues"] == 2 and figures["passed"] == 0.5
    assert figures["passed[day-count]"] == "1/1" and figures["passed[cancel]"] == "0/1"
    output = squashed(result.output)
    assert "replyfromit,expectedexpense" in output and "nobutton'submit'topress" in output.lower()
    assert "tickets:expected[]" in output
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "turns": [{"say": "hi", "click": "Confirm"}]}) + "\n", encoding="utf-8")
    refused = run(env, "eval", "dialogues", str(bad))
    assert refused.exit_code == 2 and "either'say'or'click'" in squashed(refused.output)


def test_explain_says_why_a_message_goes_where_it_goes_and_stores_nothing(env: dict[str, str]) -> None:
    assert run(env, "bootstrap").exit_code == 0  # the sample SOPs
    answered = squashed(run(env, "explain", "how many vacation days do I get per year?").output)
    assert "classifier" in answered and "documents" in answered and "answered" in answered
    weather = squashed(run(env, "explain", "what's the weather like in Lisbon tomorrow?").output)
    assert "documents_first" in weather and "themenu" in weather
    personal = squashed(run(env, "explain", "how many vacation days do I have left?").output)
    assert "personal" in personal and "leave" in personal
    assert "refused" in squashed(run(env, "explain", "🎉🎉").output)
    from sqlalchemy import func, select

    from bot.db import Database
    from bot.models import ChatMessage, Escalation

    database = Database(env["BACKOFFICE_DATABASE_URL"])
    with database.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(ChatMessage)) == 0
        assert session.scalar(select(func.count()).select_from(Escalation)) == 0
    database.dispose()
