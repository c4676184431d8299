"""A watchdog that ends a server when the process that started it dies, however it dies.

Dovecot (``dovecot -F``, its own session) and the tests' PostgreSQL (daemonised by ``pg_ctl``) do not
die with their parent: after a SIGKILL of a test run they would serve on forever. The reaper is a
tiny stdlib-only Python process in a session of its own (a kill of the run's process group spares it);
it polls its parent and, once reparented, runs the clean-up command and exits. A normal stop ends it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

_REAPER = """
import os, subprocess, sys, time
parent = int(sys.argv[1])
while os.getppid() == parent:
    time.sleep(0.2)
subprocess.run(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
               stderr=subprocess.DEVNULL, timeout=60, check=False)
"""


class Reaper:
    """Runs ``cleanup`` (an argv list) once this process has died; :meth:`cancel` on a normal stop."""

    def __init__(self, cleanup: list[str]) -> None:
        self._process: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _REAPER, str(os.getpid()), *cleanup],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def cancel(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(5)


def kill_group_command(pgid: int) -> list[str]:
    """The clean-up that SIGKILLs process group ``pgid`` (a server started in a session of its own)."""
    return [sys.executable, "-I", "-S", "-c", f"import os, signal; os.killpg({pgid}, signal.SIGKILL)"]
