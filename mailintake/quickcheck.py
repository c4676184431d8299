"""The idle poll: `mailintake poll` with nothing to do, answered without loading the intake.

Cron starts ``poll`` every few minutes and most runs find nothing. Before importing the intake
(SQLAlchemy's ORM, the parsers, the sandbox), ``poll`` asks a few cheap questions, holding the worker
lock as the full poll does:

* Did the last full poll succeed with this very configuration and version? (:func:`record_full_poll`
  writes what it validated under the storage directory after each one; :mod:`mailintake.quicksettings`
  finds it again without pydantic, or the usual validation and the full poll run.)
* Is the schema at the newest migration, the storage directory in place?
* Does the database hold the folder's UIDVALIDITY and last UID (``mailbox_state``), and no reply due
  in the outbox (unless ``--no-send``), no failed mail waiting for a retry?
* Does the server (stdlib imaplib: LOGIN, EXAMINE) report the same UIDVALIDITY and no UID above the
  last one? (:mod:`mailintake.quickimap`)

Only when every answer is "nothing to do" does it record the run (a ``poll_runs`` row and the
folder's ``last_poll_at``, as the full poll does) and return what the full poll would have printed.
Any other answer, or any error, returns None and the full poll runs — it finds and reports
everything as before, so no mail can be missed here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailintake import __version__, dburl
from mailintake.errors import DatabaseError, WorkerBusyError
from mailintake.quicksettings import STATE_FILE, Inputs, QuickSettings, read_inputs, snapshot

if TYPE_CHECKING:
    from mailintake.config.settings import Settings

log = logging.getLogger(__name__)

#: the intake retries a failed mail this many times in all (``MAX_ATTEMPTS`` of the pipeline)
MAX_ATTEMPTS = 3
MIGRATIONS = Path(__file__).parent / "db" / "migrations" / "versions"
_REVISION = re.compile(r"^(down_revision|revision)\s*=\s*['\"]?([\w]+)?['\"]?", re.M)


def record_full_poll(settings: Settings, inputs: Inputs | None) -> None:
    """After a full poll that succeeded: what the next idle poll may trust (atomic write).

    ``inputs`` were read before ``settings`` were validated; nothing is recorded when they changed since.
    """
    again = read_inputs(str(inputs.path)) if inputs is not None else None
    if inputs is None or again is None or again.digest != inputs.digest:
        return
    path = settings.path(settings.storage.dir) / STATE_FILE
    record = {"inputs": inputs.digest, "version": __version__, "settings": snapshot(settings),
              "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    temporary = path.with_name(f".{STATE_FILE}.{os.getpid()}")
    try:
        temporary.write_text(json.dumps(record), "utf-8")
        os.replace(temporary, path)
    except OSError as exc:  # the next poll just takes the full path again
        log.warning("cannot write %s (%s); idle polls will load the whole intake", path, exc.strerror)
        with contextlib.suppress(OSError):
            temporary.unlink()


def head_revision() -> str | None:
    """The newest migration, from the revision files themselves (None when the chain is ambiguous)."""
    revisions, parents = set(), set()
    for script in MIGRATIONS.glob("*.py"):
        found = dict(_REVISION.findall(script.read_text("utf-8")))
        if found.get("revision"):
            revisions.add(found["revision"])
            parents.add(found.get("down_revision") or "")
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


class _Database:
    """Just enough of the database for the idle poll: sqlite3 or libpq (:mod:`mailintake.quickpg`), no SQLAlchemy."""

    def __init__(self, connection: Any, backend: str) -> None:
        self.connection = connection
        self.sqlite = backend == "sqlite"

    def _sql(self, sql: str) -> str:
        return sql.replace("{json}", "?" if self.sqlite else "%s::json").replace("?", "?" if self.sqlite else "%s")

    def value(self, sql: str, *params: Any) -> Any:
        row = self.connection.execute(self._sql(sql), params).fetchone()
        return None if row is None else row[0]

    def row(self, sql: str, *params: Any) -> tuple[Any, ...] | None:
        row = self.connection.execute(self._sql(sql), params).fetchone()
        return None if row is None else tuple(row)

    def time(self, value: dt.datetime) -> Any:
        """A UTC time as the engine stores it (SQLAlchemy's SQLite format: naive UTC text)."""
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else value

    def write(self, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
        """The statements in one transaction."""
        if self.sqlite:
            with self.connection:  # sqlite3: BEGIN … COMMIT (ROLLBACK on error)
                self.connection.execute("BEGIN IMMEDIATE")
                for sql, params in statements:
                    self.connection.execute(self._sql(sql), params)
            return
        with self.connection.transaction():
            for sql, params in statements:
                self.connection.execute(self._sql(sql), params)


@contextlib.contextmanager
def _locked_database(settings: QuickSettings, wait: float) -> Iterator[_Database | None]:
    """The database with the worker lock held (None when it is not one the idle poll can read)."""
    from mailintake.db.locking import file_lock, pg_advisory_lock

    target = dburl.parse(settings.database_url, settings.base_dir)
    if target.backend == "sqlite" and target.path is not None and target.path.is_file():
        connection = sqlite3.connect(f"{target.path.resolve().as_uri()}?mode=rw", uri=True, timeout=30,
                                     isolation_level=None)
        try:
            with file_lock(Path(f"{target.path}.lock"), True, wait):
                yield _Database(connection, "sqlite")
        finally:
            connection.close()
    elif target.backend == "postgresql":
        from mailintake.quickpg import Connection  # libpq without psycopg's import cost

        pg = Connection(target.conninfo, f"mailintake-worker-{os.getpid()}")
        try:
            with pg_advisory_lock(pg, True, wait):
                yield _Database(pg, "postgresql")
        finally:
            pg.close()
    else:
        yield None


def _why_not_idle(db: _Database, settings: QuickSettings, send: bool, now: dt.datetime) -> str | tuple[int, int]:
    """A reason for the full poll, or the folder's recorded (UIDVALIDITY, last UID)."""
    if db.value("SELECT version_num FROM alembic_version") != head_revision():
        return "the schema is not at the newest migration"
    state = db.row("SELECT uidvalidity, last_uid FROM mailbox_state WHERE folder = ?", settings.mailbox.folder)
    if state is None or state[0] is None:
        return "the folder was never polled"
    if send and db.value("SELECT 1 FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? LIMIT 1",
                         db.time(now)) is not None:
        return "replies are due"
    if db.value("SELECT 1 FROM messages WHERE status = 'failed' AND attempts < ? AND raw_path IS NOT NULL LIMIT 1",
                MAX_ATTEMPTS) is not None:
        return "a failed mail waits for a retry"
    return int(state[0]), int(state[1])


def _storage_ready(settings: QuickSettings) -> bool:
    storage = Path(settings.storage_dir)
    return (storage / "objects").is_dir() and os.access(storage, os.W_OK)


def idle_poll(settings: QuickSettings, *, send: bool = True, wait: float = 30.0) -> dict[str, Any] | None:
    """The summary of an idle poll, already recorded; None when the full poll must run.

    Raises :class:`WorkerBusyError` when another worker holds the lock for longer than ``wait``.
    """
    from mailintake.quickimap import folder_news

    started, clock = dt.datetime.now(dt.UTC), time.monotonic()
    try:
        if not _storage_ready(settings):
            log.debug("quick check: the storage directory is not ready: running the full poll")
            return None
        with _locked_database(settings, wait) as db:
            if db is None:
                log.debug("quick check: this database URL is not supported: running the full poll")
                return None
            recorded = _why_not_idle(db, settings, send, started)
            if isinstance(recorded, str):
                log.debug("quick check: %s: running the full poll", recorded)
                return None
            news = folder_news(settings.mailbox, recorded[1])
            if news is None or news.uidvalidity != recorded[0] or news.new_mail:
                log.debug("quick check: the mailbox may hold new mail: running the full poll")
                return None
            summary = {"fetched": 0, "counts": {}, "duplicates": 0, "retried": 0, "errors": [],
                       "duration": round(time.monotonic() - clock, 3), "rescanned": False}
            _record(db, settings, started, summary)
    except WorkerBusyError:
        raise
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            log.debug("quick check failed (%s): running the full poll", exc)
            return None
        # held past the busy timeout: the full poll would wait as long again and fail the same way
        raise DatabaseError(f"database: {exc}; nothing was lost, run the command again when the database is free"
                            ) from None
    except Exception as exc:  # whatever went wrong, the full poll finds and reports it
        log.debug("quick check failed (%s: %s): running the full poll", type(exc).__name__, exc)
        return None
    log.debug("quick check: nothing new, no reply due: the intake was not loaded")
    return summary


def _record(db: _Database, settings: QuickSettings, started: dt.datetime, summary: dict[str, Any]) -> None:
    """What the full poll writes at its end: a ``poll_runs`` row and the folder's last poll."""
    finished = dt.datetime.now(dt.UTC)
    counts = json.dumps(summary)
    db.write([
        ("INSERT INTO poll_runs (started_at, finished_at, counts, error) VALUES (?, ?, {json}, NULL)",
         (db.time(started), db.time(finished), counts)),
        ("UPDATE mailbox_state SET last_poll_at = ?, last_poll_result = {json} WHERE folder = ?",
         (db.time(finished), counts, settings.mailbox.folder)),
    ])
