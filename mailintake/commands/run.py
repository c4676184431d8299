"""``mailintake run``: the unattended worker (see mailintake.worker.service)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mailintake.commands._common import database, load, user_errors

if TYPE_CHECKING:
    from mailintake.config.settings import Settings

EXIT_CODES_HELP = (
    "Exit codes: 0 stopped cleanly (SIGTERM/SIGINT), 2 bad configuration, 5 database unusable, "
    "6 storage not writable, 7 another worker holds this database."
)


def check_storage(settings: Settings) -> None:
    """Fail early, with one line, when the storage directory cannot be written."""
    from mailintake.db.storage import Storage

    Storage(settings.path(settings.storage.dir)).ensure_writable()


@click.command("run", help="Run the worker: poll, deliver replies and send the daily report.\n\n" + EXIT_CODES_HELP)
@click.pass_context
def run_cmd(ctx: click.Context) -> None:
    from mailintake.db.locking import worker_lock
    from mailintake.util.logging_setup import register_settings_secrets, setup_logging, verbosity_of
    from mailintake.worker.service import Worker

    with user_errors():
        settings = load(ctx, mailbox=True)
        setup_logging(verbosity_of(ctx))
        register_settings_secrets(settings)
        check_storage(settings)
        session_factory = database(settings)
        with worker_lock(settings, wait=False):
            Worker(settings, session_factory).run()
