"""``mailintake demo``: the whole job against local servers, printed as tables."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any

import click

from mailintake.commands._common import user_errors
from mailintake.db.vocabulary import MailStatus

STATUS_STYLE = {MailStatus.accepted: "green", MailStatus.needs_correction: "yellow", MailStatus.late: "red",
                MailStatus.no_form: "cyan", MailStatus.ignored: "dim", MailStatus.failed: "bold red",
                MailStatus.too_large: "red"}


def _forms_text(mail: dict[str, Any]) -> str:
    parts = []
    for form in mail["forms"]:
        who = form["unit"] or ""
        flags = f" [{', '.join(form['flags'])}]" if form["flags"] else ""
        parts.append(f"表{form['table']} {who} {form['word_count']}字{flags}".replace("  ", " "))
    if mail["flags"] and not parts:
        parts.append(", ".join(mail["flags"]))
    return "\n".join(parts) or "—"


def _render_calendar(result: Any, console: Any) -> None:
    """The 催报 preview (mailed ones in full, the phone list counted) and the hand-off files."""
    from rich.markup import escape

    mailed = [r for r in result.reminders if r["to"]]
    by_phone = len(result.reminders) - len(mailed)
    console.print(f"\n[bold]Reminders due on 2019-12-18 15:00 (催报 preview, not sent)[/]: {len(mailed)} by mail, "
                  f"{by_phone} 需电话催报 (the shipped roster lists no addresses)")
    for reminder in mailed:
        console.print(f"  {escape(reminder['label'])}  {escape(reminder['unit'])} → {escape(reminder['to'])}",
                      highlight=False)
    if result.handoff:
        console.print(f"\n[bold]Hand-off files[/] ({len(result.handoff)}): {result.handoff[0]}, {result.handoff[1]} "
                      "and the candidates' originals", highlight=False)


def render(result: Any, console: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"Mails in the sample mailbox ({len(result.mails)})", show_lines=True)
    for column in ("received (+08:00)", "from", "subject", "status", "forms (字数, flags)", "reply"):
        table.add_column(column, overflow="fold")
    for mail in result.mails:
        style = STATUS_STYLE.get(mail["status"], "")
        table.add_row(mail["received_at"].replace("T", " ")[:16], escape(mail["from_name"] or mail["from"]),
                      escape(mail["subject"]), f"[{style}]{mail['status']}[/]" if style else mail["status"],
                      escape(_forms_text(mail)), mail["reply"] or "—")
    console.print(table)
    console.print(f"\n[bold]Replies sent ({len(result.replies)})[/] — caught by the local SMTP sink:")
    for reply in result.replies:
        console.print(f"  → [bold]{escape(', '.join(reply['to']))}[/]  {escape(reply['subject'])}", highlight=False)
        for line in reply["first_lines"]:
            console.print(f"      [dim]{escape(line)}[/]", highlight=False)
        if reply["attachments"]:
            console.print(f"      [dim]attachments: {escape(', '.join(reply['attachments']))}[/]", highlight=False)
    console.print("\n[bold]Daily report[/]")
    console.print(f"  HTML:  {result.report_html}", highlight=False)
    console.print(f"  Excel: {result.report_xlsx}", highlight=False)
    _render_calendar(result, console)
    counts = ", ".join(f"{k} {v}" for k, v in result.counts().items())
    console.print(f"\n{len(result.mails)} mails ({counts}); done in {result.duration:.1f} s. "
                  f"Data in {result.directory}.", highlight=False)
    if not result.libreoffice:
        console.print("[dim]LibreOffice (soffice) is not installed: the .doc sample was left out.[/]")
    for error in result.errors:
        console.print(f"[red]error:[/] {escape(error)}", highlight=False)


def _watch_sink(sink: Any, console: Any, start: int, stop: threading.Event) -> None:
    from mailintake.demo.session import sent_replies

    seen = start
    while not stop.wait(1.0):
        replies = sent_replies(sink)
        for reply in replies[seen:]:
            console.print(f"SMTP sink got: → {', '.join(reply['to'])}  {reply['subject']}", highlight=False,
                          markup=False)
        seen = len(replies)


def _require_demo_servers() -> None:
    """The local IMAP server and SMTP sink come with the ``demo`` extra (and with ``uv sync`` in a checkout)."""
    import importlib.util

    from mailintake.errors import MailintakeError

    missing = [name for name in ("pymap", "aiosmtpd") if importlib.util.find_spec(name) is None]
    if missing:
        raise MailintakeError(f"demo: needs the local test servers ({', '.join(missing)}); install them with "
                              "`pip install 'mailintake[demo]'` (in a checkout: `uv sync`)")


@click.command("demo", help=(
    "Run the whole job against local servers with sample mail: start an IMAP server (pymap) and an "
    "SMTP sink on loopback, fill the mailbox with forms of all four tables and the awkward cases, "
    "poll, reply, write the daily report, and print what happened. No credentials, no network."))
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("var/demo"),
              show_default=True, help="Where the demo's config, database, storage and report go (emptied first).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of tables.")
@click.option("--keep-running", is_flag=True,
              help="Leave the servers and the worker running and print how to connect a mail client.")
@click.option("--no-doc", is_flag=True, help="Leave out the .doc sample (skips LibreOffice).")
@click.pass_context
def demo_cmd(ctx: click.Context, directory: Path, as_json: bool, keep_running: bool, no_doc: bool) -> None:
    from rich.console import Console

    from mailintake.demo.session import run_demo
    from mailintake.util.logging_setup import setup_logging, verbosity_of

    verbosity = verbosity_of(ctx)
    setup_logging(2 if verbosity >= 2 else 0)
    console = Console()
    status_console = Console(stderr=True)
    with user_errors():
        _require_demo_servers()
        if as_json:
            result, servers, worker = run_demo(directory.resolve(), with_doc=not no_doc)
        else:
            with status_console.status("starting") as status:
                result, servers, worker = run_demo(
                    directory.resolve(), with_doc=not no_doc,
                    progress=lambda text: status.update(text))
        web = None
        try:
            from mailintake.demo.console import DEMO_LOGIN, DEMO_WEB_PASSWORD, start_demo_console

            web = start_demo_console(result.config_path)
            if as_json:
                summary = result.summary()
                summary["console"] = {"url": web.url, "login": DEMO_LOGIN, "password": DEMO_WEB_PASSWORD}
                click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
            else:
                render(result, console)
                later = "" if keep_running else "  (until the demo ends; --keep-running keeps it up)"
                console.print(f"\n[bold]Console[/]  {web.url}  login {DEMO_LOGIN}  password {DEMO_WEB_PASSWORD}{later}",
                              highlight=False)
            if keep_running:
                _keep_running(result, servers, worker, console, verbosity)
        finally:
            if web is not None:
                web.stop()
            worker.close()
            servers.stop()
    if result.errors:
        sys.exit(1)


def _keep_running(result: Any, servers: Any, worker: Any, console: Any, verbosity: int) -> None:
    from mailintake.config.settings import load_settings
    from mailintake.db.locking import worker_lock
    from mailintake.demo.session import DEMO_PASSWORD, OFFICE
    from mailintake.util.logging_setup import setup_logging
    from mailintake.worker.service import Worker

    settings = load_settings(result.config_path, environ={},
                             overrides={"mailbox": {"idle": True}, "schedule": {"poll_interval": 60}})
    console.print(f"""
[bold]The servers and the worker keep running[/] (Ctrl-C stops them). Connect a mail client:
  IMAP      host {servers.imap.host}  port {servers.imap.port}  no encryption (plain)
            user {OFFICE}  password {DEMO_PASSWORD}
  SMTP sink host {servers.sink.host}  port {servers.sink.port}  no encryption, no login (replies land here)
Drop or copy a mail into the INBOX (IMAP APPEND) and watch the reply arrive within seconds (IMAP IDLE).
In another terminal:  uv run mailintake --config {result.config_path} status""", highlight=False)
    setup_logging(max(verbosity, 1))
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_sink, args=(servers.sink, console, len(result.replies), stop),
                               daemon=True)
    watcher.start()
    worker.close()
    try:
        with worker_lock(settings, wait=False):
            Worker(settings, worker.session_factory).run()
    finally:
        stop.set()
