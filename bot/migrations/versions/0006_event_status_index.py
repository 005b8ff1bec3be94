"""an index on processed_events.status: event workers look up the few unfinished events among all the done ones

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 20:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_processed_events_status", "processed_events", ["status"])


def downgrade() -> None:
    op.drop_index("ix_processed_events_status", table_name="processed_events")
