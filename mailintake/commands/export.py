"""``mailintake export``: mails, submissions and replies as JSON (stdout by default), CSV or Excel."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mailintake.commands._common import database, load, user_errors


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "xlsx"]), default="json", show_default=True,
              help="Output format.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (default: stdout; required for xlsx).")
@click.pass_context
def export_cmd(ctx: click.Context, fmt: str, out: Path | None) -> None:
    """Export mails, submissions and replies as JSON, CSV or Excel."""
    from mailintake.campaign.files import campaign_forms
    from mailintake.report.export import export_csv, export_xlsx, write_json

    with user_errors():
        settings = load(ctx)
        factory = database(settings)
        tz = settings.campaign.tz
        if fmt == "xlsx" and out is None:
            raise click.UsageError("--format xlsx needs --out FILE")
        with factory() as session:
            if fmt == "xlsx":
                assert out is not None
                export_xlsx(session, out, settings=settings)
                click.echo(str(out))
                return
            if out is None:
                if fmt == "json":
                    write_json(session, sys.stdout, tz=tz)
                else:
                    export_csv(session, sys.stdout, campaign_forms(settings), tz=tz)
                return
            try:
                # utf-8-sig: Excel on Windows opens a CSV with a BOM as UTF-8
                with out.open("w", encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="") as handle:
                    if fmt == "json":
                        write_json(session, handle, tz=tz)
                    else:
                        export_csv(session, handle, campaign_forms(settings), tz=tz)
            except OSError as exc:
                raise click.ClickException(f"cannot write {out} ({exc.strerror})") from None
        click.echo(str(out), err=True)
