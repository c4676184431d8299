"""``mailintake handoff --out DIR``: the 公示名单, the 民主测评票 and the candidates' original files."""

from __future__ import annotations

from pathlib import Path

import click

from mailintake.commands._common import database, load, user_errors


@click.command("handoff")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory to write the files into (created if needed).")
@click.pass_context
def handoff_cmd(ctx: click.Context, out_dir: Path) -> None:
    """Write the hand-off files from the current candidate lists."""
    from mailintake.campaign.sources import load_sources
    from mailintake.office.handoff import write_handoff

    with user_errors():
        settings = load(ctx)
        sources = load_sources(settings)
        factory = database(settings)
        with factory() as session:
            paths = write_handoff(session, settings, sources, out_dir)
        for path in paths:
            click.echo(str(path))
