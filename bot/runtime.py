"""Build the running system from Settings: database, index, router, skills, the queues and their worker, the
Slack edge, and the scheduled jobs of the platform and the skills."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from slack_sdk import WebClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import digest, directory
from bot.assistant import Assistant
from bot.db import Database, local_date
from bot.jobs import Job, JobContext
from bot.migrate import upgrade
from bot.models import Employee, KnowledgeDocument
from bot.outbox import Outbox
from bot.queue_worker import QueueWorker
from bot.router import OUT_OF_SCOPE, Router
from bot.settings import Settings
from bot.slack_edge import SlackEdge
from integrations.llm import AnswerWriter, build_chat_model
from integrations.slack import SlackGateway, make_client
from integrations.webhooks import WebhookDispatcher
from knowledge.embeddings import MiniLMEmbeddings
from knowledge.index import KnowledgeIndex, source_key
from knowledge.ingest_report import IngestReport, ProgressCallback
from skills.base import load_examples
from skills.expenses.config import ExpensePolicy, load_expense_policy
from skills.it.config import ItConfig, load_it_config
from skills.it.incidents import IncidentModel
from skills.leave import ledger
from skills.leave.config import LeavePolicy, load_policy
from skills.leave.home import HomeSection, home_sections
from skills.registry import build_skills

log = logging.getLogger(__name__)
SAMPLE_SOPS = Path(__file__).resolve().parent.parent / "knowledge" / "samples" / "sops"
SAMPLE_DIRECTORY = Path(__file__).resolve().parent / "samples" / "directory.csv"


@dataclass
class Runtime:
    settings: Settings
    database: Database
    index: KnowledgeIndex
    assistant: Assistant
    outbox: Outbox
    slack: SlackEdge | None
    leave_policy: LeavePolicy
    it_config: ItConfig
    expense_policy: ExpensePolicy
    webhooks: WebhookDispatcher | None
    jobs: tuple[Job, ...]  # the platform's and every skill's, run by the scheduler leader

    def queue_worker(self, *, answer_events: bool) -> QueueWorker:
        """The worker over the queues; `answer_events` where this process answers stored Slack events."""
        events = self.slack if answer_events else None
        return QueueWorker(outbox=self.outbox, events=events, webhooks=self.webhooks)

    def job(self, job_id: str) -> Job:
        """The scheduled job with this id (KeyError if none)."""
        for job in self.jobs:
            if job.id == job_id:
                return job
        raise KeyError(job_id)

    def close(self) -> None:
        self.database.dispose()


def platform_jobs(runtime: Runtime) -> tuple[Job, ...]:
    """The platform's own jobs: a pass over the queues, and the weekly digest."""
    # With deferred events the event workers (`backoffice events`) answer them, keeping the web process free.
    queues = runtime.queue_worker(answer_events=runtime.slack is not None and not runtime.slack.deferred)

    def weekly_digest(ctx: JobContext) -> None:
        with ctx.database.session_scope() as session:
            digest.post_weekly_digests(
                session,
                now=ctx.now,
                hr_destination=ctx.settings.hr_destination,
                it_destination=ctx.settings.it_destination,
                it_config=runtime.it_config,
                deflection_days=ctx.settings.deflection_days,
            )

    return (
        # Queued messages whose turn has come, events whose process died, retries of messages and webhooks.
        Job("queues", lambda _ctx: queues.run_once(), "interval", {"seconds": 3}, delivers_outbox=True),
        # Hourly at :00 rather than only Mondays 08:00: a process down at eight posts the digest when back; the
        # digest_posts key posts each week's digest once.
        Job("weekly_digest", weekly_digest, "cron", {"minute": 0}),
    )


def build_router(
    settings: Settings,
    embeddings: MiniLMEmbeddings,
    skill_examples: dict[str, tuple[str, ...]],
    incidents: IncidentModel | None = None,
) -> Router:
    examples = dict(skill_examples)
    examples[OUT_OF_SCOPE] = load_examples(OUT_OF_SCOPE)
    return Router(
        examples, embeddings, threshold=settings.router_threshold, vector_cache=settings.cache_dir, incidents=incidents
    )


def open_index(settings: Settings) -> KnowledgeIndex:
    """The knowledge index: on the Chroma server when BACKOFFICE_CHROMA_URL is set, else embedded in the data dir."""
    if settings.chroma_url:
        return KnowledgeIndex.server(settings.chroma_url)
    return KnowledgeIndex.persistent(settings.chroma_dir)


def _log_upgrade(done: int, total: int) -> None:
    log.warning("re-embedding the knowledge index for the new embedding model: %d/%d chunks", done, total)


def build_runtime(settings: Settings, *, migrate: bool = True, slack_client: WebClient | None = None) -> Runtime:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    if migrate:
        upgrade(url)
    database = Database(url)
    index = open_index(settings)
    if migrate and index.needs_upgrade():
        index.upgrade_store(_log_upgrade)
    leave_policy = load_policy(settings.leave_config)
    expense_policy = load_expense_policy(settings.expense_config)
    it_config = load_it_config(settings.it_config)
    embeddings = MiniLMEmbeddings()
    incidents = IncidentModel.from_examples(embeddings, vector_cache=settings.cache_dir)
    skills = build_skills(leave_policy, expense_policy, it_config, incidents)
    router = build_router(settings, embeddings, {s.name: tuple(s.examples) for s in skills}, incidents)
    gateway: SlackGateway | None = None
    if settings.slack_enabled:
        client = slack_client or make_client(settings.slack_bot_token or "", settings.slack_api_url)
        gateway = SlackGateway(client)
    outbox = Outbox(database, gateway, stale_seconds=settings.outbox_stale_seconds)
    writer = AnswerWriter(build_chat_model(settings)) if settings.llm else None
    assistant = Assistant(
        settings=settings,
        database=database,
        index=index,
        router=router,
        skills=skills,
        outbox=outbox,
        user_lookup=gateway.lookup_user if gateway else None,
        answer_writer=writer,
    )

    def home(slack_id: str) -> list[HomeSection]:
        profile = directory.profile_if_new(database, slack_id, gateway.lookup_user if gateway else None)
        with database.session_scope() as session:
            employee = directory.ensure_employee(session, slack_id, profile)
            return home_sections(
                session,
                policy=leave_policy,
                employee=employee,
                today=local_date(assistant.clock(), employee.tz),
                public_url=settings.public_url,
                secret_key=settings.secret_key,
            )

    edge = (
        SlackEdge(assistant, gateway, settings.slack_signing_secret or "", home, deferred=settings.defer_events)
        if gateway
        else None
    )
    webhooks = (
        WebhookDispatcher(database, url=settings.webhook_url, secret=settings.webhook_secret or "")
        if settings.webhook_url
        else None
    )
    runtime = Runtime(
        settings=settings,
        database=database,
        index=index,
        assistant=assistant,
        outbox=outbox,
        slack=edge,
        leave_policy=leave_policy,
        it_config=it_config,
        expense_policy=expense_policy,
        webhooks=webhooks,
        jobs=(),
    )
    runtime.jobs = (*platform_jobs(runtime), *(job for skill in skills for job in skill.jobs))
    return runtime


def bootstrap_samples(runtime: Runtime, on_progress: ProgressCallback | None = None) -> IngestReport:
    """First start: load the sample directory when it is empty; (re-)ingest the bundled SOPs (incremental)."""
    with runtime.database.session_scope() as session:
        if not session.scalar(select(func.count()).select_from(Employee)):
            report = directory.import_csv(session, SAMPLE_DIRECTORY.read_text(encoding="utf-8"))
            log.info("sample directory loaded: %s employees", report.created)
    with runtime.database.session_scope() as session:
        # Book the leave accruals and grants due so far this year, so sample balances are real.
        ledger.run_due_bookings(session, policy=runtime.leave_policy, today=runtime.assistant.clock().date())
    with runtime.database.session_scope() as session:
        if company_documents(session):
            # The samples are for the demo: once the company's own documents are in, they stay out.
            return IngestReport()
        return runtime.index.ingest(session, [SAMPLE_SOPS], on_progress=on_progress)


_SAMPLE_PREFIX = source_key(SAMPLE_SOPS) + "/"


def _is_sample(source: str) -> bool:
    return source.startswith(_SAMPLE_PREFIX)


def company_documents(session: Session) -> int:
    """How many documents in the knowledge base are not the bundled sample SOPs."""
    return sum(not _is_sample(source) for source in session.scalars(select(KnowledgeDocument.source)))


def remove_samples(runtime: Runtime) -> list[str]:
    """Take the sample SOPs out of the knowledge base (when the company's own documents have come in)."""
    with runtime.database.session_scope() as session:
        samples = [s for s in session.scalars(select(KnowledgeDocument.source)) if _is_sample(s)]
        for source in samples:
            runtime.index.remove_document(session, source)
    return samples
