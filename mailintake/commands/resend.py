"""``mailintake resend RECEIPT``: queue the reply of a receipt number again (sent by the next ``send``)."""

from __future__ import annotations

import click

from mailintake.commands._common import database, load, user_errors


@click.command("resend")
@click.argument("receipt")
@click.pass_context
def resend_cmd(ctx: click.Context, receipt: str) -> None:
    """Queue the reply of a receipt number again (RECEIPT: 2019-0005, or just 0005 or 5)."""
    from mailintake.db.audit import Actor
    from mailintake.office.redo import resend_reply

    with user_errors():
        settings = load(ctx)
        factory = database(settings)
        with factory() as session:
            row = resend_reply(session, settings, receipt, Actor.cli())
            number = row.message.receipt_no if row.message is not None else receipt.strip()
            session.commit()
            recipients = ", ".join([*row.recipients, *row.cc])
            click.echo(f"queued {row.kind} reply for {number} to {recipients} (outbox {row.id})")
