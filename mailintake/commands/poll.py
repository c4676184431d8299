"""`mailintake poll`: one intake cycle — the same cycle `mailintake run` schedules — run once, delivering
the replies as the mails are committed. For a first fill or a manual check; the service is `run`."""

from __future__ import annotations

import json
from typing import Any

import click

from mailintake.commands._common import database, load, user_errors


@click.command("poll")
@click.option("--no-send", is_flag=True, help="Store and queue replies but do not deliver them now.")
@click.option("--json", "as_json", is_flag=True, help="Print the cycle's counts as JSON.")
@click.option("--wait", "wait_seconds", type=float, default=30.0, show_default=True,
              help="Seconds to wait for a running worker to release the database.")
@click.pass_context
def poll_cmd(ctx: click.Context, no_send: bool, as_json: bool, wait_seconds: float) -> None:
    """Fetch new mail, parse the forms, apply the rules, store everything and answer the senders.

    Exit 0 on success; non-zero with one line when the mailbox cannot be reached or the login fails.
    """
    with user_errors():
        from mailintake.util.logging_setup import register_settings_secrets, setup_logging, verbosity_of

        settings = load(ctx, mailbox=True)
        register_settings_secrets(settings)
        setup_logging(verbosity_of(ctx))
        from mailintake.db.locking import worker_lock
        from mailintake.intake.cycle import poll_once
        from mailintake.util.progress import progress_bar

        session_factory = database(settings)
        with worker_lock(settings, wait=True, timeout=wait_seconds), \
                progress_bar("Reading new mail", enabled=verbosity_of(ctx) > 0) as progress:
            delivery = None
            if no_send:
                result = poll_once(settings, session_factory, progress=progress)
            else:
                from mailintake.outbox.sender import ReplyStream

                # replies leave while the poll goes on, each as soon as its mail is committed
                with ReplyStream(settings, session_factory) as stream:
                    result = poll_once(settings, session_factory, progress=progress, on_commit=stream.nudge)
                delivery = stream.finish()
    replies = None if delivery is None else {"sent": delivery.sent, "retried": delivery.retried,
                                             "failed": delivery.failed}
    _print(result.summary(), replies, as_json)


def _print(summary: dict[str, Any], replies: dict[str, int] | None, as_json: bool) -> None:
    """The poll's one line (or its JSON)."""
    if replies is not None:
        summary["replies"] = replies
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
        return
    counts = ", ".join(f"{k}={v}" for k, v in sorted(summary["counts"].items())) or "no new mail"
    line = f"fetched {summary['fetched']} mail(s): {counts}; duplicates={summary['duplicates']}"
    if replies is not None:
        line += f"; replies sent={replies['sent']} retried={replies['retried']} failed={replies['failed']}"
    click.echo(line)
