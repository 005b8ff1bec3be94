"""Slack payloads turned into a `Message` once: a message event, a button click or select, a submitted form; and
the workspaces a request names."""

from __future__ import annotations

from typing import Any

from bot.messages import FileRef, Message
from bot.text_clean import clean_json
from integrations.slack import action_id_of


def event_message(event: dict[str, Any], channel_type: str) -> Message:
    event = clean_json(event)  # NUL, control and bidi characters never reach a reply, a ticket or the database
    files = tuple(
        FileRef(
            id=str(f.get("id", "")),
            name=str(f.get("name", "")),
            mimetype=str(f.get("mimetype", "")),
            size=int(f.get("size", 0) or 0),
            url=f.get("url_private_download") or f.get("url_private"),
        )
        for f in event.get("files", []) or []
        if isinstance(f, dict)
    )
    return Message(
        user_id=str(event.get("user", "")),
        text=str(event.get("text", "") or ""),
        channel=str(event.get("channel", "")),
        platform="slack",
        thread_ts=event.get("thread_ts"),
        ts=event.get("ts"),
        channel_type=channel_type,
        files=files,
    )


def action_message(body: dict[str, Any]) -> Message:
    body = clean_json(body)
    action = (body.get("actions") or [{}])[0]
    message = body.get("message") or {}
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id") or ""
    action_id = action_id_of(str(action.get("action_id", "")))
    value = str(action.get("value", "") or "")
    form: dict[str, str] = {}
    if "|" in action_id:  # a select: its value travels in the action_id (see integrations.slack.render_blocks)
        action_id, value = action_id.split("|", 1)
    if action.get("selected_user"):
        form["selected"] = str(action["selected_user"])
    elif isinstance(action.get("selected_option"), dict):
        form["selected"] = str(action["selected_option"].get("value", ""))
    return Message(
        user_id=str((body.get("user") or {}).get("id", "")),
        text="",
        channel=str(channel),
        platform="slack",
        thread_ts=message.get("thread_ts") or container.get("thread_ts"),
        ts=message.get("ts") or container.get("message_ts"),
        channel_type="im" if str(channel).startswith("D") else "channel",
        action_id=action_id,
        action_value=value,
        form=form,
        trigger_id=body.get("trigger_id"),
    )


def _element_value(element: Any) -> str:
    """The submitted value of a text input, a date picker or a select."""
    if not isinstance(element, dict):
        return ""
    if "selected_date" in element:
        return str(element.get("selected_date") or "")
    if "selected_option" in element:
        return str((element.get("selected_option") or {}).get("value", ""))
    return str(element.get("value") or "")


def view_message(body: dict[str, Any]) -> Message:
    body = clean_json(body)
    view = body.get("view") or {}
    form: dict[str, str] = {}
    for block_id, actions in ((view.get("state") or {}).get("values") or {}).items():
        for action_id, element in (actions or {}).items():
            form[action_id or block_id] = _element_value(element)
    user = str((body.get("user") or {}).get("id", ""))
    return Message(
        user_id=user,
        text="",
        channel=user,
        platform="slack",
        channel_type="im",
        action_id=str(view.get("callback_id", "")),
        action_value=str(view.get("private_metadata", "") or ""),
        form=form,
    )


def json_object(value: Any) -> dict[str, Any]:
    """The value if it is a JSON object, else an empty one (a payload field may be missing or of another type)."""
    return value if isinstance(value, dict) else {}


def teams_of(body: dict[str, Any]) -> set[str]:
    """Every workspace a Slack request names: the one it came through, and the one of the person who wrote or
    clicked (they differ in a channel shared with another organisation)."""
    event = json_object(body.get("event"))
    named = (
        body.get("team_id"),  # events, slash commands
        json_object(body.get("team")).get("id"),  # clicks, forms
        json_object(body.get("user")).get("team_id"),  # who clicked
        event.get("team"),  # who wrote
        event.get("user_team"),
        event.get("source_team"),
    )
    return {str(team) for team in named if team}
