"""``mailintake reprocess MESSAGE``: re-parse a stored mail after a parser fix."""

from __future__ import annotations

import click

from mailintake.commands._common import database, load, user_errors


def find_message_pks(session_factory: object, ref: str) -> list[int]:
    """Primary keys of the mails that ``ref`` (a numeric id or a Message-ID) names."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session, sessionmaker

    from mailintake.db.models import Message

    assert isinstance(session_factory, sessionmaker)
    ref = ref.strip()
    session: Session
    with session_factory() as session:
        if ref.isdigit():
            found = session.get(Message, int(ref))
            return [found.id] if found is not None else []
        candidates = {ref, ref.strip("<>"), f"<{ref.strip('<>')}>"}
        rows = session.scalars(select(Message.id).where(Message.message_id.in_(candidates)).order_by(Message.id))
        return list(rows)


@click.command("reprocess", help=(
    "Re-parse a stored mail after a parser fix: the old records are superseded, and a reply is "
    "queued only if the outcome changed. MESSAGE is the numeric id shown by `mailintake export` "
    "or the mail's Message-ID."))
@click.argument("message")
@click.pass_context
def reprocess_cmd(ctx: click.Context, message: str) -> None:
    from mailintake.errors import MailintakeError
    from mailintake.logging_setup import register_settings_secrets, setup_logging, verbosity_of
    from mailintake.pipeline import reprocess_message

    with user_errors():
        settings = load(ctx)
        setup_logging(verbosity_of(ctx))
        register_settings_secrets(settings)
        session_factory = database(settings)
        pks = find_message_pks(session_factory, message)
        if not pks:
            raise click.UsageError(
                f"no stored mail {message!r}; use a numeric id or a Message-ID from `mailintake export`"
            )
        if len(pks) > 1:
            ids = ", ".join(str(pk) for pk in pks)
            raise click.UsageError(f"{message!r} names {len(pks)} stored mails (ids {ids}); give the numeric id")
        status = reprocess_message(settings, session_factory, pks[0])
        click.echo(f"mail {pks[0]}: {status}")
        # deliver the reply now unless a running worker will (it holds the lock)
        from mailintake.errors import WorkerBusyError
        from mailintake.locking import worker_lock

        try:
            with worker_lock(settings, wait=False):
                from mailintake.sender import deliver_due

                result = deliver_due(settings, session_factory)
                if result.sent or result.failed:
                    click.echo(f"replies: {result.sent} sent, {result.failed} failed, {result.retried} to retry")
        except WorkerBusyError:
            click.echo("the running worker delivers any reply queued")
        except MailintakeError as err:
            click.echo(f"reply not delivered yet ({err}); `mailintake send` retries", err=True)
