"""`mailintake poll`: one intake cycle, delivering the replies as the mails are committed."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import click

from mailintake.commands._common import database, load, user_errors, warn_world_readable


@click.command("poll")
@click.option("--no-send", is_flag=True, help="Store and queue replies but do not deliver them now.")
@click.option("--json", "as_json", is_flag=True, help="Print the cycle's counts as JSON.")
@click.option("--wait", "wait_seconds", type=float, default=30.0, show_default=True,
              help="Seconds to wait for a running worker to release the database.")
@click.pass_context
def poll_cmd(ctx: click.Context, no_send: bool, as_json: bool, wait_seconds: float) -> None:
    """Fetch new mail, parse the forms, apply the rules, store everything and answer the senders.

    Exit 0 on success; non-zero with one line when the mailbox cannot be reached or the login fails (3),
    or when replies could not be sent (4: they wait and are retried).
    """
    with user_errors():
        from mailintake.logging_setup import register_settings_secrets, setup_logging, verbosity_of
        from mailintake.quickcheck import idle_poll, record_full_poll
        from mailintake.quicksettings import read_inputs, remembered

        config_option = (ctx.find_root().obj or {}).get("config_path")
        inputs = read_inputs(config_option)
        # nothing new, nothing due (the usual cron run): answered without loading the intake or pydantic,
        # for a configuration validated by an earlier poll and unchanged since
        known = remembered(inputs)
        if known is not None:
            warn_world_readable(config_option)
            register_settings_secrets(SimpleNamespace(mailbox=known.mailbox, smtp=None,
                                                      database=SimpleNamespace(url=known.database_url)))
            setup_logging(verbosity_of(ctx))
            idle = idle_poll(known, send=not no_send, wait=wait_seconds)
            if idle is not None:
                _print(idle, None if no_send else {"sent": 0, "retried": 0, "failed": 0}, as_json)
                return
        settings = load(ctx, mailbox=True, warn_permissions=known is None)
        register_settings_secrets(settings)
        setup_logging(verbosity_of(ctx))
        from mailintake.intake.cycle import poll_once
        from mailintake.locking import worker_lock

        session_factory = database(settings)
        from mailintake.progress import progress_bar

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
        if not result.errors:
            record_full_poll(settings, inputs)
    replies = None if delivery is None else {"sent": delivery.sent, "retried": delivery.retried,
                                             "failed": delivery.failed}
    _print(result.summary(), replies, as_json)
    trouble = delivery.summary() if delivery is not None else None
    if trouble is not None:  # the mail is stored; some replies wait
        from mailintake.errors import SmtpError

        click.echo(trouble, err=True)
        ctx.exit(SmtpError.exit_code)


def _print(summary: dict[str, Any], replies: dict[str, int] | None, as_json: bool) -> None:
    """The poll's one line (or its JSON): the same for the idle check and the full poll."""
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
