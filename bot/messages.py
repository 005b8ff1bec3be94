"""Platform-neutral message types: the Slack edge, the web chat and the CLI all build a `Message`
and render a `Reply`; skills never see Slack payloads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Platform = Literal["slack", "web", "cli"]


@dataclass(frozen=True)
class FileRef:
    """A file shared with a message (fetched later by the skill that needs it)."""

    id: str
    name: str
    mimetype: str
    size: int
    url: str | None = None


@dataclass(frozen=True)
class Message:
    """One thing an employee said or clicked."""

    user_id: str
    text: str
    channel: str
    platform: Platform
    thread_ts: str | None = None
    ts: str | None = None
    channel_type: str = "im"
    action_id: str | None = None
    action_value: str | None = None
    form: dict[str, str] = field(default_factory=dict)
    files: tuple[FileRef, ...] = ()
    trigger_id: str | None = None

    @property
    def conversation_thread(self) -> str:
        """The thread this exchange belongs to: an existing thread, else the message itself starts one."""
        return self.thread_ts or self.ts or "main"

    @property
    def is_action(self) -> bool:
        return self.action_id is not None

    @classmethod
    def web_click(cls, user_id: str, action_id: str, value: str, form: dict[str, str] | None = None) -> Message:
        """`user_id` pressing a button (or submitting a form) in the web chat or the staff console: the same action
        a Slack button sends, answered in the person's web channel."""
        return cls(
            user_id=user_id,
            text="",
            channel=f"web:{user_id}",
            platform="web",
            action_id=action_id,
            action_value=value,
            form=form or {},
        )


@dataclass(frozen=True)
class Button:
    action_id: str
    text: str
    value: str = ""
    style: Literal["primary", "danger"] | None = None


@dataclass(frozen=True)
class Select:
    """A pick-one control under a message: kind "users" lists workspace members (Slack's user select).
    The choice comes back as an action with `value` and form["selected"]."""

    action_id: str
    placeholder: str
    value: str = ""
    kind: Literal["users"] = "users"


@dataclass(frozen=True)
class Citation:
    title: str
    heading: str
    location: str

    @property
    def label(self) -> str:
        return f"{self.title} › {self.heading}" if self.heading else self.title

    def to_dict(self) -> dict[str, str]:
        return {"title": self.title, "heading": self.heading, "location": self.location}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Citation:
        return cls(title=str(data["title"]), heading=str(data.get("heading", "")), location=str(data["location"]))


@dataclass(frozen=True)
class ModalField:
    """A form input. kind "date" holds an ISO date; kind "select" one of `options` (value, label)."""

    name: str
    label: str
    multiline: bool = False
    initial: str = ""
    optional: bool = False
    kind: Literal["text", "date", "select"] = "text"
    options: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Modal:
    """A form to open (Slack modal, web dialog). Its submission comes back as a Message with action_id
    = callback_id and action_value = private_metadata."""

    callback_id: str
    title: str
    fields: tuple[ModalField, ...]
    private_metadata: str = ""
    submit_label: str = "Submit"


# The 👍/👎 the edges add under a reply that asks for feedback (`Reply.feedback`); the assistant counts the votes.
FEEDBACK = "feedback"  # also the prefix of their action ids
FEEDBACK_UP = "feedback:up"
FEEDBACK_DOWN = "feedback:down"


@dataclass
class Reply:
    """What a skill answers. `feedback` asks the edge to add 👍/👎 under it."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    selects: list[Select] = field(default_factory=list)
    modal: Modal | None = None
    ephemeral: bool = False
    feedback: bool = False
    skill: str | None = None
    confidence: float | None = None
    # True only when the reply asserts an answer taken from the documents (not an escalation, form or menu).
    answered: bool = False
    message_id: int | None = None  # set by the assistant once the reply is stored
    # A card that later changes in place (notifications with the same key edit it instead of posting).
    update_key: str | None = None
    # A skill's note to itself, kept with the stored reply (e.g. the request text awaiting an answer).
    memo: dict[str, str] = field(default_factory=dict)
    # The replies to the other requests of the same message ("monday off, also my keyboard is broken"), each
    # stored and delivered like this one.
    more: list[Reply] = field(default_factory=list)

    def payload(self) -> dict[str, Any]:
        """The renderable parts, as stored with the message and in the outbox."""
        data: dict[str, Any] = {
            "feedback": self.feedback,
            "answered": self.answered,
            "citations": [c.to_dict() for c in self.citations],
            "buttons": [
                {"action_id": b.action_id, "text": b.text, "value": b.value, "style": b.style} for b in self.buttons
            ],
        }
        if self.selects:
            data["selects"] = [
                {"action_id": s.action_id, "placeholder": s.placeholder, "value": s.value, "kind": s.kind}
                for s in self.selects
            ]
        if self.memo:
            data["memo"] = dict(self.memo)
        return data


def seen(row_id: int, revision: int) -> str:
    """An approval button's value: the row and the revision its approver is shown ("12@3")."""
    return f"{row_id}@{revision}"


def seen_revision(value: str | None) -> int | None:
    """The revision an approval button was shown with (None for a value without one: a console form)."""
    _row, mark, revision = (value or "").partition("@")
    return int(revision) if mark and revision.isdigit() and len(revision) < 10 else None


def escape_mrkdwn(text: str) -> str:
    """People's words reposted in a message: &, < and > escaped, so "<!channel>", "<@U…>" or a link typed by
    someone ("<https://evil|payroll.example.com>") is shown as text in Slack, never a ping or a disguised link.
    (The web chat shows the text as it was typed.)"""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def buttons_from_payload(payload: dict[str, Any]) -> list[Button]:
    return [
        Button(action_id=b["action_id"], text=b["text"], value=b.get("value", ""), style=b.get("style"))
        for b in payload.get("buttons", [])
    ]


def selects_from_payload(payload: dict[str, Any]) -> list[Select]:
    return [
        Select(action_id=s["action_id"], placeholder=s["placeholder"], value=s.get("value", ""))
        for s in payload.get("selects", [])
    ]


def citations_from_payload(payload: dict[str, Any]) -> list[Citation]:
    return [Citation.from_dict(c) for c in payload.get("citations", [])]
