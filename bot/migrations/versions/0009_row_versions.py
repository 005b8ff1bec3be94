"""row versions: `version` on leave requests and expense claims, checked by every UPDATE (optimistic locking: an
edit and an approval committed at the same moment cannot both land), and `revision`, counted up by each edit of
what an approver decides on, carried by the approval buttons (an approval of a revision no longer current is
refused)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 03:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("leave_requests", "expenses"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
            batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    for table in ("leave_requests", "expenses"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("revision")
            batch.drop_column("version")
