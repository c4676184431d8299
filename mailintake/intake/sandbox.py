"""Read mails and parse attachments in child processes with a memory cap (RLIMIT_AS) and a time limit.

A pathological file kills or stalls only its child; the file is flagged ``unreadable`` and the
worker goes on. Children come from a ``forkserver`` so they never inherit the worker's threads
(the in-process IMAP server of the demo and tests, APScheduler's threads).

Children end with the worker, however it ends (SIGKILL included): each asks the kernel for SIGKILL when
its parent (the forkserver) dies, and watches the worker itself through a pidfd. Children hold the
forkserver's and the resource tracker's pipes; once they are gone, both of those exit too.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from mailintake.mail.archives import ArchiveLimits
from mailintake.mail.model import ParsedMail
from parsers import messages
from parsers.records import FileResult

if TYPE_CHECKING:
    from parsers.definitions import FormSet

_MEMORY_LIMIT_BYTES = 0


_J = TypeVar("_J")
_R = TypeVar("_R")


@dataclass(frozen=True)
class ReadJob:
    """One raw mail to read in a child: MIME walk, header repair, archive expansion."""

    raw: bytes
    own_addresses: frozenset[str]
    limits: ArchiveLimits


def run_read(job: ReadJob) -> ParsedMail:
    """Executed in the child."""
    from mailintake.mail.reader import read_mail

    return read_mail(job.raw, own_addresses=job.own_addresses, limits=job.limits)


@dataclass(frozen=True)
class ParseJob:
    name: str
    data: bytes
    max_chars: int
    max_file_bytes: int
    max_uncompressed_bytes: int
    max_compression_ratio: int
    max_members: int
    #: the campaign's form definitions ([campaign] forms); empty: the shipped ones
    forms: str = ""


def _set_parent_death_signal() -> None:
    """SIGKILL this process when its parent dies (Linux prctl PR_SET_PDEATHSIG; elsewhere a no-op)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def _watch(worker_pid: int) -> None:
    """Block until the worker process has ended, then end this child at once."""
    try:
        fd = os.pidfd_open(worker_pid)
    except ProcessLookupError:
        os._exit(1)
    except (OSError, AttributeError):  # no pidfd (old kernel, not Linux): poll once a second
        while True:
            time.sleep(1)
            try:
                os.kill(worker_pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                pass
    select.select([fd], [], [])
    os._exit(1)


def die_with(worker_pid: int) -> None:
    """Make this child end when the worker ``worker_pid`` ends, however it ends."""
    _set_parent_death_signal()
    threading.Thread(target=_watch, args=(worker_pid,), name="watch-worker", daemon=True).start()


def _init_child(memory_limit: int, worker_pid: int = 0) -> None:
    import resource

    if worker_pid:
        die_with(worker_pid)  # before the memory cap: the watcher's stack is reserved now
    global _MEMORY_LIMIT_BYTES
    _MEMORY_LIMIT_BYTES = memory_limit
    if memory_limit > 0:
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = memory_limit if hard == resource.RLIM_INFINITY else min(memory_limit, hard)
        # soft limit only: the LibreOffice helper may raise it again for soffice itself
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    import mailintake.mail.reader  # noqa: F401  (warm the imports in the child)
    import parsers  # noqa: F401


def _unreadable(name: str, reason: str) -> FileResult:
    return FileResult(
        file=name,
        format="unknown",
        flags=[messages.unreadable(name, reason)],
    )


def _definitions(path: str) -> FormSet | None:
    """The form definitions at ``path`` (None: the shipped ones), through the campaign's one cache."""
    from mailintake.campaign.files import load_forms

    return load_forms(path) if path else None


def run_job(job: ParseJob) -> FileResult:
    """Executed in the child (also callable in-process for tests and `parse`)."""
    from parsers import Limits, parse_document

    limits = Limits(
        max_file_bytes=job.max_file_bytes,
        max_uncompressed_bytes=job.max_uncompressed_bytes,
        max_compression_ratio=job.max_compression_ratio,
        max_members=job.max_members,
    )
    try:
        return parse_document(job.data, job.name, definitions=_definitions(job.forms), limits=limits,
                              max_chars=job.max_chars)
    except MemoryError:
        return _unreadable(job.name, "文件解析所需内存超出限制")
    except RecursionError:
        return _unreadable(job.name, "文件结构嵌套过深")


class ParserPool:
    """A small pool of parser children; ``parse_many`` keeps results in input order."""

    def __init__(self, *, workers: int | None = None, memory_mb: int = 1024, timeout: float = 60.0) -> None:
        self.workers = workers or max(1, min(2, os.cpu_count() or 1))
        self.memory_limit = memory_mb * 1024 * 1024
        self.timeout = timeout
        self._executor: cf.ProcessPoolExecutor | None = None

    def _pool(self) -> cf.ProcessPoolExecutor:
        if self._executor is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["parsers", "mailintake.intake.sandbox", "mailintake.mail.reader"])
            self._executor = cf.ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=context,
                initializer=_init_child,
                initargs=(self.memory_limit, os.getpid()),
            )
        return self._executor

    def _reset(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        for process in list(getattr(executor, "_processes", {}).values()):
            with contextlib.suppress(OSError, AttributeError):
                process.kill()
        executor.shutdown(wait=False, cancel_futures=True)

    def parse_many(self, jobs: Sequence[ParseJob]) -> list[FileResult]:
        """Parse attachments; a file that kills or stalls its child is flagged ``unreadable``."""
        return self._run_many(run_job, jobs, lambda index, reason: _unreadable(jobs[index].name, reason))

    def read_many(self, jobs: Sequence[ReadJob], fallback: Callable[[int, str], ParsedMail]) -> list[ParsedMail]:
        """Read raw mails (MIME, headers, archives); ``fallback(index, reason)`` for a mail that
        kills or stalls its child, so hostile MIME never runs in the worker process."""
        return self._run_many(run_read, jobs, fallback)

    def _run_many(self, function: Callable[[_J], _R], jobs: Sequence[_J],
                  fallback: Callable[[int, str], _R]) -> list[_R]:
        if not jobs:
            return []
        results: list[_R | None] = [None] * len(jobs)
        pending = list(range(len(jobs)))
        while pending:
            pool = self._pool()
            futures = {index: pool.submit(function, jobs[index]) for index in pending}
            pending = []
            broken = False
            for index, future in futures.items():
                if broken:
                    pending.append(index)
                    continue
                try:
                    results[index] = future.result(timeout=self.timeout)
                except cf.TimeoutError:
                    results[index] = fallback(index, "解析超时")
                    broken = True
                except cf.process.BrokenProcessPool:
                    results[index] = fallback(index, "文件解析所需资源超出限制")
                    broken = True
                except Exception as exc:  # a parser bug must not stop the intake; the input is flagged
                    results[index] = fallback(index, f"解析程序错误：{type(exc).__name__}")
            if broken:
                # the pool is unusable (a child died or hangs): start over for the jobs not yet done
                self._reset()
                pending = [i for i in pending if results[i] is None]
        return [r if r is not None else fallback(i, "未知原因") for i, r in enumerate(results)]

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> ParserPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
