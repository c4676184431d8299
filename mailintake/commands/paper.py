"""``mailintake paper UNIT --received [--date D]`` / ``--undo``: the paper-copy register.

The unit must have applied: a roster name or alias, or exactly the unit name typed in a current
submission. A name that matches nothing gets the roster units it may mean.
"""

from __future__ import annotations

import datetime as dt

import click

from mailintake.commands._common import database, load, user_errors


@click.command("paper")
@click.argument("unit")
@click.option("--received", is_flag=True, help="The stamped paper copies have arrived.")
@click.option("--undo", is_flag=True, help="Remove a mistaken paper-copy record.")
@click.option("--date", "on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Date received, YYYY-MM-DD (default: today in the campaign time zone).")
@click.option("--note", default="", help="A remark kept with the record.")
@click.pass_context
def paper_cmd(ctx: click.Context, unit: str, received: bool, undo: bool, on: dt.datetime | None,
              note: str) -> None:
    """Record that a unit's stamped paper copies have arrived (or undo that record)."""
    if received == undo:
        raise click.UsageError("add --received to record that the paper copies have arrived, or --undo to remove "
                               "a mistaken record")
    from mailintake.campaign.sources import load_sources
    from mailintake.db.audit import Actor
    from mailintake.office.paper import record_received, undo_received

    with user_errors():
        settings = load(ctx)
        factory = database(settings)
        roster = load_sources(settings).roster
        today = dt.datetime.now(settings.campaign.tz).date()
        with factory() as session:
            if undo:
                result = undo_received(session, roster, unit, Actor.cli())
                session.commit()
                click.echo(f"已撤销：{result.unit} 纸质材料收到登记（原登记日期 {result.previous}）")
                return
            day = on.date() if on else today
            result = record_received(session, roster, unit, day, today, Actor.cli(), note)
            session.commit()
        again = f"（原登记日期 {result.previous.isoformat()}，已更新）" if result.previous else ""
        click.echo(f"已登记：{result.unit} 纸质材料于 {day.isoformat()} 收到{again}")
