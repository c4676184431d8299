"""The outbox: replies queued in the intake transaction (queue), who to answer (recipients), what to say
(compose, templates), delivery over SMTP (sender). Reminders and decisions live in office/ and use it."""

from __future__ import annotations

#: the four kinds of automatic reply; at most one of them per mail
REPLY_KINDS: tuple[str, ...] = ("receipt", "correction", "late", "no_form")

__all__ = ["REPLY_KINDS"]
