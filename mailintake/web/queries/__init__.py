"""The console's reads, one module per area; each function takes a Session and returns plain data.

Here: the pager the list pages share."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Pager:
    number: int
    size: int
    total: int
    link: Callable[[int], str]

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size
