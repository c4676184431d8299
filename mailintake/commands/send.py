"""``mailintake send``: deliver every reply (and report) waiting, at once, whatever its retry time.

Exit 0 when all went out; 4 (the SMTP exit code) when some could not be sent — the server unreachable,
a mail deferred or given up — with one line saying what to do."""

from __future__ import annotations

import click

from mailintake.commands._common import database, load, user_errors


@click.command("send")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="At most this many mails (default: every due one).")
@click.pass_context
def send_cmd(ctx: click.Context, limit: int | None) -> None:
    """Deliver every waiting reply now, whatever its retry time (exit 4 when some could not be sent)."""
    from mailintake.errors import SmtpError
    from mailintake.outbox.sender import deliver_due

    with user_errors():
        settings = load(ctx)
        result = deliver_due(settings, database(settings), limit=limit, everything=True)
    click.echo(f"sent {result.sent}, retry later {result.retried}, failed {result.failed}")
    for error in result.errors:
        click.echo(error, err=True)
    summary = result.summary()
    if summary is not None:
        click.echo(summary, err=True)
        ctx.exit(SmtpError.exit_code)
