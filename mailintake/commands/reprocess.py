"""``mailintake reprocess MESSAGE``: re-parse a stored mail after a parser fix."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mailintake.commands._common import database, load, user_errors
from mailintake.db.vocabulary import MailStatus

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


def find_message_pks(session_factory: sessionmaker[Session], ref: str) -> list[int]:
    """Primary keys of the mails that ``ref`` (a numeric id or a Message-ID) names."""
    from sqlalchemy import select

    from mailintake.db.models import Message

    ref = ref.strip()
    with session_factory() as session:
        if ref.isdigit():
            found = session.get(Message, int(ref))
            return [found.id] if found is not None else []
        candidates = {ref, ref.strip("<>"), f"<{ref.strip('<>')}>"}
        rows = session.scalars(select(Message.id).where(Message.message_id.in_(candidates)).order_by(Message.id))
        return list(rows)


STATUSES = (MailStatus.accepted, MailStatus.needs_correction, MailStatus.no_form, MailStatus.late,
            MailStatus.failed)


def message_pks_with_status(session_factory: sessionmaker[Session], status: str) -> list[int]:
    """Stored mails (with their raw bytes kept) that currently have ``status``, oldest first."""
    from sqlalchemy import select

    from mailintake.db.models import Message

    with session_factory() as session:
        return list(session.scalars(
            select(Message.id).where(Message.status == status, Message.raw_path.is_not(None)).order_by(Message.id)))


@click.command("reprocess", help=(
    "Re-parse a stored mail after a parser fix: the old records are superseded, and a reply is "
    "queued only if the outcome changed. MESSAGE is the numeric id shown by `mailintake export` "
    "or the mail's Message-ID; --status reprocesses every stored mail with that status instead."))
@click.argument("message", required=False)
@click.option("--status", "status_filter", type=click.Choice([status.value for status in STATUSES]),
              help="Reprocess every stored mail that has this status (e.g. needs_correction after a parser fix).")
@click.pass_context
def reprocess_cmd(ctx: click.Context, message: str | None, status_filter: str | None) -> None:
    from mailintake.db.audit import Actor
    from mailintake.errors import MailintakeError
    from mailintake.office.redo import reprocess
    from mailintake.util.logging_setup import register_settings_secrets, setup_logging, verbosity_of

    with user_errors():
        settings = load(ctx)
        setup_logging(verbosity_of(ctx))
        register_settings_secrets(settings)
        session_factory = database(settings)
        if (message is None) == (status_filter is None):
            raise click.UsageError("give either MESSAGE or --status STATUS")
        if status_filter is not None:
            pks = message_pks_with_status(session_factory, status_filter)
        else:
            assert message is not None
            pks = find_message_pks(session_factory, message)
            if not pks:
                raise click.UsageError(
                    f"no stored mail {message!r}; use a numeric id or a Message-ID from `mailintake export`"
                )
            if len(pks) > 1:
                ids = ", ".join(str(pk) for pk in pks)
                raise click.UsageError(f"{message!r} names {len(pks)} stored mails (ids {ids}); give the numeric id")
        from mailintake.intake.cycle import make_pool

        with make_pool(settings) as pool:
            for pk in pks:
                before = _status_of(session_factory, pk)
                status = reprocess(settings, session_factory, pk, Actor.cli(), pool=pool)
                click.echo(f"mail {pk}: {before} -> {status}" if before != status else f"mail {pk}: {status}")
        if not pks:
            click.echo(f"no stored mail has status {status_filter}")
        # deliver the reply now unless a running worker will (it holds the lock)
        from mailintake.db.locking import worker_lock
        from mailintake.errors import WorkerBusyError

        try:
            with worker_lock(settings, wait=False):
                from mailintake.outbox.sender import deliver_due

                result = deliver_due(settings, session_factory)
                if result.sent or result.failed:
                    click.echo(f"replies: {result.sent} sent, {result.failed} failed, {result.retried} to retry")
        except WorkerBusyError:
            click.echo("the running worker delivers any reply queued")
        except MailintakeError as err:
            click.echo(f"reply not delivered yet ({err}); `mailintake send` retries", err=True)


def _status_of(session_factory: sessionmaker[Session], pk: int) -> str:
    from mailintake.db.models import Message

    with session_factory() as session:
        found = session.get(Message, pk)
        return found.status if found is not None else "?"
