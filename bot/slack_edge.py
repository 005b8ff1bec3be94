"""The Slack edge: bolt verifies signatures and acks; events are stored before any work (retried duplicates
dropped, people over the rate limit queued, unfinished ones resumed by `resume_events`); each payload becomes
a `Message` once, the assistant answers, and replies go out through the outbox (ephemeral notes and modals,
which change nothing, are sent directly)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request import BoltRequest
from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from bot import inbox
from bot.assistant import DB_DOWN_KEPT, Assistant
from bot.messages import Message, Reply
from bot.models import ChatMessage, find_conversation, last_bot_message
from bot.slack_payloads import action_message, event_message, json_object, teams_of, view_message
from integrations.slack import SlackGateway, render_blocks, render_home, render_modal
from skills.leave.home import HomeSection

log = logging.getLogger(__name__)
LISTENER_THREADS = 2
# Messages with files (receipts, screenshots) are answered on threads of their own: reading a slow file then keeps
# only these busy, never the listener threads everyone else's messages are answered on (issue 17, point 11). The
# files themselves are read on integrations.files' bounded pool, within its time limit.
FILE_MESSAGE_THREADS = 2
# Threads hand the GIL over every 1 ms instead of 5: a waiting ack (web process) or a thread holding SQLite's write
# lock (event worker) runs sooner behind CPU-bound answers (benchmarks: ack p99 under load).
SWITCH_INTERVAL_SECONDS = 0.001
_ANY = re.compile(".*")
ANSWERED_IN_DM = "I've answered you in our direct messages."
# What the bot says under an edited message that a draft or a question of it still waits on (see _on_edit).
EDIT_NOT_APPLIED = {
    "draft": (
        "I saw your edit, but I don't re-read edited messages: the draft above still has what you first wrote. "
        "Reply here with the change (e.g. “sorry, I meant the 12th”), or press Cancel and write it again."
    ),
    "question": (
        "I saw your edit, but I don't re-read edited messages, so I'm still waiting for your answer to my "
        "question above: please reply here."
    ),
}


class SlackEdge:
    """Registers the listeners on a bolt App and renders replies through its WebClient."""

    def __init__(
        self,
        assistant: Assistant,
        gateway: SlackGateway,
        signing_secret: str,
        home: Callable[[str], list[HomeSection]] | None = None,
        *,
        deferred: bool = False,
    ) -> None:
        """`deferred`: events are only stored and acked here; the queue workers (`backoffice events` processes,
        bot.queue_worker) answer them. Clicks, forms and commands are still handled here: Slack needs their answer
        at once."""
        self.assistant = assistant
        self.deferred = deferred
        self.home = home
        self.gateway = gateway
        self.client = gateway.client
        self._bot_user_id: str | None = None
        self._identity: dict[str, Any] | None = None  # what auth.test says of the bot token, asked once
        self._file_messages = ThreadPoolExecutor(max_workers=FILE_MESSAGE_THREADS, thread_name_prefix="slack-files")
        self.app = App(
            client=self.client,
            signing_secret=signing_secret,
            # Always this one bot token (one workspace). Without `authorize`, bolt switches to its OAuth
            # installation mode whenever SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are in the environment (they are
            # set for the console's "Sign in with Slack"), finds no installation stored, and drops every request.
            authorize=lambda: self._authorize(),  # (bolt would pass a method's `self` as an argument of its own)
            process_before_response=False,
            request_verification_enabled=True,
            # Answers run after the ack on this pool. Two threads keep both cores busy; bolt's default of five
            # mostly fought the ack path for the GIL and SQLite's write lock (benchmarks: ack p99 and throughput).
            listener_executor=ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="slack-listener"),
        )
        self.register(self.app)

    # ------------------------------------------------------------ wiring

    def register(self, app: App) -> None:
        app.middleware(self._only_our_workspace)
        app.middleware(self._drop_retried_events)
        app.event("app_mention")(self._on_mention)
        app.event("message")(self._on_message)
        app.event("app_home_opened")(self._on_home_opened)
        app.action(_ANY)(self._on_action)
        app.view(_ANY)(self._on_view)
        app.command("/backoffice")(self._on_command)
        app.error(self._on_error)

    def dispatch(self, request: BoltRequest) -> BoltResponse:
        return self.app.dispatch(request)

    def _only_our_workspace(
        self,
        body: dict[str, Any],
        next: Callable[[], BoltResponse],  # noqa: A002
    ) -> BoltResponse | None:
        """Acks and drops, before anything is stored, what comes from or is done by someone of another workspace
        than the pinned one (SLACK_TEAM_ID, else the bot token's own): only its people are answered and added to
        the directory."""
        teams = teams_of(body) if isinstance(body, dict) else set()
        if not teams:
            return BoltResponse(status=400, body="")  # not a workspace's request: Slack's always name one
        try:
            pinned = self.assistant.settings.slack_team_id or self._auth_test()["team_id"]
        except SlackApiError:
            pinned = None
        if pinned and teams == {pinned}:
            return next()
        log.warning("ignoring a Slack request from workspace %s (this bot serves %s)", sorted(teams), pinned)
        return BoltResponse(status=200, body="")

    def _drop_retried_events(
        self,
        body: dict[str, Any],
        request: BoltRequest,
        next: Callable[[], BoltResponse],  # noqa: A002
    ) -> BoltResponse | None:
        if not isinstance(body, dict) or body.get("type") != "event_callback" or not body.get("event_id"):
            return next()
        try:
            accepted = inbox.accept(
                self.assistant.database,
                body,
                per_minute=self.assistant.settings.rate_limit_per_minute,
                deferred=self.deferred,
            )
        except SQLAlchemyError:
            log.exception("cannot store Slack event %s", body.get("event_id"))
            if not request.headers.get("x-slack-retry-num"):
                self._tell(body, DB_DOWN_KEPT)
            # Not acked: Slack delivers the event again (1 min, 5 min later), by when the database may be back.
            return BoltResponse(status=503, body="")
        if accepted.outcome == "duplicate":
            log.info("dropping retried event %s", body.get("event_id"))
            return BoltResponse(status=200, body="")
        if accepted.outcome == "queued":
            if accepted.first_queued:
                self._tell(
                    body,
                    "You're sending messages faster than I can answer, so you're queued: I'll get to this one "
                    f"in about {max(1, round(accepted.wait_seconds))} seconds, and to the others in order.",
                )
            return BoltResponse(status=200, body="")
        if self.deferred:
            return BoltResponse(status=200, body="")  # stored: an event worker answers it
        return next()

    def _tell(self, body: dict[str, Any], text: str) -> None:
        """A note only the writer sees, next to their message; never fails the request."""
        event = body.get("event") or {}
        user, channel = str(event.get("user") or ""), str(event.get("channel") or "")
        if not user or not channel:
            return
        try:
            self.client.chat_postEphemeral(
                channel=channel, user=user, text=text, thread_ts=event.get("thread_ts") or event.get("ts")
            )
        except Exception:  # noqa: BLE001 - a courtesy note
            log.warning("could not tell %s: %s", user, text)

    def _on_error(self, error: Exception, body: dict[str, Any]) -> None:
        log.error("Slack listener failed: %s", error, exc_info=error)
        event_id = body.get("event_id") if isinstance(body, dict) else None
        if event_id:
            try:
                inbox.finish(self.assistant.database, str(event_id), "failed")
            except SQLAlchemyError:
                log.exception("cannot mark event %s failed", event_id)

    def resume_events(self, pool: Executor | None = None, *, limit: int = 50) -> int:
        """Claim up to `limit` stored events whose turn has come (queued or deferred) or whose process died
        (stale), and answer them: one by one, or on `pool` (an event worker's step, see bot.queue_worker).
        Returns how many, after they are answered."""
        settings = self.assistant.settings
        payloads = inbox.claim_due(self.assistant.database, stale_seconds=settings.event_stale_seconds, limit=limit)
        if pool is None:
            for body in payloads:
                self._run_stored(body)
        else:
            for future in [pool.submit(self._run_stored, body) for body in payloads]:
                future.result()
        return len(payloads)

    def _run_stored(self, body: dict[str, Any]) -> None:
        try:
            self.process_event(body)
        except Exception as exc:  # noqa: BLE001 - one bad event must not stop the others
            self._on_error(exc, body)

    def process_event(self, body: dict[str, Any]) -> None:
        """Run a stored event as its listener would have."""
        event = body.get("event") or {}
        if event.get("type") == "app_mention":
            self._on_mention(event, body)
        elif event.get("type") == "message":
            self._on_message(event, body, {"bot_user_id": self._bot_user()})
        elif event.get("type") == "app_home_opened":
            self._on_home_opened(event, body)
        else:
            inbox.finish(self.assistant.database, str(body.get("event_id", "")), "ignored")

    def _bot_user(self) -> str | None:
        if self._bot_user_id is None:
            try:
                self._bot_user_id = str(self._auth_test().get("user_id") or "") or None
            except SlackApiError:
                log.warning("auth.test failed; cannot tell mentions of the bot")
        return self._bot_user_id

    def _auth_test(self) -> dict[str, Any]:
        """The bot token's workspace, bot user and bot id (auth.test), asked once. Raises SlackApiError while Slack
        can't say."""
        if self._identity is None:
            response = self.client.auth_test()
            self._identity = {key: response.get(key) for key in ("team_id", "enterprise_id", "user_id", "bot_id")}
        return self._identity

    def _authorize(self) -> AuthorizeResult:
        """bolt's authorization of every request: the bot token, with the bot user and bot id by which bolt drops
        the bot's own events. (While auth.test fails, bolt refuses requests and Slack sends them again.)"""
        identity = self._auth_test()
        return AuthorizeResult(
            enterprise_id=identity["enterprise_id"],
            team_id=identity["team_id"],
            bot_token=self.client.token,
            bot_user_id=identity["user_id"],
            bot_id=identity["bot_id"],
        )

    # ------------------------------------------------------------ listeners

    def _on_mention(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        event_id = str(body.get("event_id", ""))
        # A mention in a DM arrives as a message.im event too, which answers it.
        if not self._by_a_person(event) or str(event.get("channel", "")).startswith("D"):
            inbox.finish(self.assistant.database, event_id, "ignored")
            return
        message = event_message(event, "channel")
        self._answer(message, event_id)

    def _on_message(self, event: dict[str, Any], body: dict[str, Any], context: dict[str, Any]) -> None:
        event_id = str(body.get("event_id", ""))
        subtype = event.get("subtype")
        if subtype == "message_changed":
            self._on_edit(event, event_id)
            return
        # A thread reply also sent to the channel (thread_broadcast) is a thread reply like any other.
        if subtype not in (None, "file_share", "thread_broadcast") or not self._by_a_person(event):
            inbox.finish(self.assistant.database, event_id, "ignored")
            return
        channel_type = str(event.get("channel_type", ""))
        message = event_message(event, channel_type or "channel")
        if channel_type != "im":
            bot_user = context.get("bot_user_id")
            if bot_user:
                self._bot_user_id = str(bot_user)
            mentioned = bool(bot_user) and f"<@{bot_user}>" in message.text
            # Thread replies to the bot need no @mention; mentions arrive as app_mention instead.
            if (
                mentioned
                or not message.thread_ts
                or not self.assistant.is_bot_thread(message.channel, message.thread_ts)
            ):
                inbox.finish(self.assistant.database, event_id, "ignored")
                return
        self._answer(message, event_id)

    def _by_a_person(self, event: dict[str, Any]) -> bool:
        """Written by a person: not by this bot or any other bot or app (two bots answering each other never
        stop)."""
        if event.get("bot_id") or event.get("bot_profile") or event.get("subtype") == "bot_message":
            return False
        return bool(event.get("user")) and event.get("user") != self._bot_user()

    def _on_edit(self, event: dict[str, Any], event_id: str) -> None:
        """Someone edited a message. The bot answers what was sent and does not re-read edits (acting on one would
        act twice on one message: a second draft next to the first). When a draft or a question of the bot still
        waits on the edited message, the writer is told at once, under it, that the edit changed nothing and how to
        change it, so nobody confirms a draft believing it holds the edited text. Other edits are ignored."""
        edited = json_object(event.get("message"))
        before = json_object(event.get("previous_message"))
        channel = str(event.get("channel") or "")
        # The same text is a link preview added or a bot's card updated, not an edit.
        changed = self._by_a_person(edited) and edited.get("text") != before.get("text")
        waiting = self._waiting_on(channel, edited) if changed else None
        if waiting is None:
            inbox.finish(self.assistant.database, event_id, "ignored")
            return
        self.client.chat_postEphemeral(
            channel=channel,
            user=str(edited["user"]),
            text=EDIT_NOT_APPLIED[waiting],
            thread_ts=str(edited.get("thread_ts") or edited.get("ts")),
        )
        inbox.finish(self.assistant.database, event_id)

    def _waiting_on(self, channel: str, edited: dict[str, Any]) -> str | None:
        """What the conversation of `edited` still waits on: "draft" or "question" when `edited` is the newest
        message the bot read there and the bot's newest message (not gone quiet) is a draft's card (it has a
        Cancel, `<skill>:discard`) or a question; else None."""
        thread = str(edited.get("thread_ts") or edited.get("ts") or "")
        with self.assistant.database.session_scope() as session:
            conversation = find_conversation(session, channel=channel, thread_ts=thread)
            if conversation is None:
                return None
            newest = session.scalar(
                select(ChatMessage.slack_ts)
                .where(ChatMessage.conversation_id == conversation.id, ChatMessage.direction == "in")
                .order_by(ChatMessage.id.desc())
                .limit(1)
            )
            last = last_bot_message(session, conversation.id, idle=self.assistant.settings.conversation_idle)
            if newest is None or newest != edited.get("ts") or last is None:
                return None
            buttons = (last.payload or {}).get("buttons", [])
            if any(str(button.get("action_id", "")).endswith(":discard") for button in buttons):
                return "draft"
            return "question" if conversation.awaiting_skill else None

    def _dm_channel(self, user: str) -> str:
        """The bot's DM with `user` (conversations.open); their user id when Slack won't say (a post to a user id
        goes to that DM too)."""
        try:
            return str(self.client.conversations_open(users=user)["channel"]["id"])
        except (SlackApiError, KeyError, TypeError):
            log.warning("conversations.open failed for %s; answering at their user id", user)
            return user

    def _on_home_opened(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        event_id = str(body.get("event_id", ""))
        user = str(event.get("user", ""))
        if event.get("tab", "home") != "home" or not user or self.home is None:
            inbox.finish(self.assistant.database, event_id, "ignored")
            return
        self.client.views_publish(user_id=user, view={"type": "home", "blocks": render_home(self.home(user))})
        inbox.finish(self.assistant.database, event_id)

    def _answer(self, message: Message, event_id: str) -> None:
        if message.files:
            self._file_messages.submit(self._answer_with_files, message, event_id)
            return
        self._answer_now(message, event_id)

    def _answer_with_files(self, message: Message, event_id: str) -> None:
        try:
            self._answer_now(message, event_id)
        except Exception as exc:  # noqa: BLE001 - on its own thread: reported as a listener's failure would be
            self._on_error(exc, {"event_id": event_id})

    def _answer_now(self, message: Message, event_id: str) -> None:
        reply = self.assistant.handle(message, event_id=event_id or None)
        for each in (reply, *reply.more):
            self._deliver(message, each)
        if event_id and reply.text != DB_DOWN_KEPT:
            # Replies that changed nothing (a problem with the input) finish here; the rest finished with
            # the skill's changes. After a database failure the event stays open and is run again.
            inbox.finish(self.assistant.database, event_id)

    def _on_action(self, ack: Callable[..., None], body: dict[str, Any]) -> None:
        ack()
        message = action_message(body)
        if not message.channel:
            # A click in the App Home or in a modal comes from no channel: the answer goes to the person's DM.
            message = replace(message, channel=self._dm_channel(message.user_id), channel_type="im")
        reply = self.assistant.handle(message)
        self._deliver(message, reply)

    def _on_view(self, ack: Callable[..., None], body: dict[str, Any]) -> None:
        message = view_message(body)
        # Slack enforces required inputs itself but accepts whitespace; optional inputs come back "".
        empty = [name for name, value in message.form.items() if value and not value.strip()]
        if empty:
            ack(response_action="errors", errors={name: "Please fill this in." for name in empty})
            return
        ack()
        reply = self.assistant.handle(message)
        self._deliver(message, reply)

    def _on_command(self, ack: Callable[..., None], command: dict[str, Any], respond: Callable[..., Any]) -> None:
        ack()
        user, typed_in = str(command.get("user_id", "")), str(command.get("channel_id", ""))
        # Answered once, in the person's DM with the bot: the assistant stores every answer and posts it through
        # the outbox to the message's channel, which for the channel the command was typed in would show it to
        # everyone there. Only what changes nothing (a problem with the input) is shown where it was typed.
        dm = self._dm_channel(user)
        message = Message(
            user_id=user,
            text=str(command.get("text", "") or "help"),
            channel=dm,
            platform="slack",
            channel_type="im",
            trigger_id=command.get("trigger_id"),
        )
        reply = self.assistant.handle(message)
        posted = False
        for each in (reply, *reply.more):
            if each.modal is not None:
                if message.trigger_id:
                    self.client.views_open(trigger_id=message.trigger_id, view=render_modal(each.modal))
            elif each.ephemeral:
                respond(text=each.text, blocks=render_blocks(each.text, each.payload()), response_type="ephemeral")
            else:
                posted = True  # stored and posted to the DM by the assistant
        if posted and typed_in != dm:
            respond(text=ANSWERED_IN_DM, response_type="ephemeral")

    # ------------------------------------------------------------ rendering

    def _deliver(self, message: Message, reply: Reply) -> None:
        if reply.modal is not None:
            if message.trigger_id:
                self.client.views_open(trigger_id=message.trigger_id, view=render_modal(reply.modal))
            return
        thread = message.thread_ts or message.ts
        if reply.ephemeral:
            try:
                self.client.chat_postEphemeral(
                    channel=message.channel, user=message.user_id, text=reply.text, thread_ts=thread
                )
            except SlackApiError:
                # e.g. a modal submission has no channel the bot is in: tell the person by DM.
                self.client.chat_postMessage(
                    channel=message.user_id, text=reply.text, unfurl_links=False, unfurl_media=False
                )
            return
        # Everything else was stored with its outbox item by the assistant and delivered by it.
