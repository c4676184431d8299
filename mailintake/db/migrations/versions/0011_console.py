"""the clerk's console: login failures per (account, address), logins unique without regard to case,
and a question's answer state on ``messages`` (answered / no reply needed, by whom, when)

Revision ID: 0011_console
Revises: 0010_applicant_tokens
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mailintake.db.models import UTCDateTime

revision = "0011_console"
down_revision = "0009_smtp_health"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_failures_address_at", "login_failures", ["address", "at"], unique=False)
    op.create_index("ix_login_failures_login_address_at", "login_failures", ["login", "address", "at"],
                    unique=False)
    op.create_index("ix_users_login_lower", "users", [sa.text("lower(login)")], unique=True)
    # plain ALTER TABLE (no batch copy): other tables' foreign keys point at messages' rows
    op.add_column("messages", sa.Column("handled", sa.String(length=16), nullable=True))
    op.add_column("messages", sa.Column("handled_by", sa.String(length=255), nullable=True))
    op.add_column("messages", sa.Column("handled_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    for column in ("handled_at", "handled_by", "handled"):
        op.drop_column("messages", column)  # SQLite ≥ 3.35 drops a column in place
    op.drop_index("ix_users_login_lower", table_name="users")
    op.drop_index("ix_login_failures_login_address_at", table_name="login_failures")
    op.drop_index("ix_login_failures_address_at", table_name="login_failures")
    op.drop_table("login_failures")
