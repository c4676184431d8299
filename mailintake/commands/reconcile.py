"""``mailintake reconcile``: compare the mailbox with the ledger; exit 0 when they agree, 1 otherwise."""

from __future__ import annotations

import click

from mailintake.commands._common import database, load, user_errors


@click.command("reconcile")
@click.pass_context
def reconcile_cmd(ctx: click.Context) -> None:
    """Compare the mailbox with the ledger and print every difference (exit 1 when there is one)."""
    from mailintake.intake.reconcile import reconcile
    from mailintake.util.logging_setup import register_settings_secrets

    with user_errors():
        settings = load(ctx, mailbox=True)
        register_settings_secrets(settings)
        result = reconcile(settings, database(settings))
    click.echo(result.summary())
    differences = result.differences
    if not differences:
        click.echo("no difference")
        return
    for line in differences:
        click.echo(line)
    ctx.exit(1)
