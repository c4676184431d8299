"""Which processes descend from a process, from /proc (Linux): for the no-stray-process checks."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    state: str
    start: int  # clock ticks since boot: (pid, start) names a process even after its pid is reused
    cmdline: str


def _read(pid: int) -> Proc | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    return Proc(pid, int(fields[1]), fields[0], int(fields[19]), cmdline)


def processes() -> dict[int, Proc]:
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            proc = _read(int(entry.name))
            if proc is not None:
                table[proc.pid] = proc
    return table


def descendants(root: int) -> list[Proc]:
    """Every living (not zombie) process below ``root``."""
    table = processes()
    children: dict[int, list[Proc]] = {}
    for proc in table.values():
        children.setdefault(proc.ppid, []).append(proc)
    found: list[Proc] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child.state != "Z":
                found.append(child)
            stack.append(child.pid)
    return found


def still_running(procs: list[Proc]) -> list[Proc]:
    """Those of ``procs`` that still run (same pid and start time, not a zombie)."""
    alive = []
    for proc in procs:
        now = _read(proc.pid)
        if now is not None and now.start == proc.start and now.state != "Z":
            alive.append(now)
    return alive


def wait_gone(procs: list[Proc], timeout: float) -> list[Proc]:
    """Wait up to ``timeout`` s for ``procs`` to end; those still running then."""
    deadline = time.monotonic() + timeout
    alive = still_running(procs)
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = still_running(alive)
    return alive
