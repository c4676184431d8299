"""the campaign calendar: office decisions, the reminder ledger, the final-report marker

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mailintake.db.models import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("origin", sa.String(length=255), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("notified", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_decisions_submission_id", "decisions", ["submission_id"], unique=False)
    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("unit", "kind", "day", name="uq_reminders_unit_kind_day"),
    )
    op.create_table(
        "final_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deadline", UTCDateTime(), nullable=False),
        sa.Column("generated_at", UTCDateTime(), nullable=False),
        sa.Column("html_path", sa.Text(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("deadline", name="uq_final_reports_deadline"),
    )


def downgrade() -> None:
    op.drop_table("final_reports")
    op.drop_table("reminders")
    op.drop_index("ix_decisions_submission_id", table_name="decisions")
    op.drop_table("decisions")
