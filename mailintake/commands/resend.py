"""``mailintake resend RECEIPT``: queue the reply of a receipt number again (sent by the next ``send``)."""

from __future__ import annotations

import click
from sqlalchemy.orm import Session

from mailintake.commands._common import database, load, user_errors


def resolve_receipt(session: Session, text: str) -> str:
    """The full receipt number for ``text``: itself, or the one number ending in it (``0005``, ``5`` →
    ``2019-0005``). OutboxError (one line) when several end in it; an unknown number is left to the caller."""
    from sqlalchemy import select

    from mailintake.db.models import Message
    from mailintake.outbox import OutboxError

    wanted = text.strip()
    if not wanted.isdigit() or session.scalar(select(Message.id).where(Message.receipt_no == wanted)) is not None:
        return wanted
    like = session.scalars(select(Message.receipt_no).where(Message.receipt_no.like(f"%{wanted}"))).all()
    matches = sorted({r for r in like if r and r.rsplit("-", 1)[-1].isdigit() and
                      int(r.rsplit("-", 1)[-1]) == int(wanted)})
    if len(matches) > 1:
        raise OutboxError(f"resend: {wanted} matches {', '.join(matches)}; give the full receipt number")
    return matches[0] if matches else wanted


@click.command("resend")
@click.argument("receipt")
@click.pass_context
def resend_cmd(ctx: click.Context, receipt: str) -> None:
    """Queue the reply of a receipt number again (RECEIPT: 2019-0005, or just 0005 or 5)."""
    from mailintake.outbox import queue_again

    with user_errors():
        settings = load(ctx)
        factory = database(settings)
        with factory() as session:
            number = resolve_receipt(session, receipt)
            row = queue_again(session, settings, number)
            session.commit()
            recipients = ", ".join([*row.recipients, *row.cc])
            click.echo(f"queued {row.kind} reply for {number} to {recipients} (outbox {row.id})")
