"""Block Kit's documented rules, checked the way Slack checks them (tests only): the Slack stand-in answers
`invalid_blocks` (messages) or `invalid_arguments` (views) when a call breaks one, as Slack does, so a message
Slack would reject fails the test that sends it. From Slack's Block Kit reference: blocks per message 50 and per
view 100; block_id and action_id at most 255 characters and unique within the message or view; section text at
most 3,000 characters, at most 10 fields of 2,000; context 1-10 elements; actions 1-25 elements; header text 150;
input label 2,000; button text 75, value 2,000, url 3,000; select options 100 (text 75, value 150); placeholders
150; modal title, submit and close 24; private_metadata 3,000; text objects never empty."""

from __future__ import annotations

from typing import Any

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
_BLOCK_TYPES = frozenset(
    {"section", "context", "actions", "header", "divider", "input", "image", "rich_text", "file", "video"}
)
_INTERACTIVE = frozenset(
    {
        "button",
        "users_select",
        "static_select",
        "multi_static_select",
        "conversations_select",
        "channels_select",
        "external_select",
        "datepicker",
        "timepicker",
        "plain_text_input",
        "checkboxes",
        "radio_buttons",
        "overflow",
        "number_input",
        "email_text_input",
        "url_text_input",
    }
)


class _Check:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.block_ids: set[str] = set()
        self.action_ids: set[str] = set()

    def fail(self, where: str, what: str) -> None:
        self.errors.append(f"{what} [{where}]")

    def text(self, where: str, value: Any, limit: int, *, plain_only: bool = False) -> None:
        if not isinstance(value, dict) or value.get("type") not in ("plain_text", "mrkdwn"):
            self.fail(where, "must be a text object")
            return
        if plain_only and value["type"] != "plain_text":
            self.fail(where, "must be plain_text")
        text = value.get("text")
        if not isinstance(text, str) or not text:
            self.fail(where, "text must not be empty")
        elif len(text) > limit:
            self.fail(where, f"must be less than {limit + 1} characters")

    def element(self, where: str, element: Any) -> None:
        if not isinstance(element, dict) or "type" not in element:
            self.fail(where, "element must have a type")
            return
        kind = element["type"]
        if kind in _INTERACTIVE:
            action_id = element.get("action_id")
            if action_id is not None:
                if not isinstance(action_id, str) or not 0 < len(action_id) <= 255:
                    self.fail(f"{where}/action_id", "must be 1-255 characters")
                elif action_id in self.action_ids:
                    self.fail(f"{where}/action_id", f"action_id {action_id!r} already exists")
                else:
                    self.action_ids.add(action_id)
        if kind == "button":
            self.text(f"{where}/text", element.get("text"), 75, plain_only=True)
            if len(str(element.get("value", ""))) > 2000:
                self.fail(f"{where}/value", "must be less than 2001 characters")
            if len(str(element.get("url", ""))) > 3000:
                self.fail(f"{where}/url", "must be less than 3001 characters")
            if element.get("style") not in (None, "primary", "danger"):
                self.fail(f"{where}/style", "must be primary or danger")
        if kind in ("static_select", "multi_static_select"):
            options = element.get("options") or []
            if not options or len(options) > 100:
                self.fail(f"{where}/options", "must hold 1-100 options")
            for number, option in enumerate(options):
                self.text(f"{where}/options/{number}/text", option.get("text"), 75, plain_only=True)
                if not 0 < len(str(option.get("value", ""))) <= 150:
                    self.fail(f"{where}/options/{number}/value", "must be 1-150 characters")
        if "placeholder" in element:
            self.text(f"{where}/placeholder", element["placeholder"], 150, plain_only=True)
        if kind == "plain_text_input" and len(str(element.get("initial_value", ""))) > 3000:
            self.fail(f"{where}/initial_value", "must be less than 3001 characters")

    def block(self, where: str, block: Any) -> None:
        if not isinstance(block, dict) or block.get("type") not in _BLOCK_TYPES:
            self.fail(where, "unknown block type")
            return
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not 0 < len(block_id) <= 255:
                self.fail(f"{where}/block_id", "must be 1-255 characters")
            elif block_id in self.block_ids:
                self.fail(f"{where}/block_id", f"block_id {block_id!r} already exists")
            else:
                self.block_ids.add(block_id)
        kind = block["type"]
        if kind == "section":
            if "text" not in block and "fields" not in block:
                self.fail(where, "a section needs text or fields")
            if "text" in block:
                self.text(f"{where}/text", block["text"], 3000)
            fields = block.get("fields") or []
            if len(fields) > 10:
                self.fail(f"{where}/fields", "must hold at most 10 fields")
            for number, item in enumerate(fields):
                self.text(f"{where}/fields/{number}", item, 2000)
            if "accessory" in block:
                self.element(f"{where}/accessory", block["accessory"])
        elif kind == "context":
            elements = block.get("elements") or []
            if not 0 < len(elements) <= 10:
                self.fail(f"{where}/elements", "must hold 1-10 elements")
            for number, item in enumerate(elements):
                if isinstance(item, dict) and item.get("type") in ("plain_text", "mrkdwn"):
                    self.text(f"{where}/elements/{number}", item, 3000)
        elif kind == "actions":
            elements = block.get("elements") or []
            if not 0 < len(elements) <= 25:
                self.fail(f"{where}/elements", "must hold 1-25 elements")
            for number, item in enumerate(elements):
                self.element(f"{where}/elements/{number}", item)
        elif kind == "header":
            self.text(f"{where}/text", block.get("text"), 150, plain_only=True)
        elif kind == "input":
            self.text(f"{where}/label", block.get("label"), 2000, plain_only=True)
            if "element" not in block:
                self.fail(where, "an input needs an element")
            else:
                self.element(f"{where}/element", block["element"])


def block_errors(blocks: Any, *, limit: int = MESSAGE_BLOCKS) -> list[str]:
    """What Slack would reject in a list of blocks (empty when it would accept it)."""
    check = _Check()
    if not isinstance(blocks, list):
        return ["blocks must be a list"]
    if len(blocks) > limit:
        check.fail("blocks", f"must hold at most {limit} blocks")
    for number, block in enumerate(blocks):
        check.block(f"/blocks/{number}", block)
    return check.errors


def view_errors(view: Any) -> list[str]:
    """What Slack would reject in a modal or App Home view."""
    if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
        return ["view type must be modal or home"]
    errors = block_errors(view.get("blocks", []), limit=VIEW_BLOCKS)
    check = _Check()
    if view["type"] == "modal":
        check.text("/title", view.get("title"), 24, plain_only=True)
        for name in ("submit", "close"):
            if name in view:
                check.text(f"/{name}", view[name], 24, plain_only=True)
        if (
            any(b.get("type") == "input" for b in view.get("blocks", []) if isinstance(b, dict))
            and "submit" not in view
        ):
            check.fail("/submit", "a modal with inputs needs a submit button")
    if len(str(view.get("private_metadata", ""))) > 3000:
        check.fail("/private_metadata", "must be less than 3001 characters")
    if len(str(view.get("callback_id", ""))) > 255:
        check.fail("/callback_id", "must be less than 256 characters")
    return errors + check.errors
