"""digest posts: one row per weekly digest queued, so the digest job posts each week's digest once

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name="fk_digest_posts_outbox_id_outbox", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_digest_posts"),
        sa.UniqueConstraint("kind", "period", name="uq_digest_posts_kind_period"),
    )


def downgrade() -> None:
    op.drop_table("digest_posts")
