"""LibreOffice conversions for the worker: a warm, supervised pool (``pool``), the jobs it serves (``jobs``)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from mailintake.convert.pool import OfficePool, OfficeUnavailable, PoolSettings, describe_runtime

if TYPE_CHECKING:
    from mailintake.config.settings import LimitsSettings

__all__ = ["OfficePool", "OfficeUnavailable", "PoolSettings", "describe_runtime", "pool_settings"]


def pool_settings(limits: LimitsSettings) -> PoolSettings:
    """The pool's part of ``[limits]``: ``office_instances`` 0 means one per CPU."""
    return PoolSettings(size=limits.office_instances or max(1, os.cpu_count() or 1), timeout=limits.office_timeout,
                        memory_mb=limits.office_memory_mb, max_conversions=limits.office_conversions,
                        python=limits.office_python)
