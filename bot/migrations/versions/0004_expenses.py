"""expenses

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 15:42:42.683541
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "expenses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("base_amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("base_currency", sa.String(length=3), nullable=False),
        sa.Column("rate", sa.Numeric(precision=18, scale=8), nullable=False),
        sa.Column("spent_on", sa.Date(), nullable=False),
        sa.Column("merchant", sa.String(length=200), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("attendees", sa.Integer(), nullable=True),
        sa.Column("distance", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("distance_unit", sa.String(length=2), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("receipt_sha256", sa.String(length=64), nullable=True),
        sa.Column("receipt_path", sa.String(length=500), nullable=True),
        sa.Column("receipt_total", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("receipt_date", sa.Date(), nullable=True),
        sa.Column("receipt_merchant", sa.String(length=200), nullable=True),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("approver_id", sa.Integer(), nullable=True),
        sa.Column("finance_approver_id", sa.Integer(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("thread_ts", sa.String(length=32), nullable=True),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reimbursed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["approver_id"], ["employees.id"], name=op.f("fk_expenses_approver_id_employees")),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_expenses_conversation_id_conversations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["employee_id"], ["employees.id"], name=op.f("fk_expenses_employee_id_employees")),
        sa.ForeignKeyConstraint(
            ["finance_approver_id"], ["employees.id"], name=op.f("fk_expenses_finance_approver_id_employees")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expenses")),
    )
    with op.batch_alter_table("expenses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_expenses_approver_id"), ["approver_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_expenses_employee_id"), ["employee_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_expenses_receipt_sha256"), ["receipt_sha256"], unique=False)
        batch_op.create_index(batch_op.f("ix_expenses_status"), ["status"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("expenses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_expenses_status"))
        batch_op.drop_index(batch_op.f("ix_expenses_receipt_sha256"))
        batch_op.drop_index(batch_op.f("ix_expenses_employee_id"))
        batch_op.drop_index(batch_op.f("ix_expenses_approver_id"))

    op.drop_table("expenses")
