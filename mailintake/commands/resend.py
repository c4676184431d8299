"""``mailintake resend RECEIPT`` / ``resend --failed [--since TIME]``: queue a reply again (sent by the next
``send`` or the worker)."""

from __future__ import annotations

import datetime as dt

import click

from mailintake.commands._common import database, load, user_errors
from mailintake.errors import ConfigError


def parse_since(text: str, tz: dt.tzinfo) -> dt.datetime:
    """``2019-12-18``, ``2019-12-18T09:00`` or with an offset; without one, the campaign's time zone."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"resend: --since {text!r} is not a time; write it as 2019-12-18T09:00") from None
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


@click.command("resend")
@click.argument("receipt", required=False)
@click.option("--failed", is_flag=True, help="Queue every mail that gave up once more (after an outage).")
@click.option("--since", "since_text", metavar="TIME", default=None,
              help="With --failed: only mails queued at or after TIME (2019-12-18T09:00, campaign time zone).")
@click.pass_context
def resend_cmd(ctx: click.Context, receipt: str | None, failed: bool, since_text: str | None) -> None:
    """Queue the reply of a receipt number again (RECEIPT: 2019-0005, or just 0005 or 5), or with --failed
    every mail that gave up; each goes once, and nobody already answered since gets a second."""
    from mailintake.db.audit import Actor
    from mailintake.office.redo import resend_failed, resend_reply

    with user_errors():
        if failed == (receipt is not None) or (since_text is not None and not failed):
            raise ConfigError("resend: give a receipt number or --failed [--since TIME], not both")
        settings = load(ctx)
        factory = database(settings)
        with factory() as session:
            if failed:
                since = parse_since(since_text, settings.campaign.tz) if since_text else None
                rows = resend_failed(session, Actor.cli(), since)
                session.commit()
                click.echo(f"queued {len(rows)} mail(s) that had given up; `mailintake send` delivers them now")
                return
            assert receipt is not None
            row = resend_reply(session, settings, receipt, Actor.cli())
            number = row.message.receipt_no if row.message is not None else receipt.strip()
            session.commit()
            recipients = ", ".join([*row.recipients, *row.cc])
            click.echo(f"queued {row.kind} reply for {number} to {recipients} (outbox {row.id})")
