"""The web chat's feed over real HTTP (issue 19): a poll gets only what is newer, a card edited in place is found by
its revision, and a staff member's own chat holds only their conversation while their team's cards are in its queue."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import LiveServer


def feed(http: httpx.Client, server: LiveServer, user: str, path: str = "/api/feed", **params: Any) -> dict[str, Any]:
    response = http.get(f"{server.url}{path}", params={"user": user, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def say(http: httpx.Client, server: LiveServer, user: str, text: str) -> dict[str, Any]:
    reply: dict[str, Any] = http.post(f"{server.url}/api/chat", json={"user": user, "text": text}).json()
    return reply


def test_a_poll_after_the_newest_message_gets_only_the_newer_ones(
    offline_server: LiveServer, http: httpx.Client
) -> None:
    say(http, offline_server, "U0000DEVONE", "how many vacation days do I get?")
    first = feed(http, offline_server, "U0000DEVONE")["messages"]
    assert [m["direction"] for m in first] == ["in", "out"]
    newest = first[-1]["id"]
    assert feed(http, offline_server, "U0000DEVONE", after=newest)["messages"] == []

    say(http, offline_server, "U0000DEVONE", "thanks a lot!")
    newer = feed(http, offline_server, "U0000DEVONE", after=newest)["messages"]
    assert [m["direction"] for m in newer] == ["in", "out"] and all(m["id"] > newest for m in newer)
    assert newer[0]["text"] == "thanks a lot!"
    # Someone else's messages never show up in this feed.
    say(http, offline_server, "U0000DEVTWO", "thanks!")
    assert feed(http, offline_server, "U0000DEVONE", after=newer[-1]["id"])["messages"] == []
    # A bad cursor is the client's mistake.
    assert http.get(f"{offline_server.url}/api/feed", params={"user": "U0000DEVONE", "after": -1}).status_code == 422
    assert http.get(f"{offline_server.url}/api/feed", params={"user": "U0000DEVONE", "ids": "1;2"}).status_code == 422


def test_staff_see_their_own_chat_without_team_cards_and_each_team_queue_on_its_own(
    offline_server: LiveServer, http: httpx.Client
) -> None:
    ticket = say(http, offline_server, "U0000DEVONE", "my laptop won't turn on since this morning")
    assert ticket["skill"] == "it"
    escalated = say(http, offline_server, "U0000DEVTWO", "can I bring my dog to the office?")
    assert "passed your question to HR" in escalated["text"]

    # IT's own conversation is empty: the triage card is in the IT queue, with its Claim button.
    assert feed(http, offline_server, "U0000ITDESK")["messages"] == []
    it_queue = feed(http, offline_server, "U0000ITDESK", "/api/queue/it")["messages"]
    assert {m["channel"] for m in it_queue} == {"web:it"}
    assert any(b["action_id"] == "it:claim" for b in it_queue[-1]["buttons"])
    hr_queue = feed(http, offline_server, "U0000HRLEAD", "/api/queue/hr")["messages"]
    assert {m["channel"] for m in hr_queue} == {"web:hr"} and "dog" in hr_queue[-1]["text"]
    assert all(m["channel"] == "web:U0000HRLEAD" for m in feed(http, offline_server, "U0000HRLEAD")["messages"])

    # Each queue is for its team (an admin works in all of them); the page shows a tab per queue.
    for user, team in (("U0000DEVONE", "it"), ("U0000ITDESK", "hr"), ("U0000HRLEAD", "finance")):
        refused = http.get(f"{offline_server.url}/api/queue/{team}", params={"user": user})
        assert refused.status_code == 403 and "queue is for the" in refused.json()["detail"]
    assert feed(http, offline_server, "U0000ADMIN1", "/api/queue/it")["messages"] == it_queue
    assert http.get(f"{offline_server.url}/api/queue/payroll", params={"user": "U0000ADMIN1"}).status_code == 422
    queues = {p["slack_id"]: p["queues"] for p in http.get(f"{offline_server.url}/api/employees").json()}
    assert queues["U0000DEVONE"] == [] and queues["U0000ITDESK"] == ["it"] and queues["U0000FINANC"] == ["finance"]
    assert queues["U0000ADMIN1"] == ["hr", "it", "finance"]


def test_a_card_edited_in_place_shows_a_new_revision_and_is_fetched_by_its_id(
    offline_server: LiveServer, http: httpx.Client
) -> None:
    say(http, offline_server, "U0000DEVONE", "my laptop won't turn on since this morning")
    [card] = feed(http, offline_server, "U0000ITDESK", "/api/queue/it")["messages"]
    own = feed(http, offline_server, "U0000DEVONE")["messages"]
    claim = next(b for b in card["buttons"] if b["action_id"] == "it:claim")
    unchanged = feed(http, offline_server, "U0000ITDESK", "/api/queue/it", after=card["id"])
    assert unchanged == {"messages": [], "revisions": {str(card["id"]): card["rev"]}}

    clicked = http.post(
        f"{offline_server.url}/api/action",
        json={"user": "U0000ITDESK", "action_id": "it:claim", "value": claim["value"]},
    )
    assert clicked.status_code == 200

    # Nothing new in the queue: the same card, changed. The poll says which; `ids` brings just that one.
    poll = feed(http, offline_server, "U0000ITDESK", "/api/queue/it", after=card["id"])
    assert poll["messages"] == [] and poll["revisions"][str(card["id"])] != card["rev"]
    [edited] = feed(http, offline_server, "U0000ITDESK", "/api/queue/it", ids=str(card["id"]))["messages"]
    assert edited["id"] == card["id"] and edited["rev"] == poll["revisions"][str(card["id"])]
    assert edited["text"] != card["text"] and "Lukas Brandt" in edited["text"]
    # The employee's poll: their ticket card changed too, and the note that IT is on it is the one new message.
    mine = feed(http, offline_server, "U0000DEVONE", after=own[-1]["id"])
    assert [m["text"] for m in mine["messages"]] == ["Lukas Brandt from IT is on your ticket #1."]
    assert mine["revisions"][str(own[-1]["id"])] != own[-1]["rev"]
    # `ids` only ever returns messages of the view asked for.
    assert feed(http, offline_server, "U0000DEVONE", ids=str(card["id"]))["messages"] == []
