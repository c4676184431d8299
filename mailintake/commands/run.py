"""``mailintake run``: the unattended worker (see mailintake.worker)."""

from __future__ import annotations

import click

from mailintake.commands._common import database, load, user_errors

EXIT_CODES_HELP = (
    "Exit codes: 0 stopped cleanly (SIGTERM/SIGINT), 2 bad configuration, 5 database unusable, "
    "6 storage not writable, 7 another worker holds this database."
)


def check_storage(settings: object) -> None:
    """Fail early, with one line, when the storage directory cannot be written."""
    import os
    import tempfile

    from mailintake.config import Settings
    from mailintake.errors import StorageError

    assert isinstance(settings, Settings)
    directory = settings.path(settings.storage.dir)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".write-test-", dir=directory)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise StorageError(
            f"storage: cannot write to {directory} ({exc.strerror}); fix [storage] dir or its permissions"
        ) from None


@click.command("run", help="Run the worker: poll, deliver replies and send the daily report.\n\n" + EXIT_CODES_HELP)
@click.pass_context
def run_cmd(ctx: click.Context) -> None:
    from mailintake.locking import worker_lock
    from mailintake.logging_setup import register_settings_secrets, setup_logging, verbosity_of
    from mailintake.worker import Worker

    with user_errors():
        settings = load(ctx, mailbox=True)
        setup_logging(verbosity_of(ctx))
        register_settings_secrets(settings)
        check_storage(settings)
        session_factory = database(settings)
        with worker_lock(settings, wait=False):
            Worker(settings, session_factory).run()
