"""Automatic replies: who to answer (recipients), what to say (compose), the office-editable templates."""

from __future__ import annotations

#: the four kinds of automatic reply; at most one of them per mail
REPLY_KINDS: tuple[str, ...] = ("receipt", "correction", "late", "no_form")

__all__ = ["REPLY_KINDS"]
