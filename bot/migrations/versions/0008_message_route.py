"""message route: why an inbound message went where it went (the router's reason, the act, the topic and the
probability that it was out of scope), so `skill` on a stored message comes with its reasons

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("route", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("route")
