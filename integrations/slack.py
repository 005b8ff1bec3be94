"""The Slack Web API: one configured WebClient (base URL from settings, retries on 429/5xx/connection
errors), Block Kit rendering of replies, and the poster/user-lookup used by the outbox and directory."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.directory import SlackProfile
from bot.messages import (
    FEEDBACK_DOWN,
    FEEDBACK_UP,
    Modal,
    ModalField,
    buttons_from_payload,
    citations_from_payload,
    selects_from_payload,
)
from bot.outbox import DeliveryError, Posted
from skills.leave.home import HomeSection

log = logging.getLogger(__name__)
SECTION_LIMIT = 2900  # Slack rejects section text over 3000 characters
VIEW_BLOCKS = 100  # Slack rejects a view (the App Home) with more blocks


def make_client(token: str, base_url: str) -> WebClient:
    """A WebClient that honours Retry-After on 429 and retries transient failures."""
    if not base_url.endswith("/"):
        base_url += "/"
    client = WebClient(token=token, base_url=base_url, timeout=15)
    client.retry_handlers.extend(
        [
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
            ConnectionErrorRetryHandler(max_retry_count=2),
        ]
    )
    return client


def render_blocks(text: str, payload: dict[str, Any], *, message_id: int | None = None) -> list[dict[str, Any]]:
    """Block Kit for a reply: the text, its sources, its buttons, and 👍/👎 when the payload asks for them
    (they need the stored message id to know which answer is rated)."""
    blocks: list[dict[str, Any]] = []
    for start in range(0, max(len(text), 1), SECTION_LIMIT):
        piece = text[start : start + SECTION_LIMIT]
        if piece:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": piece}})
    citations = citations_from_payload(payload)
    if citations:
        elements = [{"type": "mrkdwn", "text": f"📄 *{c.label}* — {_link(c.location)}"} for c in citations[:10]]
        blocks.append({"type": "context", "elements": elements})
    buttons = [_button(b.action_id, b.text, b.value, b.style) for b in buttons_from_payload(payload)]
    if payload.get("feedback") and message_id is not None:
        buttons += [
            _button(FEEDBACK_UP, "👍", str(message_id), None),
            _button(FEEDBACK_DOWN, "👎", str(message_id), None),
        ]
    # A select's action_id carries its value after "|" (Slack's user select has no value field).
    selects = [
        {
            "type": "users_select",
            "action_id": f"{s.action_id}|{s.value}",
            "placeholder": {"type": "plain_text", "text": s.placeholder[:150]},
        }
        for s in selects_from_payload(payload)
    ]
    if buttons or selects:
        blocks.append({"type": "actions", "elements": _unique_action_ids((buttons + selects)[:25])})
    return blocks


REPEAT_MARK = "#"  # "it:priority#2": the second button of a message with that action_id


def _unique_action_ids(elements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Slack rejects a message whose elements repeat an action_id (invalid_blocks): the second and later ones
    carry "#2", "#3"… (the priority buttons of a triage card are all `it:priority`); `action_id_of` takes it off."""
    seen: dict[str, int] = {}
    for element in elements:
        action_id = str(element["action_id"])
        seen[action_id] = seen.get(action_id, 0) + 1
        if seen[action_id] > 1:
            element["action_id"] = f"{action_id}{REPEAT_MARK}{seen[action_id]}"[:255]
    return elements


def action_id_of(slack_action_id: str) -> str:
    """Our action id from the one Slack sends back (without the "#n" of a repeated one)."""
    base, mark, count = slack_action_id.rpartition(REPEAT_MARK)
    return base if mark and count.isdigit() else slack_action_id


def _link(location: str) -> str:
    return f"<{location}|link>" if location.startswith(("http://", "https://")) else f"`{location}`"


def _button(action_id: str, text: str, value: str, style: str | None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": text[:75], "emoji": True},
        "value": value[:2000],
    }
    if style:
        button["style"] = style
    return button


def render_modal(modal: Modal) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": modal.callback_id,
        "private_metadata": modal.private_metadata,
        "title": {"type": "plain_text", "text": modal.title[:24]},
        "submit": {"type": "plain_text", "text": modal.submit_label[:24]},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": field.name,
                "optional": field.optional,
                "label": {"type": "plain_text", "text": field.label[:2000]},
                "element": _modal_element(field),
            }
            for field in modal.fields
        ],
    }


def _modal_element(field: ModalField) -> dict[str, Any]:
    if field.kind == "date":
        return {
            "type": "datepicker",
            "action_id": field.name,
            **({"initial_date": field.initial} if field.initial else {}),
        }
    if field.kind == "select":
        options = [
            {"text": {"type": "plain_text", "text": label[:75]}, "value": value} for value, label in field.options
        ]
        element: dict[str, Any] = {"type": "static_select", "action_id": field.name, "options": options}
        chosen = [o for o in options if o["value"] == field.initial]
        if chosen:
            element["initial_option"] = chosen[0]
        return element
    return {
        "type": "plain_text_input",
        "action_id": field.name,
        "multiline": field.multiline,
        **({"initial_value": field.initial} if field.initial else {}),
    }


def render_home(sections: list[HomeSection]) -> list[dict[str, Any]]:
    """App Home blocks: a header and a list per section. A long list takes several section blocks of whole lines,
    as many as the view's 100 blocks leave it after the sections below; what doesn't fit is counted in a last
    line, "…and N more — see the console"."""
    blocks: list[dict[str, Any]] = []
    for number, section in enumerate(sections):
        blocks.append({"type": "header", "text": {"type": "plain_text", "text": section.title[:150]}})
        room = VIEW_BLOCKS - len(blocks) - 2 * (len(sections) - number - 1)  # a header and a list for each below
        for text in _home_list(section, max(room, 1)):
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    return blocks[:VIEW_BLOCKS]


def _home_list(section: HomeSection, room: int) -> list[str]:
    """The texts of at most `room` section blocks listing `section.lines`, each line whole, then how many more
    there are (the ones that didn't fit and `section.hidden`)."""
    if not section.lines and not section.hidden:
        return ["—"]
    # The last block keeps room for the "and N more" line, however many that turns out to be.
    reserve = len(_and_more(len(section.lines) + section.hidden, section.more_url)) + 1
    pages: list[list[str]] = [[]]
    size = -1  # the length of the last page's text, once joined
    shown = 0
    for line in section.lines:
        item = f"• {line}"[: SECTION_LIMIT - reserve]
        limit = SECTION_LIMIT - (reserve if len(pages) == room else 0)
        if pages[-1] and size + 1 + len(item) > limit:
            if len(pages) == room:
                break
            pages.append([])
            size = -1
        pages[-1].append(item)
        size += 1 + len(item)
        shown += 1
    left = len(section.lines) - shown + section.hidden
    if left:
        more = _and_more(left, section.more_url)
        if pages[-1] and size + 1 + len(more) > SECTION_LIMIT:
            pages.append([])
        pages[-1].append(more)
    return ["\n".join(page) for page in pages]


def _and_more(count: int, url: str) -> str:
    where = f"<{url}|the console>" if url else "the console"
    return f"…and {count} more — see {where}"


OUTBOX_EVENT = "backoffice_outbox"  # message metadata type that carries the outbox id of a post


def delivery_error(exc: Exception) -> DeliveryError:
    """Classify a failed Web API call: 429 (with its Retry-After), 5xx and network errors are transient."""
    if isinstance(exc, SlackApiError):
        status = int(getattr(exc.response, "status_code", 200) or 200)
        error = str(exc.response.get("error", "")) if exc.response is not None else ""
        if status == 429 or error == "ratelimited":
            retry_after = (exc.response.headers or {}).get("Retry-After") or (exc.response.headers or {}).get(
                "retry-after"
            )
            return DeliveryError(f"rate limited: {error}", transient=True, retry_after=_seconds(retry_after))
        transient = status >= 500 or error in {
            "internal_error",
            "fatal_error",
            "service_unavailable",
            "request_timeout",
        }
        return DeliveryError(f"Slack said {status} {error}", transient=transient)
    return DeliveryError(f"{type(exc).__name__}: {exc}", transient=True)


def _seconds(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class SlackGateway:
    """Posting, updating and user look-ups through one WebClient."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def post(
        self,
        *,
        channel: str,
        text: str,
        thread_ts: str | None,
        payload: dict[str, Any],
        message_id: int | None = None,
        outbox_id: int | None = None,
    ) -> Posted:
        """Post in a channel or thread; links are never unfurled. Posting to a user id opens their DM;
        the returned channel is the real one (a DM "D…" id), which chat.update needs. The outbox id rides
        along as message metadata, so a post whose answer was lost can be found instead of posted twice."""
        metadata = {"event_type": OUTBOX_EVENT, "event_payload": {"outbox_id": outbox_id}} if outbox_id else None
        try:
            response = self.client.chat_postMessage(
                channel=channel,
                text=text,
                thread_ts=thread_ts,
                blocks=render_blocks(text, payload, message_id=message_id),
                unfurl_links=False,
                unfurl_media=False,
                metadata=metadata,
            )
        except Exception as exc:  # noqa: BLE001 - classified for the outbox's retry decision
            raise delivery_error(exc) from exc
        return Posted(channel=str(response.get("channel") or channel), ts=str(response["ts"]))

    def update(self, *, channel: str, ts: str, text: str, payload: dict[str, Any]) -> None:
        try:
            self.client.chat_update(channel=channel, ts=ts, text=text, blocks=render_blocks(text, payload))
        except Exception as exc:  # noqa: BLE001 - classified for the outbox's retry decision
            raise delivery_error(exc) from exc

    def find_posted(self, *, channel: str, thread_ts: str | None, outbox_id: int, since: datetime) -> Posted | None:
        """Look for the post of outbox item `outbox_id` in the channel (or thread) since `since`."""
        try:
            if channel.startswith(("U", "W")):  # a DM is looked up by its conversation id
                channel = str(self.client.conversations_open(users=channel)["channel"]["id"])
            if since.tzinfo is None:  # SQLite gives back naive UTC; .timestamp() would read it as local time
                since = since.replace(tzinfo=UTC)
            oldest = f"{since.timestamp() - 60:.6f}"
            if thread_ts:
                response = self.client.conversations_replies(
                    channel=channel, ts=thread_ts, oldest=oldest, include_all_metadata=True, limit=200
                )
            else:
                response = self.client.conversations_history(
                    channel=channel, oldest=oldest, include_all_metadata=True, limit=200
                )
        except Exception as exc:  # noqa: BLE001
            error = delivery_error(exc)
            if error.transient:  # cannot tell now: retry later rather than risk a duplicate
                raise error from exc
            # No history access (scope, channel): a possible duplicate is better than a lost message.
            log.warning("cannot look up earlier posts in %s (%s); posting again", channel, error)
            return None
        for message in response.get("messages") or []:
            metadata = message.get("metadata") or {}
            if metadata.get("event_type") != OUTBOX_EVENT:
                continue
            if str((metadata.get("event_payload") or {}).get("outbox_id")) == str(outbox_id):
                return Posted(channel=channel, ts=str(message["ts"]))
        return None

    def lookup_user(self, slack_id: str) -> SlackProfile | None:
        try:
            response = self.client.users_info(user=slack_id)
        except SlackApiError as exc:
            log.warning("users.info failed for %s: %s", slack_id, exc.response.get("error"))
            return None
        user = response.get("user") or {}
        profile = user.get("profile") or {}
        return SlackProfile(
            slack_id=slack_id,
            name=profile.get("real_name") or user.get("real_name") or user.get("name") or slack_id,
            email=profile.get("email"),
            tz=user.get("tz"),
        )
