"""outbound health: ``service_health`` holds an SMTP outage (since when, cause, fix) while it lasts

Revision ID: 0009_smtp_health
Revises: 0010_applicant_tokens (issue 20's migration, merged first; both were written on 0008)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mailintake.db.models import UTCDateTime

revision = "0009_smtp_health"
down_revision = "0010_applicant_tokens"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_health",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("down_since", UTCDateTime(), nullable=False),
        sa.Column("checked_at", UTCDateTime(), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("fix", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("service_health")
