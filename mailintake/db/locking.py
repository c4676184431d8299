"""One worker per database.

* PostgreSQL: a session-level ``pg_try_advisory_lock`` held on a dedicated connection for as long
  as the worker runs (the server releases it when the connection dies, so a killed worker never
  leaves a stale lock).
* SQLite: an exclusive ``flock`` on a lock file next to the database file
  (``var/mailintake.db.lock``); the kernel releases it when the process dies.

``mailintake run`` refuses at once when the lock is held; ``mailintake poll`` waits a bounded time,
then refuses. Either way the operator gets one line naming the holder and the fix.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailintake.errors import DatabaseError, WorkerBusyError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from mailintake.config.settings import Settings

#: the two int4 keys of the advisory lock: "mi" and a fixed id (any stable pair unique to this app)
PG_LOCK_KEYS = (0x6D69, 0x5E1F)
_RETRY_SECONDS = 0.2


def _busy(pid: int | None) -> WorkerBusyError:
    return WorkerBusyError(busy_message(pid), pid=pid or None)


def busy_message(pid: int | None) -> str:
    holder = f" (pid {pid})" if pid else ""
    return (
        f"another mailintake worker holds the lock on this database{holder}; "
        "stop it first or use `mailintake status`"
    )


def _url(url: str, base_dir: str | Path) -> URL:
    """The configured database URL as SQLAlchemy reads it (relative SQLite paths resolved)."""
    from sqlalchemy.engine import make_url

    from mailintake.db.engine import resolve_url

    return make_url(resolve_url(url, base_dir))


def lock_file_path(settings: Settings) -> Path | None:
    """The lock file next to a file-based SQLite database; None for other databases."""
    url = _url(settings.database.url, settings.base_dir)
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:":
        return None
    return Path(url.database + ".lock")


def _read_pid(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 64).decode("ascii", "replace").strip()
        return int(text) if text else None
    return None


@contextlib.contextmanager
def file_lock(path: Path, wait: bool, timeout: float) -> Iterator[None]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise DatabaseError(f"database: cannot create lock file {path} ({exc.strerror}); check permissions") from None
    try:
        deadline = time.monotonic() + (timeout if wait else 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _busy(_read_pid(fd)) from None
                time.sleep(_RETRY_SECONDS)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


#: the client pid of the worker holding the lock, from its application_name
_PG_HOLDER = (
    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s "
    "AND l.objsubid = 2 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def _pg_holder(connection: Any) -> int | None:
    """The client pid of the worker holding the lock, from its application_name."""
    row = connection.execute(_PG_HOLDER, PG_LOCK_KEYS).fetchone()
    if row is None or not row[0]:
        return None
    name = str(row[0])
    if name.startswith("mailintake-worker-"):
        with contextlib.suppress(ValueError):
            return int(name.rsplit("-", 1)[1])
    return None


def _pg_connect(url: str, base_dir: str | Path = ".") -> Any:
    """An autocommit psycopg connection to the PostgreSQL database ``url``, named after this worker."""
    import psycopg

    conninfo = _url(url, base_dir).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        return psycopg.connect(conninfo, autocommit=True, application_name=f"mailintake-worker-{os.getpid()}")
    except psycopg.Error as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DatabaseError(f"database: cannot connect for the worker lock ({reason}); check [database] url") from None


@contextlib.contextmanager
def _pg_advisory_lock(connection: Any, wait: bool, timeout: float) -> Iterator[None]:
    """Hold the worker lock on ``connection`` (an autocommit psycopg connection)."""
    deadline = time.monotonic() + (timeout if wait else 0.0)
    while not connection.execute("SELECT pg_try_advisory_lock(%s, %s)", PG_LOCK_KEYS).fetchone()[0]:
        if time.monotonic() >= deadline:
            raise _busy(_pg_holder(connection))
        time.sleep(_RETRY_SECONDS)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):  # a broken connection: the lock ended with its session
            connection.execute("SELECT pg_advisory_unlock(%s, %s)", PG_LOCK_KEYS)


@contextlib.contextmanager
def _pg_lock(settings: Settings, wait: bool, timeout: float) -> Iterator[None]:
    import psycopg

    connection = _pg_connect(settings.database.url, settings.base_dir)
    try:
        with _pg_advisory_lock(connection, wait, timeout):
            yield
    finally:
        with contextlib.suppress(psycopg.Error):
            connection.close()


@contextlib.contextmanager
def worker_lock(settings: Settings, wait: bool = False, timeout: float = 30.0) -> Iterator[None]:
    """Hold this database's worker lock for the ``with`` block.

    ``wait=False`` refuses at once when another process holds it; ``wait=True`` retries for up to
    ``timeout`` seconds. Refusal raises :class:`WorkerBusyError` (exit code 7) with one line.
    An in-memory SQLite database is private to its process and needs no lock.
    """
    if _url(settings.database.url, settings.base_dir).get_backend_name() == "postgresql":
        with _pg_lock(settings, wait, timeout):
            yield
        return
    path = lock_file_path(settings)
    if path is None:
        yield
        return
    with file_lock(path, wait, timeout):
        yield
