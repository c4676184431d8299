"""indexes for every per-mail query; the receipt counter; the outbox's recipient keys

Revision ID: 0005
Revises: 0004

- ``messages.sha256`` and ``attachments.sha256``: ``known_digests`` looks mails up by their bytes.
- ``outbox.recipient_key`` / ``cc_key`` (the first recipient and the first copy, lower-cased) with
  ``created_at``: the per-address loop guard reads only that address's replies of the hour.
- ``counters``: the receipt number is one row's value, not a count over ``messages``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _first(values: object) -> str | None:
    if isinstance(values, list) and values:
        return str(values[0]).lower()
    return None


def upgrade() -> None:
    op.create_index("ix_messages_sha256", "messages", ["sha256"], unique=False)
    op.create_index("ix_attachments_sha256", "attachments", ["sha256"], unique=False)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recipient_key", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("cc_key", sa.String(length=320), nullable=True))
        batch_op.create_index("ix_outbox_recipient_key", ["recipient_key", "created_at"], unique=False)
        batch_op.create_index("ix_outbox_cc_key", ["cc_key", "created_at"], unique=False)
    counters = op.create_table(
        "counters",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    bind = op.get_bind()
    outbox = sa.table("outbox", sa.column("id", sa.Integer()), sa.column("recipients", sa.JSON()),
                      sa.column("cc", sa.JSON()), sa.column("recipient_key", sa.String()),
                      sa.column("cc_key", sa.String()))
    rows = bind.execute(sa.select(outbox.c.id, outbox.c.recipients, outbox.c.cc)).all()
    for row_id, recipients, cc in rows:
        bind.execute(outbox.update().where(outbox.c.id == row_id)
                     .values(recipient_key=_first(recipients), cc_key=_first(cc)))
    messages = sa.table("messages", sa.column("receipt_no", sa.String()))
    issued = bind.execute(sa.select(sa.func.count()).select_from(messages)
                          .where(messages.c.receipt_no.is_not(None))).scalar() or 0
    op.bulk_insert(counters, [{"name": "receipt_no", "value": int(issued)}])


def downgrade() -> None:
    op.drop_table("counters")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_cc_key")
        batch_op.drop_index("ix_outbox_recipient_key")
        batch_op.drop_column("cc_key")
        batch_op.drop_column("recipient_key")
    op.drop_index("ix_attachments_sha256", table_name="attachments")
    op.drop_index("ix_messages_sha256", table_name="messages")
