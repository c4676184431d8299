"""The intake cycle: fetch new mail, read it, parse its forms, apply the rules, store, queue replies.

(Interface stub — being implemented.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from mailintake.config import Settings


@dataclass
class PollResult:
    """What one poll did."""

    fetched: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # new messages by status
    duplicates: int = 0
    retried: int = 0
    errors: list[str] = field(default_factory=list)
    duration: float = 0.0


def poll_once(
    settings: Settings,
    session_factory: sessionmaker[Session],
    *,
    progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> PollResult:
    """One cycle against the configured mailbox. Raises MailboxError when it cannot connect/login."""
    raise NotImplementedError


def reprocess_message(settings: Settings, session_factory: sessionmaker[Session], message_pk: int) -> str:
    """Re-parse a stored mail; supersede its old submissions; queue a reply only if the outcome changed.

    Returns the new status.
    """
    raise NotImplementedError
