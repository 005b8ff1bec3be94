"""The Slack stand-in rejects what Slack rejects (tests/block_kit.py), and what the product renders passes it."""

from __future__ import annotations

from bot.messages import Button, Modal, ModalField, Reply
from bot.slack_payloads import action_message
from integrations.slack import action_id_of, render_blocks, render_modal
from tests.block_kit import block_errors, view_errors
from tests.slack_payloads import block_actions


def test_what_slack_rejects_is_rejected() -> None:
    button = {"type": "button", "action_id": "it:priority", "text": {"type": "plain_text", "text": "P1"}, "value": "1"}
    repeated = [{"type": "actions", "elements": [button, dict(button)]}]
    assert any("already exists" in e for e in block_errors(repeated))
    long_text = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    assert block_errors(long_text)
    assert block_errors([{"type": "section", "text": {"type": "mrkdwn", "text": ""}}])  # empty text
    assert block_errors([{"type": "divider"}] * 51)  # over 50 blocks
    two_ids = [{"type": "divider", "block_id": "a"}, {"type": "divider", "block_id": "a"}]
    assert block_errors(two_ids)
    assert view_errors({"type": "modal", "title": {"type": "plain_text", "text": "x" * 25}, "blocks": []})
    assert block_errors([{"type": "divider"}, {"type": "section", "text": {"type": "mrkdwn", "text": "ok"}}]) == []


def test_a_card_whose_buttons_share_an_action_id_renders_valid_and_clicks_back_to_it() -> None:
    reply = Reply(
        text="*Ticket #7* Printer on fire",
        buttons=[Button("it:priority", f"P{n}", f"7:P{n}") for n in range(1, 5)]
        + [Button("it:rate", str(n), f"7:{n}") for n in range(1, 6)],
    )
    blocks = render_blocks(reply.text, reply.payload())
    assert block_errors(blocks) == []
    ids = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert len(set(ids)) == len(ids) == 9
    second = next(e for b in blocks if b["type"] == "actions" for e in b["elements"] if e["value"] == "7:P2")
    clicked = action_message(block_actions("U0000DEVONE", second["action_id"], "7:P2", "C0ITTRIAGE", "1.2"))
    assert (clicked.action_id, clicked.action_value) == ("it:priority", "7:P2")
    assert action_id_of("expense:confirm") == "expense:confirm"


def test_modals_render_valid() -> None:
    modal = Modal(
        callback_id="leave:form",
        title="Edit leave request",
        fields=(ModalField("start", "First day off", kind="date"), ModalField("reason", "Reason", optional=True)),
        private_metadata="12",
        submit_label="Save",
    )
    assert view_errors(render_modal(modal)) == []
