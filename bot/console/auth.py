"""Console sign-in: a signed session cookie, a CSRF token per session, "Sign in with Slack" (OpenID Connect) and,
outside production, a local sign-in for the embedded default and tests.

The cookie holds only the person's Slack id, the CSRF token and, during a Slack sign-in, the OIDC state; it is
signed (itsdangerous) with BACKOFFICE_SECRET_KEY and expires after SESSION_HOURS. Roles are read from the
directory on every request, so a role removed there is gone at the next click."""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from fastapi import HTTPException, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.settings import Settings

COOKIE = "bo_console"
SESSION_HOURS = 12
SLACK_USER_ID_CLAIM = "https://slack.com/user_id"
SLACK_TEAM_ID_CLAIM = "https://slack.com/team_id"


@dataclass(frozen=True)
class ConsoleSession:
    csrf: str
    slack_id: str | None = None
    oidc_state: str | None = None

    @staticmethod
    def fresh() -> ConsoleSession:
        return ConsoleSession(csrf=secrets.token_urlsafe(24))


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="backoffice-console")


def read_session(request: Request, settings: Settings) -> ConsoleSession:
    """The session in the request's cookie, or a fresh signed-out one (bad signature, expired, absent)."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return ConsoleSession.fresh()
    try:
        data: Any = _serializer(settings).loads(raw, max_age=SESSION_HOURS * 3600)
    except BadSignature:
        return ConsoleSession.fresh()
    if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
        return ConsoleSession.fresh()
    slack_id, state = data.get("u"), data.get("s")
    return ConsoleSession(
        csrf=data["csrf"],
        slack_id=slack_id if isinstance(slack_id, str) else None,
        oidc_state=state if isinstance(state, str) else None,
    )


def write_session(response: Response, session: ConsoleSession, settings: Settings) -> None:
    value = _serializer(settings).dumps({"csrf": session.csrf, "u": session.slack_id, "s": session.oidc_state})
    response.set_cookie(
        COOKIE,
        value,
        max_age=SESSION_HOURS * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.public_url.startswith("https://"),
        path="/",  # the web chat (/) is used as the person signed in to the console
    )


def signed_in(session: ConsoleSession, slack_id: str) -> ConsoleSession:
    """After a successful sign-in: a new CSRF token, so one learned before signing in is worth nothing."""
    return ConsoleSession(csrf=secrets.token_urlsafe(24), slack_id=slack_id)


def check_csrf(session: ConsoleSession, submitted: str | None) -> None:
    if not submitted or not secrets.compare_digest(submitted, session.csrf):
        raise HTTPException(status_code=403, detail="The form has expired or did not come from this console.")


def open_playground(settings: Settings, bind_host: str | None) -> bool:
    """Development mode: the web chat lets anyone pick who they are and the console signs anyone in locally.
    BACKOFFICE_DEV_MODE decides when set (never in production); unset, only the demo is open: no Slack
    configured and served on a loopback interface only (`bind_host` None = not known, so not open)."""
    if settings.environment == "production":
        return False
    if settings.dev_mode is not None:
        return settings.dev_mode
    return not settings.slack_enabled and _loopback(bind_host)


def _loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def local_sign_in_allowed(request: Request) -> bool:
    """Whether the console offers its password-less local sign-in: only in development mode (set up by create_app)."""
    return bool(getattr(request.app.state, "open_playground", False))


def slack_sign_in_configured(settings: Settings) -> bool:
    return bool(settings.slack_client_id and settings.slack_client_secret)


def redirect_uri(settings: Settings) -> str:
    return settings.public_url.rstrip("/") + "/console/auth/slack"


def slack_authorize(settings: Settings, session: ConsoleSession) -> tuple[str, ConsoleSession]:
    """The URL to send the browser to, and the session remembering the state it must come back with."""
    state = secrets.token_urlsafe(24)
    query = {
        "response_type": "code",
        "scope": "openid profile email",
        "client_id": settings.slack_client_id or "",
        "redirect_uri": redirect_uri(settings),
        "state": state,
        "nonce": secrets.token_urlsafe(16),
    }
    if settings.slack_team_id:
        query["team"] = settings.slack_team_id
    return f"{settings.slack_authorize_url}?{urlencode(query)}", replace(session, oidc_state=state)


class SignInRefused(Exception):
    """Slack did not confirm who this is; the message says why, for the person signing in."""


def slack_user_id(settings: Settings, session: ConsoleSession, code: str, state: str) -> str:
    """Finish "Sign in with Slack": check the state, trade the code for a token (openid.connect.token) and ask
    Slack who it belongs to (openid.connect.userInfo). Returns the Slack user id."""
    if not session.oidc_state or not secrets.compare_digest(state, session.oidc_state):
        raise SignInRefused("The sign-in link has expired. Please start again.")
    client = WebClient(base_url=settings.slack_api_url)
    try:
        token = client.openid_connect_token(
            client_id=settings.slack_client_id or "",
            client_secret=settings.slack_client_secret or "",
            code=code,
            redirect_uri=redirect_uri(settings),
        )
        info = client.openid_connect_userInfo(token=str(token["access_token"]))
    except SlackApiError as exc:
        raise SignInRefused(f"Slack refused the sign-in ({exc.response.get('error', 'unknown error')}).") from exc
    if settings.slack_team_id and info.get(SLACK_TEAM_ID_CLAIM) != settings.slack_team_id:
        raise SignInRefused("That Slack account belongs to another workspace.")
    user = info.get(SLACK_USER_ID_CLAIM)
    if not isinstance(user, str) or not user:
        raise SignInRefused("Slack did not say who you are.")
    return user
