"""the first lines of a mail's body (the office's 需人工处理 list); which reports set the daily baseline

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("body_excerpt", sa.Text(), nullable=True))
    # reports written before this revision all moved the baseline
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("baseline", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("baseline")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("body_excerpt")
