"""The tests' own servers end with the run that started them, however it ends: a SIGKILLed test
process leaves no Dovecot and no PostgreSQL behind (each has a reaper, tests/support/reaper.py)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.dovecot import dovecot_binary
from tests.support.postgres import pg_bindir
from tests.support.processes import descendants, wait_gone

PROJECT = Path(__file__).resolve().parents[2]

#: a stand-in for a test run: starts the servers, says where they are, then waits to be killed
RUN = """
import sys, time
from pathlib import Path
kind = sys.argv[1]
if kind == "dovecot":
    from tests.support.dovecot import DovecotServer
    server = DovecotServer(Path(sys.argv[2]), {"office": "secret"})
    print(server.port, server.work, flush=True)
else:
    from tests.support.postgres import new_server
    server = new_server(prefix="mi-pg-reaper-")
    print(server.port, server.datadir.parent, flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("kind", ["dovecot", "postgres"])
def test_sigkill_of_the_run_leaves_no_server(kind: str, tmp_path: Path) -> None:
    if kind == "dovecot" and dovecot_binary() is None:
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd)")
    if kind == "postgres" and pg_bindir() is None:
        pytest.skip("PostgreSQL server binaries are not installed (apt-get install postgresql)")
    run = subprocess.Popen([sys.executable, "-c", RUN, kind, str(tmp_path / "dovecot")], cwd=PROJECT,
                           stdout=subprocess.PIPE, text=True)
    assert run.stdout is not None
    port, workdir = run.stdout.readline().split()
    try:
        servers = [p for p in descendants(run.pid) if kind in p.cmdline and "-c" not in p.cmdline.split()[:3]]
        assert servers, f"no {kind} process below the run"
        os.kill(run.pid, signal.SIGKILL)
        run.wait(10)
        assert wait_gone(servers, timeout=20) == []
        assert [p for p in descendants(os.getpid()) if f"-p {port}" in p.cmdline or workdir in p.cmdline] == []
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)
