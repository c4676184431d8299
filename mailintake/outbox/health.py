"""Outbound health: an SMTP outage as a state of its own, recorded in the database while it lasts.

The sender calls :func:`smtp_down` when it cannot open a connection (refused, TLS, login, timeout) and
:func:`smtp_up` once a connection opens again. The first process to notice a change logs it once —
``SMTP unreachable since … (n replies waiting)`` and ``SMTP reachable again`` — so an outage costs two
log lines however many replies wait; ``status``, ``/healthz`` and the console read :func:`smtp_outage`.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from mailintake.db.models import OutboxItem, ServiceHealth, utcnow
from mailintake.db.vocabulary import OutboxStatus
from mailintake.util.text import local_iso

log = logging.getLogger("mailintake.outbox")

SMTP = "smtp"
#: what to do while the server is unreachable for a reason that may heal by itself
WAIT_FIX = ("replies wait and are retried automatically; check [smtp] host, port and security and the "
            "server, then `mailintake send` delivers every waiting reply at once")


@dataclass(frozen=True)
class Outage:
    """SMTP failing since ``since`` (UTC); ``cause`` is the latest error, ``fix`` what the operator can do."""

    since: dt.datetime
    checked_at: dt.datetime
    cause: str
    fix: str

    def line(self, tz: dt.tzinfo, waiting: int) -> str:
        """``SMTP unreachable since 2019-12-18T09:00:00+08:00 (3 replies waiting): cause; fix``."""
        since = local_iso(self.since, tz)
        return f"SMTP unreachable since {since} ({waiting} replies waiting): {self.cause}; {self.fix}"


def smtp_outage(session: Session) -> Outage | None:
    """The SMTP outage in progress, or None when the last connection opened."""
    row = session.get(ServiceHealth, SMTP)
    if row is None:
        return None
    return Outage(row.down_since, row.checked_at, row.cause, row.fix)


def waiting(session: Session) -> int:
    """Mails in the outbox waiting to be sent."""
    return int(session.scalar(select(func.count()).select_from(OutboxItem)
                              .where(OutboxItem.status == OutboxStatus.pending)) or 0)


def smtp_down(factory: sessionmaker[Session], cause: str, fix: str, tz: dt.tzinfo,
              now: dt.datetime | None = None) -> Outage:
    """Record that SMTP failed now; logs one WARNING when this starts an outage."""
    now = now or utcnow()
    with factory() as session:
        row = session.get(ServiceHealth, SMTP)
        started = row is None
        if row is None:
            row = ServiceHealth(name=SMTP, down_since=now)
            session.add(row)
        row.checked_at, row.cause, row.fix = now, cause, fix
        outage = Outage(row.down_since, now, cause, fix)
        count = waiting(session) if started else 0
        session.commit()
    if started:
        log.warning("%s", outage.line(tz, count))
    return outage


def smtp_up(factory: sessionmaker[Session], tz: dt.tzinfo, now: dt.datetime | None = None) -> Outage | None:
    """Record that an SMTP connection opened; returns the outage it ended (logged once), if any."""
    with factory() as session:
        outage = smtp_outage(session)
        if outage is None:
            return None
        result = session.execute(delete(ServiceHealth).where(ServiceHealth.name == SMTP))
        count = waiting(session)
        session.commit()
    if getattr(result, "rowcount", 0) == 1:
        log.warning("SMTP reachable again (unreachable since %s; %d replies waiting are sent now)",
                    local_iso(outage.since, tz), count)
        return outage
    return None
