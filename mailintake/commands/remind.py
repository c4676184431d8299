"""``mailintake remind --preview|--send [--now T]``: the reminders (催报) due now."""

from __future__ import annotations

import datetime as dt

import click

from mailintake.commands._common import database, load, user_errors


@click.command("remind")
@click.option("--preview", "mode", flag_value="preview", help="List the reminders due now (nothing is sent).")
@click.option("--send", "mode", flag_value="send", help="Queue the reminders due now (delivered by the worker "
              "or `mailintake send`).")
@click.option("--text", is_flag=True, help="With --preview: print each reminder's text too.")
@click.option("--now", "at", type=click.DateTime(formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]), default=None,
              help="Act as if it were this local time (default: now).")
@click.pass_context
def remind_cmd(ctx: click.Context, mode: str | None, text: bool, at: dt.datetime | None) -> None:
    """Preview or queue the reminders (催报) due now; units without an address are listed as 需电话催报."""
    if mode is None:
        raise click.UsageError("add --preview to list the reminders due now, or --send to queue them")
    from mailintake.campaign.sources import load_sources
    from mailintake.db.audit import Actor
    from mailintake.office.reminders import preview_reminders, send_reminders

    with user_errors():
        settings = load(ctx)
        now = at.replace(tzinfo=settings.campaign.tz) if at else dt.datetime.now(dt.UTC)
        sources = load_sources(settings)
        factory = database(settings)
        with factory() as session:
            due = preview_reminders(session, settings, sources, now)
            if mode == "preview":
                for reminder in due:
                    target = reminder.address or (f"需电话催报 {reminder.contact} {reminder.phone or '（未登记电话）'}"
                                                  f"（{reminder.no_mail_reason}）")
                    click.echo(f"{reminder.kind_label}\t{reminder.unit}\t{target}")
                    if text:
                        click.echo(reminder.text)
                click.echo(f"共 {len(due)} 条，其中需电话催报 {sum(r.address is None for r in due)} 条")
                return
            result = send_reminders(session, settings, sources, now, Actor.cli(), only=due)
            session.commit()
        click.echo(f"已排队 {len(result.queued)} 封催报邮件，由 worker 或 mailintake send 发送；"
                   f"需电话催报 {sum(r.address is None for r in result.skipped)} 家")
