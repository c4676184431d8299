"""A throwaway PostgreSQL server started from Debian's binaries, for the tests and the benchmarks.

The ``db_url`` fixture (tests/support/fixtures/database.py) runs a test on SQLite and on this server; the
PostgreSQL case skips only when the server binaries are not installed (CI installs them).
When the tests run as root (as CI does), the server
runs as the ``postgres`` system user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.support.reaper import Reaper


def pg_bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: the tests' server: durability off, it is thrown away
TEST_OPTIONS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


class PostgresUnavailable(Exception):
    """The server cannot run here (no binaries, or root without a ``postgres`` user)."""


@dataclass
class PostgresServer:
    bindir: Path
    datadir: Path
    port: int
    user: str | None  # the system user the server runs as, when we are root
    options: str = TEST_OPTIONS
    _ids = itertools.count(1)
    reaper: Reaper | None = None

    def _command(self, *args: str) -> list[str]:
        return ["runuser", "-u", self.user, "--", *args] if self.user else list(args)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self._command(*args), check=check, capture_output=True, text=True, timeout=120)

    def _stop_command(self) -> list[str]:
        return self._command(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop")

    def start(self) -> None:
        self._run(str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--no-locale")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-w", "-t", "60", "-l",
                  str(self.datadir / "server.log"), "-o",
                  f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 {self.options}", "start")
        self.reaper = Reaper(self._stop_command())  # pg_ctl daemonises: stopped even if this run is killed

    def stop(self) -> None:
        if self.reaper is not None:
            self.reaper.cancel()
            self.reaper = None
        subprocess.run(self._stop_command(), check=False, capture_output=True, text=True, timeout=120)

    def create_database(self) -> str:
        import psycopg

        name = f"mi_test_{os.getpid()}_{next(self._ids)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"


def new_server(options: str = TEST_OPTIONS, prefix: str = "mi-pg-") -> PostgresServer:
    """A started server in a fresh directory (removed by :func:`remove_server`)."""
    bindir = pg_bindir()
    if bindir is None:
        raise PostgresUnavailable("PostgreSQL server binaries are not installed (apt-get install postgresql)")
    user: str | None = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
            user = "postgres"
        except KeyError:
            raise PostgresUnavailable(
                "running as root and there is no 'postgres' system user to run the server") from None
    base = Path(tempfile.mkdtemp(prefix=prefix))
    datadir = base / "data"
    datadir.mkdir()
    if user:
        entry = pwd.getpwnam(user)
        os.chown(base, entry.pw_uid, entry.pw_gid)
        os.chown(datadir, entry.pw_uid, entry.pw_gid)
        os.chmod(base, 0o755)
    server = PostgresServer(bindir=bindir, datadir=datadir, port=_free_port(), user=user, options=options)
    try:
        server.start()
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"could not start PostgreSQL: {exc.stderr or exc.stdout}") from exc
    return server


def remove_server(server: PostgresServer) -> None:
    server.stop()
    shutil.rmtree(server.datadir.parent, ignore_errors=True)
