"""Alembic environment: the connection is handed in by mailintake.db.engine.upgrade()."""

from __future__ import annotations

from alembic import context

from mailintake.db.models import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through mailintake.db.engine.upgrade() or `mailintake db-upgrade`")

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
