"""durable delivery: stored inbound events, outbox back-off and reply links; sensitive escalations

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 09:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("processed_events") as batch:
        batch.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("user_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_processed_events_user_id", ["user_id"])
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("message_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_outbox_message_id_messages", "messages", ["message_id"], ["id"], ondelete="SET NULL"
        )
    with op.batch_alter_table("escalations") as batch:
        batch.add_column(sa.Column("sensitive", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("escalations") as batch:
        batch.drop_column("sensitive")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("fk_outbox_message_id_messages", type_="foreignkey")
        batch.drop_column("message_id")
        batch.drop_column("started_at")
        batch.drop_column("next_attempt_at")
    with op.batch_alter_table("processed_events") as batch:
        batch.drop_index("ix_processed_events_user_id")
        batch.drop_column("started_at")
        batch.drop_column("not_before")
        batch.drop_column("attempts")
        batch.drop_column("user_id")
        batch.drop_column("payload")
