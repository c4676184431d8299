"""console accounts (and indexes for the console's lists)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mailintake.db.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_login_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("login"),
    )
    # the login throttle counts an account's recent failures in the audit trail
    op.create_index("ix_audit_log_actor_action_at", "audit_log", ["actor", "action", "at"], unique=False)
    # the console lists mails newest first, page by page
    op.create_index("ix_messages_received_at", "messages", ["received_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_messages_received_at", table_name="messages")
    op.drop_index("ix_audit_log_actor_action_at", table_name="audit_log")
    op.drop_table("users")
