"""Boilerplate shared by the CLI commands: settings, database, one-line user errors."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from mailintake.errors import DatabaseError, MailintakeError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from mailintake.config.settings import Settings


def load(ctx: click.Context, *, warn_permissions: bool = True, mailbox: bool = False) -> Settings:
    """The validated settings for the ``--config`` given to the root group.

    With ``mailbox`` (commands that log in to IMAP) an empty ``[mailbox] username`` is refused here, once,
    instead of failing every cycle. Warns (one stderr line) when the file holds a password and every user
    on the machine can read it.
    """
    from mailintake.config.settings import load_settings
    from mailintake.errors import ConfigError

    obj = ctx.find_root().obj or {}
    settings = load_settings(obj.get("config_path"), require_file=True, strict=True)
    if mailbox and not settings.mailbox.username:
        raise ConfigError("config: [mailbox] username is empty; set the mailbox address to log in as "
                          "(or set MAILINTAKE_MAILBOX__USERNAME)")
    if warn_permissions:
        warn_world_readable(obj.get("config_path"))
    return settings


def warn_world_readable(config_option: str | None) -> None:
    """One stderr line when the config file holds a password and every user on the machine can read it."""
    from mailintake.config.file import resolve_config_path, world_readable_secret

    path = resolve_config_path(config_option)
    if path is not None and world_readable_secret(path):
        click.echo(f"warning: config file {path} is readable by every user and holds a password; "
                   f"chmod 600 {path}", err=True)


def database(settings: Settings) -> sessionmaker[Session]:
    """Open (and migrate) the configured database."""
    from mailintake.db.engine import open_database

    return open_database(settings.database.url, settings.base_dir)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a MailintakeError into one line on stderr and its exit code."""
    try:
        yield
    except MailintakeError as err:
        click.echo(str(err), err=True)
        sys.exit(err.exit_code)
    except Exception as err:
        # SQLAlchemy is imported only by the commands that use it
        errors = sys.modules.get("sqlalchemy.exc")
        if errors is None or not isinstance(err, errors.OperationalError):
            raise
        # busy/locked past the timeout, server gone: nothing half-written
        orig = getattr(err, "orig", None)
        reason = str(orig).splitlines()[0] if orig else str(err).splitlines()[0]
        click.echo(f"database: {reason}; nothing was lost, run the command again when the database is free",
                   err=True)
        sys.exit(DatabaseError.exit_code)
