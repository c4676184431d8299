"""`mailintake db-upgrade`: create or upgrade the database schema (Alembic)."""

from __future__ import annotations

import click

from mailintake.commands._common import database, load, user_errors


@click.command("db-upgrade")
@click.pass_context
def db_upgrade_cmd(ctx: click.Context) -> None:
    """Create the database or bring its schema to the newest version.

    `poll` and `run` do this on their own; use this command after upgrading mailintake to migrate
    before the worker starts again.
    """
    with user_errors():
        settings = load(ctx)
        database(settings)
        click.echo("database schema is up to date")
