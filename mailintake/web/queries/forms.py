"""How the console words a parsed form's standing."""

from __future__ import annotations


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
