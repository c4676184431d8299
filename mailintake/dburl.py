"""The configured database URL, read without SQLAlchemy (the idle poll and the worker lock stay light).

Only the plain forms are understood here — ``sqlite:///relative.db``, ``sqlite:////absolute.db``,
``postgresql[+driver]://…``; anything else is :data:`UNKNOWN` and its callers fall back to the
SQLAlchemy path (:func:`mailintake.db.engine.resolve_url`), which remains the reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

UNKNOWN = "unknown"


@dataclass(frozen=True)
class DatabaseTarget:
    """Which database a URL names: ``backend`` is "sqlite", "postgresql" or :data:`UNKNOWN`."""

    backend: str
    #: SQLite: the absolute file path (None for an in-memory database)
    path: Path | None = None
    #: PostgreSQL: a libpq connection URI (what psycopg.connect takes)
    conninfo: str = ""


def parse(url: str, base_dir: str | Path = ".") -> DatabaseTarget:
    """The database ``url`` names, relative SQLite paths resolved against ``base_dir`` as the engine does."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return DatabaseTarget(UNKNOWN)
    dialect, _, driver = scheme.partition("+")
    if dialect == "sqlite" and driver in ("", "pysqlite"):
        return _sqlite(rest, base_dir)
    if dialect == "postgresql" and rest:
        return DatabaseTarget("postgresql", conninfo=f"postgresql://{rest}")
    return DatabaseTarget(UNKNOWN)


def _sqlite(rest: str, base_dir: str | Path) -> DatabaseTarget:
    if any(char in rest for char in "?%#"):  # query options, escapes: leave them to SQLAlchemy
        return DatabaseTarget(UNKNOWN)
    if rest in ("", "/", "/:memory:"):
        return DatabaseTarget("sqlite")
    if not rest.startswith("/"):  # sqlite://host/... is not a file URL
        return DatabaseTarget(UNKNOWN)
    path = Path(rest[1:])
    return DatabaseTarget("sqlite", path=path if path.is_absolute() else Path(base_dir) / path)
