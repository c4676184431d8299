"""``mailintake report``: write the daily report (HTML + 汇总表.xlsx); ``--send`` mails it to the office."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from mailintake.commands._common import database, load, user_errors
from mailintake.errors import ConfigError


@click.command("report")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for the files (default: [report] dir).")
@click.option("--send", is_flag=True, help="Mail the report to [report] recipients and deliver it now.")
@click.option("--date", "for_date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The report's date, YYYY-MM-DD (default: today in the campaign time zone).")
@click.pass_context
def report_cmd(ctx: click.Context, out_dir: Path | None, send: bool, for_date: dt.datetime | None) -> None:
    """Write (and optionally send) the daily intake report."""
    from mailintake.report import build_report, queue_report_mail

    with user_errors():
        settings = load(ctx)
        if send and not settings.report.recipients:
            raise ConfigError("config: [report] recipients is empty; list the office's addresses to mail the report to")
        factory = database(settings)
        with factory() as session:
            files = build_report(settings, session, for_date=for_date.date() if for_date else None, out_dir=out_dir)
            if send:
                queue_report_mail(settings, session, files)
            session.commit()
        click.echo(str(files.html_path))
        click.echo(str(files.xlsx_path))
        if send:
            from mailintake.sender import deliver_due

            result = deliver_due(settings, factory)
            click.echo(f"report queued for {', '.join(settings.report.recipients)}; "
                       f"sent {result.sent}, retry later {result.retried}, failed {result.failed}")
            for error in result.errors:
                click.echo(error, err=True)
