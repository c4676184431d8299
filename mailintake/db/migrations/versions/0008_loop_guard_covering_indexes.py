"""the loop guard's indexes cover its query: ``outbox`` (recipient_key|cc_key, created_at, kind, status)

``replies_last_hour`` counts an address's automatic mails of the last hour for every new mail. With
(key, created_at) alone each counted row was read from the table (whose rows carry the reply's
bytes, before ``status``); with ``kind`` and ``status`` in the index the count reads the index only,
so its cost no longer grows with the replies already queued to that address.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_NARROW = {"ix_outbox_recipient_key": ["recipient_key", "created_at"], "ix_outbox_cc_key": ["cc_key", "created_at"]}


def _recreate(columns_of: dict[str, list[str]]) -> None:
    with op.batch_alter_table("outbox") as batch_op:
        for name, columns in columns_of.items():
            batch_op.drop_index(name)
            batch_op.create_index(name, columns, unique=False)


def upgrade() -> None:
    _recreate({name: [*columns, "kind", "status"] for name, columns in _NARROW.items()})


def downgrade() -> None:
    _recreate(_NARROW)
