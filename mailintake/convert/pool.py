"""A pool of warm LibreOffice instances for .doc/.wps/.rtf/.odt → .docx (and any other conversion).

Instances start on first need, one conversion each at a time, files handed over by path in a private
(0700) directory. Supervision keeps the one-shot conversion's guarantees: a conversion past its time
limit kills its instance (only it) and fails like a one-shot conversion would; an instance that ended,
holds more than its memory limit or served its quota of conversions is replaced; nothing outlives the
worker (each instance's guard watches it). Without a Python that has LibreOffice's ``uno`` module the
pool is unavailable and callers convert one-shot, as before.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from mailintake.convert.instance import Instance, Runtime, StartFailed, WarmFailed
from parsers.convert import EXPORT_FILTERS, ConversionError, find_soffice

log = logging.getLogger(__name__)

#: a first start builds the profile: seconds on a quiet machine, much more under load
START_TIMEOUT = 90.0
#: after a failed start, conversions go one-shot for this long before the pool tries again
RETRY_AFTER = 300.0


class OfficeUnavailable(RuntimeError):
    """No warm LibreOffice for this file (no uno Python, an instance would not start, or it crashed on
    the file): convert it one-shot instead."""


@dataclass(frozen=True)
class PoolSettings:
    size: int
    timeout: float
    memory_mb: int
    max_conversions: int
    #: "auto" or the path of a Python with LibreOffice's uno module
    python: str = "auto"


def uno_python(setting: str, soffice: str) -> str | None:
    """The Python that can ``import uno``: the configured one, else LibreOffice's own, else python3."""
    if setting != "auto":
        candidates = [setting]
    else:
        program = Path(os.path.realpath(soffice)).parent
        candidates = [str(program / "python"), "/usr/bin/python3", shutil.which("python3") or ""]
    for candidate in dict.fromkeys(c for c in candidates if c):
        if not os.access(candidate, os.X_OK):
            continue
        try:
            probe = subprocess.run([candidate, "-I", "-c", "import uno"], stdin=subprocess.DEVNULL,
                                   capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return candidate
    return None


def _link_unoserver(into: Path) -> None:
    """unoserver's package and its metadata, alone in ``into`` (the uno Python appends it to its path)."""
    dist = metadata.distribution("unoserver")
    into.mkdir()
    for file in dist.files or []:
        top = file.parts[0]
        if top == "unoserver" or top.endswith(".dist-info"):
            target = into / top
            if not target.exists():
                target.symlink_to(Path(str(dist.locate_file(top))), target_is_directory=True)


def describe_runtime(settings: PoolSettings) -> str:
    """Which conversion path this configuration uses (for ``check-config``)."""
    soffice = find_soffice()
    if soffice is None:
        return "LibreOffice not installed: .doc/.wps/.rtf/.odt are answered with a request for .docx"
    python = uno_python(settings.python, soffice)
    if python is None:
        return (f"one-shot soffice per file ({soffice}): no Python with LibreOffice's uno module "
                "(install python3-uno or set [limits] office_python)")
    return (f"warm pool of {settings.size} LibreOffice instance(s), unoserver {metadata.version('unoserver')} "
            f"under {python}")


class _Slot:
    def __init__(self, number: int) -> None:
        self.number = number
        self.generation = 0
        self.instance: Instance | None = None


class OfficePool:
    """Up to ``size`` warm LibreOffice instances; :meth:`convert` is thread-safe (one thread per instance)."""

    def __init__(self, settings: PoolSettings) -> None:
        self.settings = settings
        self.size = max(1, settings.size)
        self._idle: queue.LifoQueue[_Slot] = queue.LifoQueue()
        self._slots = [_Slot(n) for n in range(self.size)]
        for slot in reversed(self._slots):
            self._idle.put(slot)
        self._lock = threading.Lock()
        self._runtime: Runtime | None = None
        self._resolved = False
        self._dir: Path | None = None
        self._down_until = 0.0
        self._closed = False

    @property
    def directory(self) -> Path | None:
        """The private directory (0700) of the instances and the files being converted."""
        return self._dir

    def runtime(self) -> Runtime:
        """Resolved once, on first need; raises OfficeUnavailable (logged once) without a uno Python."""
        with self._lock:
            if not self._resolved:
                self._resolved = True
                self._runtime = self._resolve()
            if self._runtime is None or self._closed:
                raise OfficeUnavailable("no warm LibreOffice")
            if time.monotonic() < self._down_until:
                raise OfficeUnavailable("the warm LibreOffice failed to start a short while ago")
            return self._runtime

    def _resolve(self) -> Runtime | None:
        soffice = find_soffice()
        if soffice is None:
            return None
        python = uno_python(self.settings.python, soffice)
        if python is None:
            log.info("LibreOffice: no Python with its uno module (install python3-uno); each .doc/.wps/.rtf/.odt "
                     "is converted by a one-shot soffice")
            return None
        self._dir = Path(tempfile.mkdtemp(prefix="mailintake-office-"))  # 0700
        _link_unoserver(self._dir / "lib")
        return Runtime(soffice=soffice, python=python, unoserver_dir=str(self._dir / "lib"))

    def convert(self, data: bytes, source_ext: str, target_ext: str) -> bytes:
        """``data`` (a .``source_ext`` file) as ``target_ext`` bytes.

        Raises ConversionError when LibreOffice timed out on the file, and OfficeUnavailable when there
        is no warm instance to use or it could not convert the file (convert it one-shot then)."""
        runtime = self.runtime()
        slot = self._idle.get()
        try:
            return self._convert_on(slot, runtime, data, source_ext, target_ext)
        finally:
            self._idle.put(slot)

    def _convert_on(self, slot: _Slot, runtime: Runtime, data: bytes, source_ext: str, target_ext: str) -> bytes:
        assert self._dir is not None
        instance = self._ready(slot, runtime)
        with tempfile.TemporaryDirectory(prefix="job-", dir=self._dir) as job:
            source = Path(job) / f"input.{source_ext}"
            source.write_bytes(data)
            target = Path(job) / f"output.{target_ext}"
            started = time.monotonic()
            try:
                instance.convert(source, target, EXPORT_FILTERS.get(target_ext), self.settings.timeout)
            except WarmFailed as exc:
                # refused or crashed on before its time limit: some files load in a one-shot soffice but
                # not through UNO (Calc in LibreOffice 7.4 does not), so one-shot decides, as before
                if not instance.alive():
                    self._retire(slot, f"ended during a conversion ({exc})")
                log.info("the warm LibreOffice could not convert a .%s (%s); converting it one-shot", source_ext, exc)
                raise OfficeUnavailable(f"the warm LibreOffice could not convert the file: {exc}") from exc
            except ConversionError:
                if not instance.alive():
                    self._retire(slot, "killed: conversion past its time limit")
                raise
            finally:
                self._recycle(slot)
            log.debug("instance %d: %s → %s in %.2f s", slot.number, source_ext, target_ext,
                      time.monotonic() - started)
            return target.read_bytes()

    def _ready(self, slot: _Slot, runtime: Runtime) -> Instance:
        """The slot's instance, started (again) if there is none or it has ended."""
        if slot.instance is not None and not slot.instance.alive():
            self._retire(slot, "ended")
        if slot.instance is None:
            assert self._dir is not None
            slot.generation += 1
            workdir = self._dir / f"instance-{slot.number}-{slot.generation}"
            workdir.mkdir(mode=0o700)
            started = time.monotonic()
            instance = Instance(runtime, workdir)
            try:
                instance.wait_ready(START_TIMEOUT)
            except StartFailed as exc:
                instance.discard()
                self._down_until = time.monotonic() + RETRY_AFTER
                log.warning("%s; converting one-shot for %.0f s", exc, RETRY_AFTER)
                raise OfficeUnavailable(str(exc)) from exc
            if self._closed:
                instance.discard()
                raise OfficeUnavailable("the pool is closed")
            slot.instance = instance
            log.debug("LibreOffice instance %d started in %.2f s", slot.number, time.monotonic() - started)
        return slot.instance

    def _recycle(self, slot: _Slot) -> None:
        """Replace (at next need) an instance that served its quota or holds too much memory."""
        instance = slot.instance
        if instance is None or not instance.alive():
            return
        if instance.conversions >= self.settings.max_conversions:
            self._retire(slot, f"served {instance.conversions} conversions")
        elif (rss := instance.rss_mb()) > self.settings.memory_mb:
            self._retire(slot, f"holds {rss:.0f} MB (limit {self.settings.memory_mb} MB)")

    def _retire(self, slot: _Slot, why: str) -> None:
        instance, slot.instance = slot.instance, None
        if instance is not None:
            log.info("LibreOffice instance %d restarted at next need: %s", slot.number, why)
            instance.discard()

    def pids(self) -> list[int]:
        """The guard of each running instance (tests, supervision)."""
        return [slot.instance.process.pid for slot in self._slots if slot.instance is not None]

    def close(self) -> None:
        """Kill every instance (also one in the middle of a conversion) and remove the private directory."""
        self._closed = True
        for slot in self._slots:
            instance, slot.instance = slot.instance, None
            if instance is not None:
                instance.discard()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> OfficePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
