"""The one typed configuration object, read from the environment (and an optional .env file): the platform's
settings here, and each skill's, declared in its package (`skills/<skill>/settings.py`), joined in."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from skills.expenses.settings import ExpenseSettings
from skills.it.settings import ItSettings
from skills.leave.settings import LeaveSettings
from skills.policy.settings import PolicySettings

SLACK_DEFAULT_API_URL = "https://slack.com/api/"


class Settings(BaseSettings, PolicySettings, ItSettings, ExpenseSettings, LeaveSettings):
    """Everything configurable: the platform's settings and the skills'. The environment variable names are a
    contract with ops tooling."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    slack_bot_token: str | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(default=None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: str | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default=SLACK_DEFAULT_API_URL, validation_alias="SLACK_API_URL")
    # "Sign in with Slack" (OpenID Connect) for the staff console: the Slack app's client id and secret.
    slack_client_id: str | None = Field(default=None, validation_alias="SLACK_CLIENT_ID")
    slack_client_secret: str | None = Field(default=None, validation_alias="SLACK_CLIENT_SECRET")
    # The workspace people must sign in from (its T… id); unset = any workspace whose members are in the directory.
    slack_team_id: str | None = Field(default=None, validation_alias="SLACK_TEAM_ID")
    slack_authorize_url: str = Field(
        default="https://slack.com/openid/connect/authorize", validation_alias="SLACK_AUTHORIZE_URL"
    )

    # A conversation idle this long forgets what it was waiting for (a question the bot asked, a draft just shown):
    # the next message starts afresh.
    conversation_idle_minutes: int = Field(default=120, ge=1, validation_alias="BACKOFFICE_CONVERSATION_IDLE_MINUTES")
    data_dir: Path = Field(default=Path("./var"), validation_alias="BACKOFFICE_DATA_DIR")
    # What is computed the same way at every start (the router's embedded examples), shared by every process
    # and deployment on the host; deleting it only costs the next start the time.
    cache_dir: Path = Field(default=Path.home() / ".cache" / "backoffice", validation_alias="BACKOFFICE_CACHE_DIR")
    database_url: str | None = Field(default=None, validation_alias="BACKOFFICE_DATABASE_URL")
    # A Chroma server (`chroma run`), e.g. http://chroma.internal:8001, shared by every process and host;
    # unset = an embedded store under the data dir, for one process or one host.
    chroma_url: str | None = Field(default=None, validation_alias="BACKOFFICE_CHROMA_URL")
    llm: str | None = Field(default=None, validation_alias="BACKOFFICE_LLM")
    llm_base_url: str | None = Field(default=None, validation_alias="BACKOFFICE_LLM_BASE_URL")
    llm_api_key: str | None = Field(default=None, validation_alias="BACKOFFICE_LLM_API_KEY")
    llm_timeout_seconds: float = Field(default=30.0, validation_alias="BACKOFFICE_LLM_TIMEOUT")

    environment: str = Field(default="development", validation_alias="BACKOFFICE_ENV")
    # Development mode: the web chat lets anyone pick who they are and the console signs anyone in locally, with no
    # password. Unset, it is on only for the demo (no Slack configured, served on 127.0.0.1 only); a deployment
    # (Slack configured, another interface) needs sign-in unless this is set to true; never in production.
    dev_mode: bool | None = Field(default=None, validation_alias="BACKOFFICE_DEV_MODE")
    # Router: below this confidence the outcome is out_of_scope.
    router_threshold: float = Field(default=0.4, validation_alias="BACKOFFICE_ROUTER_THRESHOLD")
    max_message_chars: int = Field(default=4000, validation_alias="BACKOFFICE_MAX_MESSAGE_CHARS")
    # Outbound webhook for ticket events (signed with HMAC-SHA256); unset = no webhook.
    webhook_url: str | None = Field(default=None, validation_alias="BACKOFFICE_WEBHOOK_URL")
    webhook_secret: str | None = Field(default=None, validation_alias="BACKOFFICE_WEBHOOK_SECRET")
    # Largest file the bot fetches from Slack (screenshots, receipts).
    max_upload_bytes: int = Field(default=10_000_000, validation_alias="BACKOFFICE_MAX_UPLOAD_BYTES")
    # Signs calendar-feed links (and other tokens handed out in URLs). Required in production.
    secret_key: str = Field(default="dev-only-secret-change-me", validation_alias="BACKOFFICE_SECRET_KEY")
    # Base URL people reach this server at, for links in Slack (calendar feeds).
    public_url: str = Field(default="http://127.0.0.1:8000", validation_alias="BACKOFFICE_PUBLIC_URL")
    # Domains (comma-separated, subdomains included) whose links an LLM answer may pass on, e.g. "larkspur.example";
    # besides these only the cited sources' hosts and public_url are linked (see integrations.llm).
    trusted_link_domains: str = Field(default="", validation_alias="BACKOFFICE_TRUSTED_LINK_DOMAINS")

    # Per-person limit on Slack messages; over it, messages are queued and answered at this pace.
    rate_limit_per_minute: int = Field(default=20, ge=1, validation_alias="BACKOFFICE_RATE_LIMIT_PER_MINUTE")
    # A Slack event started this long ago and not finished (its process died) is run again.
    event_stale_seconds: float = Field(default=120.0, gt=0, validation_alias="BACKOFFICE_EVENT_STALE_SECONDS")
    # Slack events are only stored and acked by the web process and answered by `backoffice events` processes
    # (`serve --event-workers N` sets this and starts them): acks then never wait behind answers' CPU work.
    defer_events: bool = Field(default=False, validation_alias="BACKOFFICE_DEFER_EVENTS")
    # An outbox item "sending" for this long (its process died mid-send) is looked up in Slack, then re-sent.
    outbox_stale_seconds: float = Field(default=300.0, gt=0, validation_alias="BACKOFFICE_OUTBOX_STALE_SECONDS")
    # Insight: a question counts as deflected only if its asker opened no ticket and no HR request within these days.
    deflection_days: int = Field(default=7, ge=1, validation_alias="BACKOFFICE_DEFLECTION_DAYS")

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.environment == "production" and self.slack_bot_token and not self.slack_signing_secret:
            raise ValueError("SLACK_SIGNING_SECRET is required in production when Slack is enabled")
        if self.environment == "production" and self.dev_mode:
            raise ValueError("BACKOFFICE_DEV_MODE cannot be on in production: it lets anyone act as anyone")
        if self.environment == "production" and self.secret_key.startswith("dev-only"):
            raise ValueError("BACKOFFICE_SECRET_KEY must be set in production")
        return self

    @property
    def conversation_idle(self) -> timedelta:
        return timedelta(minutes=self.conversation_idle_minutes)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'backoffice.db').resolve()}"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token and self.slack_signing_secret)
