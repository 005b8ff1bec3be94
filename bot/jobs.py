"""Scheduled jobs. APScheduler keeps them in the database job store, which stores a job as a textual
reference ("bot.jobs:deliver_outbox") plus its trigger, so each job is a module-level function without
arguments; it reaches the running system through `current()`, bound by whoever starts the scheduler.

Only the scheduler leader runs them (see bot.scheduler)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot import digest
from integrations.webhooks import WebhookDispatcher
from skills.expenses.jobs import remind_expense_approvers
from skills.it.sla import check_slas
from skills.leave import jobs as leave_jobs

if TYPE_CHECKING:
    from bot.runtime import Runtime

_runtime: Runtime | None = None


def bind(runtime: Runtime | None) -> None:
    """Make `runtime` the one the jobs act on (None unbinds)."""
    global _runtime
    _runtime = runtime


def current() -> Runtime:
    if _runtime is None:
        raise RuntimeError("no runtime is bound to the scheduled jobs")
    return _runtime


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: str  # textual reference, so the database job store can persist it
    trigger: str
    trigger_args: dict[str, Any] = field(default_factory=dict)


def deliver_outbox() -> None:
    """Retry notifications that could not be delivered at once (Slack down, rate limited)."""
    current().outbox.deliver_pending()


def resume_events() -> None:
    """Answer queued messages whose turn has come and re-run events whose process died before finishing."""
    runtime = current()
    # With deferred events the `backoffice events` processes claim these themselves, keeping the web process free.
    if runtime.slack is not None and not runtime.slack.deferred:
        runtime.slack.resume_events()


def leave_bookings() -> None:
    """Accruals, yearly grants, year-end carry-over and expiry that are due (idempotent catch-up)."""
    runtime = current()
    with runtime.database.session_scope() as session:
        leave_jobs.book_due(session, policy=runtime.leave_policy, now=runtime.assistant.clock())


def leave_reminders() -> None:
    """Remind approvers of waiting requests; escalate to People Ops after the last reminder."""
    runtime = current()
    with runtime.database.session_scope() as session:
        leave_jobs.remind_approvers(
            session,
            policy=runtime.leave_policy,
            now=runtime.assistant.clock(),
            hr_destination=runtime.settings.hr_destination,
        )
    runtime.outbox.deliver_pending()


def deliver_webhooks() -> None:
    """Send due ticket-event webhooks and retry failed ones; nothing to do when no webhook URL is configured."""
    runtime = current()
    url = runtime.settings.webhook_url
    if not url:
        return
    WebhookDispatcher(runtime.database, url=url, secret=runtime.settings.webhook_secret or "").deliver_pending()


def expense_reminders() -> None:
    """Remind approvers of waiting expense claims; tell finance after the last reminder."""
    runtime = current()
    with runtime.database.session_scope() as session:
        remind_expense_approvers(
            session,
            policy=runtime.expense_policy,
            now=runtime.assistant.clock(),
            finance_destination=runtime.settings.finance_destination,
        )
    runtime.outbox.deliver_pending()


def ticket_slas() -> None:
    """Warn in the IT channel at 75% of a ticket's SLA targets and escalate at breach (each once)."""
    runtime = current()
    with runtime.database.session_scope() as session:
        check_slas(
            session,
            config=runtime.it_config,
            now=runtime.assistant.clock(),
            it_destination=runtime.settings.it_destination,
            mention=runtime.settings.security_mention,
        )
    runtime.outbox.deliver_pending()


def weekly_digest() -> None:
    """Post last week's key figures to the HR and IT channels, once per week (from Monday 08:00 UTC)."""
    runtime = current()
    settings = runtime.settings
    with runtime.database.session_scope() as session:
        digest.post_weekly_digests(
            session,
            now=runtime.assistant.clock(),
            hr_destination=settings.hr_destination,
            it_destination=settings.it_destination,
            it_config=runtime.it_config,
            deflection_days=settings.deflection_days,
        )
    runtime.outbox.deliver_pending()


SCHEDULE: tuple[JobSpec, ...] = (
    JobSpec("outbox", "bot.jobs:deliver_outbox", "interval", {"seconds": 5}),
    JobSpec("resume_events", "bot.jobs:resume_events", "interval", {"seconds": 3}),
    # Hourly rather than monthly: a missed run (server down on the 1st) is caught up, and booking twice is
    # impossible (the ledger's period key), so running often costs nothing.
    JobSpec("leave_bookings", "bot.jobs:leave_bookings", "interval", {"hours": 1}),
    JobSpec("leave_reminders", "bot.jobs:leave_reminders", "interval", {"minutes": 15}),
    JobSpec("ticket_slas", "bot.jobs:ticket_slas", "interval", {"minutes": 1}),
    JobSpec("expense_reminders", "bot.jobs:expense_reminders", "interval", {"minutes": 30}),
    JobSpec("webhooks", "bot.jobs:deliver_webhooks", "interval", {"seconds": 30}),
    # Hourly at :00 rather than only Mondays 08:00: a process down at eight posts the digest when back; the
    # digest_posts key posts each week's digest once.
    JobSpec("weekly_digest", "bot.jobs:weekly_digest", "cron", {"minute": 0}),
)
