"""``mailintake resend RECEIPT``: queue the reply of a receipt number again (sent by the next ``send``)."""

from __future__ import annotations

import click

from mailintake.commands._common import database, load, user_errors


@click.command("resend")
@click.argument("receipt")
@click.pass_context
def resend_cmd(ctx: click.Context, receipt: str) -> None:
    """Queue the reply of a receipt number again."""
    from mailintake.office.audit import Actor
    from mailintake.office.replies import resend_reply

    with user_errors():
        settings = load(ctx)
        factory = database(settings)
        with factory() as session:
            row = resend_reply(session, settings, receipt, Actor.cli())
            session.commit()
            recipients = ", ".join([*row.recipients, *row.cc])
            click.echo(f"queued {row.kind} reply for {receipt.strip()} to {recipients} (outbox {row.id})")
