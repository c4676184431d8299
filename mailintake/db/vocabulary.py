"""The status words stored in the database, one enum each.

``StrEnum`` members equal their strings (``MailStatus.accepted == "accepted"``), so rows, JSON and
templates keep the plain words; the members only keep the code from misspelling them. Member names
equal their values on purpose: every database driver stores the same word, by name or by value.
"""

from __future__ import annotations

from enum import StrEnum


class MailStatus(StrEnum):
    """``messages.status``: what became of one mail."""

    accepted = "accepted"
    needs_correction = "needs_correction"
    late = "late"
    no_form = "no_form"
    ignored = "ignored"
    too_large = "too_large"
    failed = "failed"


class OutboxStatus(StrEnum):
    """``outbox.status``: where one outgoing mail stands."""

    pending = "pending"
    sent = "sent"
    failed = "failed"
    suppressed = "suppressed"
