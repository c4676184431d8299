"""One warm LibreOffice: unoserver under the uno Python, in a process group of its own, its own profile.

The group is led by :data:`parsers.convert.GUARD`, which kills it when the worker is gone (SIGKILL
included) or the server ended; the pool kills it for a conversion past its time limit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from unoserver.client import UnoClient

from parsers.convert import ConversionError, guarded, remove_office_pipe

LAUNCHER = Path(__file__).with_name("launcher.py")

logging.getLogger("unoserver").setLevel(logging.WARNING)  # its client says "Connecting." at INFO per call


@dataclass(frozen=True)
class Runtime:
    """What a warm instance runs: LibreOffice, the Python with its uno module, unoserver's package."""

    soffice: str
    python: str
    #: a private directory holding only unoserver's package (appended to the uno Python's path)
    unoserver_dir: str


class StartFailed(RuntimeError):
    """LibreOffice behind unoserver did not come up (not the file's fault)."""


class WarmFailed(RuntimeError):
    """The instance refused the file, wrote nothing or died on it, before its time limit."""


class _Client(UnoClient):
    """unoserver's client, without its retries: an instance that does not answer is restarted, not awaited."""

    def _connect(self, proxy: object, retries: int = 1, sleep: float = 0) -> object:
        return super()._connect(proxy, retries=1, sleep=0)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Instance:
    """A started LibreOffice; one conversion at a time (the pool hands it to one thread)."""

    def __init__(self, runtime: Runtime, workdir: Path) -> None:
        self.workdir = workdir
        self.port = _free_port()
        self.profile_url = (workdir / "profile").as_uri()
        command = [runtime.python, "-I", str(LAUNCHER), runtime.unoserver_dir, str(self.port), str(_free_port()),
                   self.profile_url, runtime.soffice]
        env = {**os.environ, "HOME": str(workdir), "SAL_USE_VCLPLUGIN": "svp"}
        self._log = (workdir / "instance.log").open("wb")
        self.process = subprocess.Popen(guarded(command), stdin=subprocess.DEVNULL, stdout=self._log,
                                        stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.conversions = 0
        self._expired = threading.Event()

    def wait_ready(self, timeout: float) -> None:
        """Until unoserver listens; raises StartFailed (the instance killed) when it ends or takes too long."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.alive():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        log_tail = (self.workdir / "instance.log").read_bytes()[-300:].decode(errors="replace").strip()
        self.kill()
        raise StartFailed(f"LibreOffice (unoserver) did not start within {timeout:.0f} s: {log_tail or 'no output'}")

    def alive(self) -> bool:
        return self.process.poll() is None

    def convert(self, source: Path, target: Path, filtername: str | None, timeout: float) -> None:
        """``source`` to ``target`` (format from its extension); past ``timeout`` the instance is killed.

        Raises ConversionError when it timed out, else WarmFailed when nothing was written."""
        timer = threading.Timer(timeout, self._expire)
        timer.daemon = True
        timer.start()
        try:
            _Client(server="127.0.0.1", port=str(self.port), host_location="local").convert(
                inpath=str(source), outpath=str(target), filtername=filtername, update_index=False)
        except Exception as exc:
            if self._expired.is_set():
                raise ConversionError(f"LibreOffice timed out after {timeout:.0f}s") from exc
            raise WarmFailed(str(exc)[:300]) from exc
        finally:
            timer.cancel()
            self.conversions += 1
        if not target.exists():
            raise WarmFailed("LibreOffice wrote nothing")

    def _expire(self) -> None:
        self._expired.set()
        self.kill()

    def rss_mb(self) -> float:
        """Resident memory of the whole group (the server, oosplash, soffice.bin), MB."""
        total_kb = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            with contextlib.suppress(OSError, ValueError):
                if os.getpgid(int(entry)) != self.process.pid:
                    continue
                for line in Path(f"/proc/{entry}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total_kb += int(line.split()[1])
        return total_kb / 1024

    def kill(self) -> None:
        """SIGKILL the whole group at once (nothing of LibreOffice is left to clean up after)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        remove_office_pipe(self.profile_url)
        self._log.close()

    def discard(self) -> None:
        """Kill and remove the profile and work files."""
        self.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)
