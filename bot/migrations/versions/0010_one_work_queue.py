"""one work queue: inbound events, the outbox and webhook deliveries share the queue columns and states
(pending, running, done, failed); job_runs keeps each scheduled job's next run (APScheduler's job store goes)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("processed_events") as batch:
        batch.alter_column("not_before", new_column_name="next_attempt_at")
        batch.alter_column("started_at", new_column_name="claimed_at")
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))
    # "received" was both waiting (never started: deferred) and running (started); "queued" waited its turn.
    op.execute(
        "UPDATE processed_events SET status = CASE WHEN claimed_at IS NULL THEN 'pending' ELSE 'running' END "
        "WHERE status = 'received'"
    )
    op.execute("UPDATE processed_events SET status = 'pending' WHERE status = 'queued'")
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("started_at", new_column_name="claimed_at")
        batch.alter_column("sent_at", new_column_name="finished_at")
        batch.create_index("ix_outbox_status", ["status"])
    op.execute("UPDATE outbox SET status = 'running' WHERE status = 'sending'")
    op.execute("UPDATE outbox SET status = 'done' WHERE status = 'sent'")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.alter_column("sent_at", new_column_name="finished_at")
        batch.alter_column("next_attempt_at", existing_type=sa.DateTime(timezone=True), nullable=True)
        batch.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
    # A "sending" delivery kept its claim's expiry in next_attempt_at; as "running" it is taken over when stale.
    op.execute("UPDATE webhook_deliveries SET status = 'running', claimed_at = created_at WHERE status = 'sending'")
    op.execute("UPDATE webhook_deliveries SET status = 'done' WHERE status = 'sent'")
    op.create_table(
        "job_runs",
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_job_runs")),
    )
    op.execute("DROP TABLE IF EXISTS apscheduler_jobs")


def downgrade() -> None:
    op.drop_table("job_runs")
    op.execute("UPDATE webhook_deliveries SET status = 'sent' WHERE status = 'done'")
    op.execute("UPDATE webhook_deliveries SET status = 'pending' WHERE status = 'running'")
    op.execute("UPDATE webhook_deliveries SET next_attempt_at = created_at WHERE next_attempt_at IS NULL")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("claimed_at")
        batch.alter_column("next_attempt_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.alter_column("finished_at", new_column_name="sent_at")
    op.execute("UPDATE outbox SET status = 'sent' WHERE status = 'done'")
    op.execute("UPDATE outbox SET status = 'sending' WHERE status = 'running'")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_status")
        batch.alter_column("finished_at", new_column_name="sent_at")
        batch.alter_column("claimed_at", new_column_name="started_at")
    op.execute(
        "UPDATE processed_events SET status = CASE WHEN claimed_at IS NULL AND next_attempt_at IS NOT NULL "
        "THEN 'queued' ELSE 'received' END WHERE status IN ('running', 'pending')"
    )
    with op.batch_alter_table("processed_events") as batch:
        batch.drop_column("last_error")
        batch.alter_column("claimed_at", new_column_name="started_at")
        batch.alter_column("next_attempt_at", new_column_name="not_before")
