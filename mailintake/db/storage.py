"""Content-addressed storage for raw mails and attachments.

Files are named by their SHA-256, never by anything taken from a mail, so no name in a mail can
reach the filesystem. Writes go to a temporary file, are fsynced and renamed into place.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import errno
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mailintake.errors import StorageError


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Storage:
    """``objects/ab/cdef…`` under one root directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        #: inside batch(): digest -> (temporary file, final path, its fsync running in a thread)
        self._pending: dict[str, tuple[str, Path, cf.Future[None]]] | None = None
        self._syncer: cf.ThreadPoolExecutor | None = None

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
        """Store ``data``; return (sha256, path relative to the root). Idempotent.

        Outside :meth:`batch` the file is fsynced and in place when this returns; inside, only when
        the batch ends.
        """
        digest = digest or sha256_hex(data)
        rel = self.relpath(digest)
        target = self.root / rel
        if self._pending is not None and digest in self._pending:
            return digest, rel
        if target.exists() and target.stat().st_size == len(data):
            return digest, rel
        with self._errors(rel):
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    if self._pending is None or self._syncer is None:
                        handle.flush()
                        os.fsync(handle.fileno())
                if self._pending is not None and self._syncer is not None:
                    self._pending[digest] = (tmp_name, target, self._syncer.submit(_fsync_path, tmp_name))
                    return digest, rel
                os.replace(tmp_name, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)
                raise
        return digest, rel

    @contextlib.contextmanager
    def batch(self, workers: int = 8) -> Iterator[None]:
        """Defer durability to the end of the block: files are written at once, fsynced in parallel
        threads (the file system commits them together) and renamed into place when the block ends.

        Nothing may refer to a file stored in the block (e.g. a database commit) before it ends;
        on an exception the block's files are discarded.
        """
        if self._pending is not None:
            yield
            return
        self._pending, self._syncer = {}, cf.ThreadPoolExecutor(workers, thread_name_prefix="storage-fsync")
        pending, syncer = self._pending, self._syncer
        try:
            yield
            for digest, (tmp_name, target, synced) in list(pending.items()):
                with self._errors(self.relpath(digest)):
                    synced.result()
                    os.replace(tmp_name, target)
                del pending[digest]
        finally:
            syncer.shutdown(wait=True)
            for tmp_name, _target, _synced in pending.values():
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)
            self._pending = self._syncer = None

    @contextlib.contextmanager
    def _errors(self, rel: str) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise StorageError(
                    f"storage: {self.root} is full; free disk space or move [storage] dir"
                ) from None
            raise StorageError(f"storage: cannot write {rel} under {self.root} ({exc.strerror})") from None

    def get(self, rel: str) -> bytes:
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise StorageError(f"storage: refusing path outside {self.root}")
        return path.read_bytes()


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
