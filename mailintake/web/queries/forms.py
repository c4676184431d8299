"""How the console words a parsed form's standing."""

from __future__ import annotations


def validity(current: bool, superseded_by: int | None) -> str:
    """How a parsed form counts: 有效, replaced by a later one, or never counted (e.g. a late mail)."""
    if current:
        return "有效"
    return "已被后来的申报替代" if superseded_by is not None else "不计入（邮件逾期或未受理）"
