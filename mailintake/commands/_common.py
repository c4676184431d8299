"""Boilerplate shared by the CLI commands: settings, database, one-line user errors."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session, sessionmaker

from mailintake.config import Settings, load_settings
from mailintake.errors import MailintakeError


def load(ctx: click.Context) -> Settings:
    """The validated settings for the ``--config`` given to the root group."""
    obj = ctx.find_root().obj or {}
    return load_settings(obj.get("config_path"))


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
