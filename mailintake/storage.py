"""Content-addressed storage for raw mails and attachments.

Files are named by their SHA-256, never by anything taken from a mail, so no name in a mail can
reach the filesystem. Writes go to a temporary file, are fsynced and renamed into place.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
from pathlib import Path

from mailintake.errors import StorageError


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Storage:
    """``objects/ab/cdef…`` under one root directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def ensure_writable(self) -> None:
        try:
            (self.root / "objects").mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".probe-"):
                pass
        except OSError as exc:
            raise StorageError(
                f"storage: cannot write to {self.root} ({exc.strerror}); fix [storage] dir or its permissions"
            ) from None

    def relpath(self, digest: str) -> str:
        return f"objects/{digest[:2]}/{digest[2:]}"

    def put(self, data: bytes, digest: str | None = None) -> tuple[str, str]:
        """Store ``data``; return (sha256, path relative to the root). Idempotent."""
        digest = digest or sha256_hex(data)
        rel = self.relpath(digest)
        target = self.root / rel
        if target.exists() and target.stat().st_size == len(data):
            return digest, rel
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp_name, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)
                raise
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise StorageError(
                    f"storage: {self.root} is full; free disk space or move [storage] dir"
                ) from None
            raise StorageError(f"storage: cannot write {rel} under {self.root} ({exc.strerror})") from None
        return digest, rel

    def get(self, rel: str) -> bytes:
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise StorageError(f"storage: refusing path outside {self.root}")
        return path.read_bytes()
