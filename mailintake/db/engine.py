"""Open the database, bring its schema up to date with Alembic, hand out sessions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from mailintake.errors import DatabaseError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
#: the newest migration; a database already there is opened without importing Alembic (~0.3 s)
HEAD_REVISION = "a24_other_names"
#: SQLite's page cache per connection, in KiB (the default, 2 MiB, holds the per-mail indexes of a
#: small campaign only: at 10,000 mails each new mail re-read ~90 pages from the OS)
SQLITE_CACHE_KIB = 16384


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


def resolve_url(url: str, base_dir: str | Path = ".") -> str:
    """Make a relative SQLite path absolute against ``base_dir`` and create its directory."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"database: cannot parse URL {url!r}; fix [database] url") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database)
        if not path.is_absolute():
            path = Path(base_dir) / path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseError(
                f"database: cannot create {path.parent} ({exc.strerror}); fix [database] url"
            ) from None
        return parsed.set(database=str(path)).render_as_string(hide_password=False)
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, base_dir: str | Path = ".") -> Engine:
    resolved = resolve_url(url, base_dir)
    try:
        if resolved.startswith("sqlite"):
            engine = create_engine(resolved, connect_args={"timeout": 30}, json_serializer=json_text)
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(resolved, pool_pre_ping=True, json_serializer=json_text)
    except (ArgumentError, ImportError) as exc:
        raise DatabaseError(f"database: unusable URL ({exc}); fix [database] url") from None
    return engine


def json_text(value: Any) -> str:
    """JSON columns as UTF-8 text, not ``\\uXXXX`` escapes: a form's Chinese fields take a third of the
    room, so fewer pages are read and written per mail as the campaign grows. Text a database cannot
    store as UTF-8 (a lone surrogate from a broken header) keeps the escapes."""
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value)
    return text


def alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def current_revision(engine: Engine) -> str | None:
    """The schema revision stored in the database, or None for an empty database."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> None:
    """Create or upgrade the schema to the newest migration."""
    try:
        if current_revision(engine) == HEAD_REVISION:
            return
        from alembic import command

        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "head")
    except OperationalError as exc:
        reason = str(exc.orig).splitlines()[0] if exc.orig else str(exc).splitlines()[0]
        raise DatabaseError(
            f"database: cannot open or upgrade ({reason}); check [database] url and that the server runs"
        ) from None


def open_database(url: str, base_dir: str | Path = ".", *, migrate: bool = True) -> sessionmaker[Session]:
    """Engine + migrations + a session factory; every failure is one DatabaseError line."""
    engine = make_engine(url, base_dir)
    try:
        if migrate:
            upgrade(engine)
        else:
            with engine.connect():
                pass
    except SQLAlchemyError as exc:
        raise DatabaseError(f"database: {str(exc).splitlines()[0]}; check [database] url") from None
    return sessionmaker(engine, expire_on_commit=False)
