"""``mailintake parse FILE... [--json]``: read the application forms in Word files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from parsers import FileResult, parse_path


def _summary(results: list[FileResult]) -> None:
    from rich.console import Console
    from rich.table import Table

    from parsers import load_definitions

    console = Console()
    definitions = load_definitions()
    for result in results:
        console.print(f"[bold]{result.file}[/bold]  （{result.format}，{len(result.forms)} 张申报表）")
        for flag in result.flags:
            console.print(f"  [red]{flag.code}[/red] {flag.message}")
        for form in result.forms:
            table = Table(title=f"表{form.table} {form.title}（字数 {form.word_count}）", show_lines=False,
                          title_justify="left")
            table.add_column("字段")
            table.add_column("内容")
            for key, value in form.fields.items():
                table.add_row(definitions.label(form.table, key), value or "[dim]（空）[/dim]")
            console.print(table)
            for flag in form.flags:
                console.print(f"  [yellow]{flag.code}[/yellow] {flag.message}")


@click.command("parse")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON.")
@click.option("--max-chars", default=1000, show_default=True, help="字数 limit for the narrative fields.")
def parse_cmd(files: tuple[str, ...], as_json: bool, max_chars: int) -> None:
    """Parse application forms (表1–表4) from Word files and print the records.

    FILE may be .docx, or .doc/.wps/.rtf/.odt when LibreOffice is installed; the real type is
    read from the bytes, not the name.
    """
    missing = [name for name in files if not Path(name).is_file()]
    if missing:
        for name in missing:
            click.echo(f"mailintake parse: no such file: {name}", err=True)
        sys.exit(2)
    results = [parse_path(name, max_chars=max_chars) for name in files]
    if as_json:
        click.echo(json.dumps({"files": [r.to_dict() for r in results]}, ensure_ascii=False, indent=2))
    else:
        _summary(results)
