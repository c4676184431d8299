"""The one cache of the campaign's files: an entry per loader, file paths (each with its modification time
and size) and arguments, so a file edited while the worker runs is read again and nothing else is.

A loader that raises is not cached: a missing or broken file is reported on every use until it is fixed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def _version(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except OSError:
        return (0, 0)  # the loader names the missing file
    return (stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _load(loader: Callable[..., Any], args: tuple[Hashable, ...], _versions: tuple[tuple[int, int], ...]) -> Any:
    return loader(*args)


def cached(loader: Callable[..., T], *args: Hashable) -> T:
    """``loader(*args)``, read again only when a file among ``args`` (the Path ones) changed."""
    versions = tuple(_version(arg) for arg in args if isinstance(arg, Path))
    result: T = _load(loader, args, versions)
    return result
