"""The console's reads, one module per area; each function takes a Session and returns plain data."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


def validity(current: bool, superseded_by: int | None, decision: str | None = None,
             correcting: bool = False) -> str:
    """How a parsed form counts, following the office's decisions: 已撤回 / 同意受理, 待更正 (its mail asked
    for a correction), 有效, replaced by a later one, or never counted (e.g. a late mail)."""
    if current and decision == "withdraw":
        return "已撤回"
    if current and decision == "accept":
        return "有效（同意受理）"
    if current:
        return "待更正" if correcting else "有效"
    return "已被后来的申报替代" if superseded_by is not None else "不计入（邮件逾期或未受理）"


@dataclass(frozen=True)
class Pager:
    number: int
    size: int
    total: int
    link: Callable[[int], str]
    #: the list's other query parameters, carried by the page-jump form
    hidden: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        # a page past the last (or a 20-digit one) shows the last page
        object.__setattr__(self, "number", max(1, min(self.number, self.pages)))

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size
