"""``mailintake send``: deliver the replies (and reports) that are due, once."""

from __future__ import annotations

import click

from mailintake.commands._common import database, load, user_errors


@click.command("send")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="At most this many mails (default: every due one).")
@click.pass_context
def send_cmd(ctx: click.Context, limit: int | None) -> None:
    """Deliver the replies that are due."""
    from mailintake.outbox.sender import deliver_due

    with user_errors():
        settings = load(ctx)
        result = deliver_due(settings, database(settings), limit=limit)
    click.echo(f"sent {result.sent}, retry later {result.retried}, failed {result.failed}")
    for error in result.errors:
        click.echo(error, err=True)
