"""``mailintake report``: write the daily report (HTML + 汇总表.xlsx); ``--send`` mails it to the office.

A report written without ``--send`` is a look at the current state: it does not move the "上次报告"
point the scheduled daily report counts new mail from. (There is no ``--date``: the data is always
today's; a report "as of" an earlier day would need the history of every resubmission.)
"""

from __future__ import annotations

from pathlib import Path

import click

from mailintake.commands._common import database, load, user_errors
from mailintake.errors import ConfigError


@click.command("report")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for the files (default: [report] dir).")
@click.option("--send", is_flag=True, help="Mail the report to [report] recipients and deliver it now.")
@click.pass_context
def report_cmd(ctx: click.Context, out_dir: Path | None, send: bool) -> None:
    """Write (and optionally send) the intake report; only a sent one becomes the next report's baseline."""
    from mailintake.report.build import build_report
    from mailintake.report.mail import queue_report_mail

    with user_errors():
        settings = load(ctx)
        if send and not settings.report.recipients:
            raise ConfigError("config: [report] recipients is empty; list the office's addresses to mail the report to")
        factory = database(settings)
        with factory() as session:
            files = build_report(settings, session, out_dir=out_dir, baseline=send)
            if send:
                queue_report_mail(settings, session, files)
            session.commit()
        click.echo(str(files.html_path))
        click.echo(str(files.xlsx_path))
        if send:
            from mailintake.outbox.sender import deliver_due

            result = deliver_due(settings, factory)
            click.echo(f"report queued for {', '.join(settings.report.recipients)}; "
                       f"sent {result.sent}, retry later {result.retried}, failed {result.failed}")
            for error in result.errors:
                click.echo(error, err=True)
