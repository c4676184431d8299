"""Legacy formats (.doc, .wps, .rtf, .odt) to .docx with LibreOffice, one throwaway profile per run.

A fresh ``-env:UserInstallation`` profile lets conversions run side by side (a shared profile is
locked by the first soffice) and keeps a crashed run from poisoning the next one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

#: Runs a command (soffice, or a warm LibreOffice behind unoserver) in the process group it leads and
#: kills that whole group (the shell script, oosplash, the soffice.bin oosplash forks) as soon as the
#: process that started it is gone — also when that one was SIGKILLed (a parser child past its time
#: limit, a worker that died), which leaves no code of its own to run — or the command itself has
#: ended, so a LibreOffice left by a crashed command goes too. Plain stdlib, started with ``-I -S``.
GUARD = """
import os, signal, subprocess, sys
parent = int(sys.argv[1])
child = subprocess.Popen(sys.argv[2:])
code = None
while code is None and os.getppid() == parent:
    try:
        code = child.wait(timeout=0.2)
    except subprocess.TimeoutExpired:
        pass
me = os.getpid()
for entry in os.listdir("/proc"):
    if entry.isdigit() and int(entry) != me:
        try:
            if os.getpgid(int(entry)) == me:
                os.kill(int(entry), signal.SIGKILL)
        except OSError:
            pass
sys.exit(1 if code is None else code)
"""

#: LibreOffice's export filter for each target extension (others: LibreOffice picks by extension)
EXPORT_FILTERS = {"doc": "MS Word 97", "docx": "MS Word 2007 XML", "rtf": "Rich Text Format"}


def guarded(command: list[str]) -> list[str]:
    """``command`` under :data:`GUARD`; start it with ``start_new_session=True`` so the group is its own."""
    if not sys.executable:
        return command
    return [sys.executable, "-I", "-S", "-c", GUARD, str(os.getpid()), *command]


#: below the pool's parse limit ([limits] parse_timeout, 120 s): LibreOffice is stopped cleanly first
DEFAULT_TIMEOUT = 100.0


class ConversionError(RuntimeError):
    """Raised when LibreOffice fails, times out or writes nothing."""


def office_pipe(profile_url: str) -> Path:
    """The socket LibreOffice opens for its single-instance check of the profile at ``profile_url``.

    Named after the MD5 of the URL's UTF-16 code units (each byte in hex, unpadded) and put in /tmp
    whatever TMPDIR says, it is left behind when LibreOffice is killed (a timeout, a crash)."""
    digest = hashlib.md5(profile_url.encode("utf-16-le"), usedforsecurity=False).digest()
    return Path("/tmp") / f"OSL_PIPE_{os.getuid()}_SingleOfficeIPC_{''.join(f'{byte:x}' for byte in digest)}"


def remove_office_pipe(profile_url: str) -> None:
    """Remove the socket of a LibreOffice run with this profile that has ended (killed or not)."""
    with contextlib.suppress(OSError):
        office_pipe(profile_url).unlink(missing_ok=True)


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
    target_filter = f"{target_ext}:{EXPORT_FILTERS[target_ext]}" if target_ext in EXPORT_FILTERS else target_ext
    with tempfile.TemporaryDirectory(prefix="mailintake-soffice-") as workdir:
        work = Path(workdir)
        source = work / f"input.{source_ext}"
        source.write_bytes(data)
        outdir = work / "out"
        outdir.mkdir()
        profile_url = (work / "profile").as_uri()
        command = [
            soffice, f"-env:UserInstallation={profile_url}", "--headless", "--invisible",
            "--norestore", "--nologo", "--nodefault", "--nolockcheck",
            "--convert-to", target_filter, "--outdir", str(outdir), str(source),
        ]
        env = {**os.environ, "HOME": workdir, "SAL_USE_VCLPLUGIN": "svp"}
        with subprocess.Popen(guarded(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                              start_new_session=True) as process:
            try:
                _, stderr = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired as exc:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
                remove_office_pipe(profile_url)
                raise ConversionError(f"LibreOffice timed out after {timeout:.0f}s") from exc
        remove_office_pipe(profile_url)  # a LibreOffice that crashed leaves it too
        produced = sorted(outdir.glob(f"*.{target_ext}"))
        if not produced:
            raise ConversionError(f"LibreOffice wrote nothing (exit {process.returncode}): "
                                  f"{stderr.decode(errors='replace').strip()[:300]}")
        return produced[0].read_bytes()


def to_docx(data: bytes, fmt: str, *, soffice: str, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """A legacy Word-like file as .docx bytes."""
    return convert(data, fmt, "docx", soffice=soffice, timeout=timeout)
