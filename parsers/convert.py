"""Legacy formats (.doc, .wps, .rtf, .odt) to .docx with LibreOffice, one throwaway profile per run.

A fresh ``-env:UserInstallation`` profile lets conversions run side by side (a shared profile is
locked by the first soffice) and keeps a crashed run from poisoning the next one.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

#: Runs soffice in the process group it leads and kills that whole group (the shell script, oosplash and
#: the soffice.bin oosplash forks) as soon as the process that asked for the conversion is gone — also
#: when that one was SIGKILLed (a parser child past its time limit, or whose worker died), which leaves no
#: code of its own to run. Plain stdlib, started with ``-I -S``: ~20 ms beside LibreOffice's seconds.
_GUARD = """
import os, signal, subprocess, sys
parent = int(sys.argv[1])
soffice = subprocess.Popen(sys.argv[2:])
while True:
    try:
        sys.exit(soffice.wait(timeout=0.2))
    except subprocess.TimeoutExpired:
        if os.getppid() != parent:
            os.killpg(0, signal.SIGKILL)
"""

#: below the pool's parse limit ([limits] parse_timeout, 120 s): LibreOffice is stopped cleanly first
DEFAULT_TIMEOUT = 100.0


class ConversionError(RuntimeError):
    """Raised when LibreOffice fails, times out or writes nothing."""


def find_soffice() -> str | None:
    """Path of soffice/libreoffice on PATH, or None."""
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    return None


def resolve_soffice(soffice: str | None) -> str | None:
    """``"auto"`` -> search PATH; None -> conversion disabled; anything else is a path."""
    if soffice == "auto":
        return find_soffice()
    return soffice


def convert(data: bytes, source_ext: str, target_ext: str, *, soffice: str, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """Convert ``data`` (a .``source_ext`` file) to ``target_ext`` (e.g. "docx", "doc", "odt", "rtf")."""
    target_filter = {"doc": "doc:MS Word 97", "docx": "docx:MS Word 2007 XML", "rtf": "rtf:Rich Text Format",
                     "odt": "odt"}.get(target_ext, target_ext)
    with tempfile.TemporaryDirectory(prefix="mailintake-soffice-") as workdir:
        work = Path(workdir)
        source = work / f"input.{source_ext}"
        source.write_bytes(data)
        outdir = work / "out"
        outdir.mkdir()
        command = [
            soffice, f"-env:UserInstallation={(work / 'profile').as_uri()}", "--headless", "--invisible",
            "--norestore", "--nologo", "--nodefault", "--nolockcheck",
            "--convert-to", target_filter, "--outdir", str(outdir), str(source),
        ]
        env = {**os.environ, "HOME": workdir, "SAL_USE_VCLPLUGIN": "svp"}
        guarded = [sys.executable, "-I", "-S", "-c", _GUARD, str(os.getpid()), *command] if sys.executable else command
        with subprocess.Popen(guarded, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                              start_new_session=True) as process:
            try:
                _, stderr = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired as exc:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
                raise ConversionError(f"LibreOffice timed out after {timeout:.0f}s") from exc
        produced = sorted(outdir.glob(f"*.{target_ext}"))
        if not produced:
            raise ConversionError(f"LibreOffice wrote nothing (exit {process.returncode}): "
                                  f"{stderr.decode(errors='replace').strip()[:300]}")
        return produced[0].read_bytes()


def to_docx(data: bytes, fmt: str, *, soffice: str, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """A legacy Word-like file as .docx bytes."""
    return convert(data, fmt, "docx", soffice=soffice, timeout=timeout)
