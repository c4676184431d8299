"""``mailintake forms --out DIR``: write the blank 附件1 exactly as the replies and 催报 attach it."""

from __future__ import annotations

from pathlib import Path

import click

from mailintake.commands._common import load, user_errors


@click.command("forms")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory to write the blank forms into (created if missing).")
@click.pass_context
def forms_cmd(ctx: click.Context, out: Path) -> None:
    """Write the blank application forms (附件1, .docx) sent to units without a form."""
    from mailintake.applicant.blank_forms import blank_forms
    from mailintake.errors import MailintakeError

    with user_errors():
        settings = load(ctx)
        name, data = blank_forms(settings)
        try:
            out.mkdir(parents=True, exist_ok=True)
            (out / name).write_bytes(data)
        except OSError as exc:
            raise MailintakeError(f"forms: cannot write {out / name} ({exc.strerror}); choose a writable --out "
                                  "directory") from None
        click.echo(str(out / name))
