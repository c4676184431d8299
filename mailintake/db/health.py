"""A remote service found failing, as a state of its own: one ``service_health`` row per service while
the outage lasts, deleted when the service answers again.

Whoever notices the change first is told so (``mark_down`` says whether it started the outage,
``mark_up`` returns the outage it ended), so an outage costs two log lines however often it is
retried; ``status``, ``/healthz`` and the console read :func:`outage`. The SMTP side is
:mod:`mailintake.outbox.health`; the worker records the IMAP mailbox (:data:`MAILBOX`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from mailintake.db.models import ServiceHealth, utcnow

SMTP = "smtp"
MAILBOX = "mailbox"


@dataclass(frozen=True)
class Outage:
    """A service failing since ``since`` (UTC); ``cause`` is the latest error, ``fix`` what the operator can do."""

    since: dt.datetime
    checked_at: dt.datetime
    cause: str
    fix: str


def outage(session: Session, service: str) -> Outage | None:
    """The outage of ``service`` in progress, or None when it last answered."""
    row = session.get(ServiceHealth, service)
    if row is None:
        return None
    return Outage(row.down_since, row.checked_at, row.cause, row.fix)


def mark_down(factory: sessionmaker[Session], service: str, cause: str, fix: str,
              now: dt.datetime | None = None) -> tuple[Outage, bool]:
    """Record that ``service`` failed now; True when this failure starts the outage."""
    now = now or utcnow()
    with factory() as session:
        row = session.get(ServiceHealth, service)
        started = row is None
        if row is None:
            row = ServiceHealth(name=service, down_since=now)
            session.add(row)
        row.checked_at, row.cause, row.fix = now, cause, fix
        found = Outage(row.down_since, now, cause, fix)
        session.commit()
    return found, started


def mark_up(factory: sessionmaker[Session], service: str) -> Outage | None:
    """Record that ``service`` answered; the outage this call ended, if any (None also when another
    process ended it first)."""
    with factory() as session:
        found = outage(session, service)
        if found is None:
            return None
        result = session.execute(delete(ServiceHealth).where(ServiceHealth.name == service))
        session.commit()
    return found if getattr(result, "rowcount", 0) == 1 else None
