"""``mailintake audit [--since D]``: the office's actions, newest first (who, when, what, on what, from where)."""

from __future__ import annotations

import datetime as dt

import click

from mailintake.commands._common import database, load, user_errors


@click.command("audit")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M"]), default=None,
              help="Only actions from this local date (YYYY-MM-DD) or time on.")
@click.option("--limit", type=int, default=None, help="At most this many rows.")
@click.pass_context
def audit_cmd(ctx: click.Context, since: dt.datetime | None, limit: int | None) -> None:
    """Show the audit trail of office actions, newest first."""
    from mailintake.db.audit import list_actions

    with user_errors():
        settings = load(ctx)
        tz = settings.campaign.tz
        factory = database(settings)
        with factory() as session:
            rows = list_actions(session, since=since.replace(tzinfo=tz) if since else None, limit=limit)
            for row in rows:
                target = "；".join(part for part in (
                    f"邮件 {row.message_pk}" if row.message_pk else "",
                    f"记录 {row.submission_id}" if row.submission_id else "",
                    row.unit or "") if part)
                click.echo("\t".join((row.at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"), row.actor, row.origin,
                                      row.action, target, row.detail)))
        if not rows:
            click.echo("（无操作记录）", err=True)
