"""the other names of a file attached twice in one mail (recorded once, under its first name)

Revision ID: a24_other_names
Revises: 0010_applicant_tokens
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a24_other_names"
down_revision = "0011_console"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attachments") as batch:
        batch.add_column(sa.Column("other_names", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attachments") as batch:
        batch.drop_column("other_names")
