"""Knowledge audiences end to end: documents tagged everyone / managers / hr / it, asked about by every role in
a public channel (signed app_mention), a DM (message.im) and the web chat. A restricted document is never
cited, nor its text shown, to someone outside its audience; public channels get everyone-documents only,
even for HR and managers; someone who may read the restricted answer gets it by DM, with a short note in the
channel; HR's escalation cards (a shared channel) name only everyone-documents."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.directory import import_csv
from bot.messages import Message
from bot.models import ChatMessage, Escalation, KnowledgeDocument
from bot.runtime import Runtime, build_runtime
from knowledge.loaders import parse_markdown
from skills.policy.skill import BY_DM
from tests.conftest import LiveServer, make_settings
from tests.slack_payloads import app_mention, block_actions, message_event, post_event, post_interaction
from tests.slack_standin import Call, SlackStandIn

HR_CHANNEL = "C0HRQUEUE1"
PEOPLE = {
    "employee": "U0AUEMP001",
    "manager": "U0AUMGR001",
    "hr": "U0AUHR0001",
    "it": "U0AUIT0001",
    "finance": "U0AUFIN001",
    "admin": "U0AUADM001",
}
DIRECTORY = """slack_id,name,email,tz,country,manager_slack_id,roles
U0AUADM001,Ada Admin,,UTC,US,,admin
U0AUMGR001,Max Manager,,UTC,US,U0AUADM001,manager
U0AUEMP001,Erin Employee,,UTC,US,U0AUMGR001,employee
U0AUHR0001,Hana Hr,,UTC,US,U0AUADM001,hr
U0AUIT0001,Ivan It,,UTC,US,U0AUADM001,it
U0AUFIN001,Fay Finance,,UTC,US,U0AUADM001,finance
"""


@dataclass(frozen=True)
class Doc:
    audience: str
    file: str
    title: str
    question: str
    answer_words: tuple[str, ...]  # distinctive words of the answer: shown only to the audience
    body: str

    @property
    def markers(self) -> tuple[str, ...]:
        return (self.title, *self.answer_words)


DOCS = (
    Doc(
        "everyone",
        "office-plants.md",
        "Office plants",
        "is there a policy about potted plants on desks?",
        ("one potted plant",),
        """## Plants at your desk
Each desk may hold one potted plant of your own. Plants taller than one metre need the facilities team's approval
first.

## Watering shared plants
The facilities team waters the shared plants every Tuesday morning. Please do not water the shared plants yourself.
""",
    ),
    Doc(
        "managers",
        "merit-increases.md",
        "Merit increase guide for managers",
        "what is the merit increase pool this year?",
        ("BLUEHERON", "4.7 percent"),
        """## Merit increase pool
The merit increase pool this year is 4.7 percent of base salary, tracked under the code name BLUEHERON.
Managers propose merit increases for their reports in the BLUEHERON sheet before the end of February.

## Promotion budget
Promotions are funded from a separate BLUEHERON promotion budget of 1.5 percent of base salary.
""",
    ),
    Doc(
        "hr",
        "grievance-investigations.md",
        "Grievance investigation handbook",
        "where do we log a grievance investigation?",
        ("CASSOWARY",),
        """## Logging a grievance
Every grievance investigation is logged in the CASSOWARY register within 48 hours of the complaint.
Only the HR business partner assigned to the case may open the CASSOWARY register entry.

## Interview notes
Interview notes from a grievance investigation are stored in the CASSOWARY vault for seven years.
""",
    ),
    Doc(
        "it",
        "break-glass.md",
        "Break-glass server access runbook",
        "what is the policy for break-glass administrator credentials?",
        ("KESTREL",),
        """## Break-glass accounts
The break-glass administrator credentials are sealed in the KESTREL safe in the server room.
Opening the KESTREL safe needs two members of the IT team, who both sign the KESTREL log.

## After using break-glass access
Rotate the break-glass password within one hour and record the rotation in the KESTREL log.
""",
    ),
)
RESTRICTED = tuple(d for d in DOCS if d.audience != "everyone")
# Who belongs to each audience (the admin role includes every other role).
MEMBERS = {
    "everyone": frozenset(PEOPLE),
    "managers": frozenset({"manager", "admin"}),
    "hr": frozenset({"hr", "admin"}),
    "it": frozenset({"it", "admin"}),
}
CHANNELS = ("public", "dm", "web")


@dataclass
class Env:
    rt: Runtime
    slack: SlackStandIn
    url: str
    http: httpx.Client
    rows: int = 0


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("audience")
    sops = tmp / "sops"
    sops.mkdir()
    for doc in DOCS:
        front = f"---\ntitle: {doc.title}\naudience: {doc.audience}\n---\n# {doc.title}\n\n"
        (sops / doc.file).write_text(front + doc.body, encoding="utf-8")
    slack = SlackStandIn().start()
    rt = build_runtime(make_settings(tmp, f"sqlite:///{tmp / 'audience.db'}", slack))
    with rt.database.session_scope() as session:
        assert not import_csv(session, DIRECTORY).errors
        report = rt.index.ingest(session, [sops])
        assert len(report.added) == len(DOCS), report.summary()
    try:
        with LiveServer(rt) as live, httpx.Client(timeout=30) as http:
            yield Env(rt=rt, slack=slack, url=live.url, http=http)
    finally:
        rt.close()
        slack.stop()


def visible_text(value: Any) -> str:
    """Everything a person could read in a message: its text, blocks, citations and buttons."""
    return json.dumps(value, ensure_ascii=False)


def wait_for(slack: SlackStandIn, start: int, match: Any, timeout: float = 15.0) -> Call:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for call in slack.calls[start:]:
            if call.method in ("chat.postMessage", "chat.postEphemeral") and match(call):
                return call
        time.sleep(0.01)
    raise AssertionError(f"no matching post in {[(c.method, c.params.get('text')) for c in slack.calls[start:]]}")


@dataclass
class Asked:
    reply: str  # what the asker saw where they asked (text, sources, buttons)
    dm: str  # what reached them by DM meanwhile ("" if nothing)
    shared: str  # everything posted in shared channels meanwhile (the channel they asked in, the HR queue)


def ask(e: Env, role: str, channel: str, question: str) -> Asked:
    user = PEOPLE[role]
    e.rows += 1
    start = len(e.slack.calls)
    if channel == "web":
        response = e.http.post(f"{e.url}/api/chat", json={"user": user, "text": question})
        assert response.status_code == 200
        data = response.json()
        assert data["skill"] == "policy", data
        e.rt.outbox.deliver_pending()
        reply = visible_text(data)
    else:
        where = f"C0AUPUB{e.rows:03d}" if channel == "public" else f"D0AUDM{e.rows:04d}"
        payload = (
            app_mention(user, question, where) if channel == "public" else message_event(user, question, where, "im")
        )
        assert post_event(e.http, e.url, payload).status_code == 200
        reply = visible_text(wait_for(e.slack, start, lambda c: c.params.get("channel") == where).params)
        with e.rt.database.session_scope() as session:
            asked = session.scalar(select(ChatMessage).where(ChatMessage.slack_ts == payload["event"]["ts"]))
            assert asked is not None and asked.skill == "policy", asked and asked.skill
    calls = e.slack.calls[start:]
    posts = [c for c in calls if c.method in ("chat.postMessage", "chat.update")]
    dm = visible_text([c.params for c in posts if c.params.get("channel") == user])
    shared = visible_text([c.params for c in posts if str(c.params.get("channel", "")).startswith("C")])
    return Asked(reply=reply, dm=dm if dm != "[]" else "", shared=shared)


def rows() -> list[Any]:
    return [
        pytest.param(doc, role, channel, id=f"{doc.audience}-doc-{role}-{channel}")
        for doc in DOCS
        for role in PEOPLE
        for channel in CHANNELS
    ]


@pytest.mark.parametrize(("doc", "role", "channel"), rows())
def test_restricted_documents_reach_only_their_audience(env: Env, doc: Doc, role: str, channel: str) -> None:
    asked = ask(env, role, channel, doc.question)
    said = f"{role} asked about the {doc.audience} document in a {channel} channel: {asked}"
    allowed = role in MEMBERS[doc.audience]

    # Nothing restricted is ever shown outside its audience, nor posted in a shared channel.
    for other in RESTRICTED:
        for marker in other.markers:
            assert marker not in asked.shared, f"{marker!r} in a shared channel: {said}"
            if role not in MEMBERS[other.audience]:
                assert marker not in asked.reply + asked.dm, f"{marker!r} leaked: {said}"

    if doc.audience == "everyone":  # answered right where it was asked, with its source
        assert doc.title in asked.reply and doc.answer_words[0] in asked.reply, said
    elif not allowed:
        assert "passed your question to HR" in asked.reply, said
    elif channel == "public":  # the channel gets a note; the answer goes by DM
        assert BY_DM in asked.reply, said
        assert doc.title in asked.dm and doc.answer_words[0] in asked.dm, said
    else:
        assert doc.title in asked.reply and doc.answer_words[0] in asked.reply, said


def test_escalation_cards_name_only_everyone_documents(env: Env) -> None:
    """A manager's question in a DM that the managers' guide touches but doesn't answer goes to HR; the card
    in HR's channel (shared) lists only everyone-documents among the sources found."""
    question = "can merit increases be paid in stock options to contractors in Brazil?"
    hits = env.rt.index.search(question, k=5, audiences=["everyone", "managers"])
    assert any(h.audience == "managers" for h in hits)  # the guide is among the best passages found
    asked = ask(env, "manager", "dm", question)
    assert "passed your question to HR" in asked.reply
    card = visible_text([c.params for c in env.slack.calls if c.params.get("channel") == HR_CHANNEL])
    assert "contractors in Brazil" in card
    for doc in RESTRICTED:
        for marker in doc.markers:
            assert marker not in card
    with env.rt.database.session_scope() as session:
        escalation = session.scalars(select(Escalation).where(Escalation.question == question)).one()
        assert {s["title"] for s in escalation.sources} <= {"Office plants"}


def test_ask_hr_from_a_restricted_dm_answer_keeps_the_hr_card_clean(env: Env) -> None:
    """The DM answer's Ask HR button escalates the question asked in the channel; the card shows no
    restricted source either."""
    doc = next(d for d in RESTRICTED if d.audience == "managers")
    asked = ask(env, "manager", "public", doc.question)
    assert BY_DM in asked.reply
    dm = next(
        c
        for c in reversed(env.slack.calls)
        if c.method == "chat.postMessage" and c.params.get("channel") == PEOPLE["manager"]
    )
    ask_hr = next(
        e
        for block in dm.params["blocks"]
        for e in block.get("elements", [])
        if str(e.get("action_id", "")) == "policy:ask_hr"
    )
    start = len(env.slack.calls)
    post_interaction(
        env.http, env.url, block_actions(PEOPLE["manager"], "policy:ask_hr", ask_hr["value"], "D0AUMGR001", "1.1")
    )
    card = wait_for(env.slack, start, lambda c: c.params.get("channel") == HR_CHANNEL)
    assert doc.question in card.params["text"]
    for marker in doc.markers:
        assert marker not in visible_text(card.params)


@pytest.mark.parametrize(
    ("skill", "question"),
    [
        ("it", "how do I get break-glass administrator access to a server?"),
        ("leave", "does my leave request affect my merit increase?"),
        ("expense", "what receipts does my expense claim need for the merit increase review?"),
    ],
)
def test_other_skills_use_only_everyone_documents_in_shared_channels(env: Env, skill: str, question: str) -> None:
    """Questions on IT, leave and expense topics are answered from the knowledge base (by the policy skill, on
    the topic's behalf): in a public channel, everyone-documents only, even for the admin (who may read every
    document in a DM, where such an answer goes)."""
    e = env
    e.rows += 1
    where = f"C0AUANY{e.rows:03d}"
    start = len(e.slack.calls)
    payload = app_mention(PEOPLE["admin"], question, where)
    assert post_event(e.http, e.url, payload).status_code == 200
    wait_for(e.slack, start, lambda c: c.params.get("channel") == where)
    with e.rt.database.session_scope() as session:
        asked = session.scalar(select(ChatMessage).where(ChatMessage.slack_ts == payload["event"]["ts"]))
        assert asked is not None and asked.skill == "policy"  # a question, not a request to the skill
        route = e.rt.assistant.router.route(
            Message(user_id=PEOPLE["admin"], text=question, channel=where, platform="slack")
        )
    # The channel sees everyone-documents only (a role document's answer may go to the asker's own DM).
    posted = [c.params for c in e.slack.calls[start:] if c.params.get("channel") == where]
    seen = visible_text(posted)
    assert seen
    # On the skill's subject: sent on the skill's behalf, or (a policy question naming it) its action offered.
    assert route.topic == skill or f'"action_id": "{skill}:' in json.dumps(posted)
    for doc in RESTRICTED:
        for marker in doc.markers:
            assert marker not in seen, (question, seen)


def test_documents_with_an_audience_keep_it_in_the_index(env: Env) -> None:
    with env.rt.database.session_scope() as session:
        audiences = {row.title: row.audience for row in session.scalars(select(KnowledgeDocument))}
    assert {doc.title: doc.audience for doc in DOCS}.items() <= audiences.items()


@pytest.mark.parametrize("written", ["manager", "HR team", "it-only"])
def test_a_misspelled_audience_does_not_publish_the_document(written: str) -> None:
    from knowledge.loaders import BadFrontMatter

    with pytest.raises(BadFrontMatter, match="unknown audience"):
        parse_markdown(f"---\ntitle: Pay bands\naudience: {written}\n---\nBand C starts at 91,000.\n", "pay")
