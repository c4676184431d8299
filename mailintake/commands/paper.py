"""``mailintake paper UNIT --received``: record that a unit's stamped paper copies arrived.

The unit must match the roster (name or alias) or equal a unit name typed in a submission, so the
report can tell which units still owe their paper copies.
"""

from __future__ import annotations

import datetime as dt

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailintake.commands._common import database, load, user_errors
from mailintake.config import Settings


def resolve_unit(settings: Settings, session: Session, typed: str) -> str | None:
    """The roster's name for ``typed``, else ``typed`` itself when a submission names it exactly."""
    from mailintake.db.models import Submission
    from mailintake.report.sources import load_sources

    unit = load_sources(settings).roster.match(typed)
    if unit is not None:
        return unit.name
    name = typed.strip()
    found = session.scalars(select(Submission.unit).where(Submission.unit == name).limit(1)).first()
    return name if name and found is not None else None


def record_paper(session: Session, name: str, day: dt.date, note: str) -> dt.date | None:
    """Insert or update the unit's PaperCopy row; return the date recorded before, if any."""
    from mailintake.db.models import PaperCopy

    row = session.scalars(select(PaperCopy).where(PaperCopy.unit == name)).first()
    if row is None:
        session.add(PaperCopy(unit=name, received_on=day, note=note))
        return None
    previous = row.received_on
    row.received_on = day
    if note:
        row.note = note
    return previous


@click.command("paper")
@click.argument("unit")
@click.option("--received", is_flag=True, help="The stamped paper copies have arrived (required).")
@click.option("--date", "on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Date received, YYYY-MM-DD (default: today in the campaign time zone).")
@click.option("--note", default="", help="A remark kept with the record.")
@click.pass_context
def paper_cmd(ctx: click.Context, unit: str, received: bool, on: dt.datetime | None, note: str) -> None:
    """Record that a unit's stamped paper copies have arrived."""
    if not received:
        raise click.UsageError("add --received to record that the paper copies have arrived")
    with user_errors():
        settings = load(ctx)
        factory = database(settings)
        day = on.date() if on else dt.datetime.now(settings.campaign.tz).date()
        with factory() as session:
            name = resolve_unit(settings, session, unit)
            if name is None:
                click.echo(f"未找到单位“{unit}”：名录中没有该单位或其别名，申报记录中也没有完全相同的单位名称；"
                           "请核对名称后重试，或在 config/units.csv 中补充。", err=True)
                ctx.exit(1)
                return
            previous = record_paper(session, name, day, note)
            session.commit()
        again = f"（原登记日期 {previous.isoformat()}，已更新）" if previous else ""
        click.echo(f"已登记：{name} 纸质材料于 {day.isoformat()} 收到{again}")
