"""Outbound health: an SMTP outage as a state of its own, recorded in the database while it lasts.

The state itself is :mod:`mailintake.db.health` (row ``smtp``). The sender calls :func:`smtp_down` when it
cannot open a connection (refused, TLS, login, timeout) and :func:`smtp_up` once a connection opens
again. The first process to notice a change logs it once — ``SMTP unreachable since … (n replies
waiting)`` and ``SMTP reachable again`` — so an outage costs two log lines however many replies wait;
``status``, ``/healthz`` and the console read :func:`smtp_outage`.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from mailintake.db.health import SMTP, Outage, mark_down, mark_up, outage
from mailintake.db.models import OutboxItem
from mailintake.db.vocabulary import OutboxStatus
from mailintake.util.text import local_iso

log = logging.getLogger("mailintake.outbox")

#: what to do while the server is unreachable for a reason that may heal by itself
WAIT_FIX = ("replies wait and are retried automatically; check [smtp] host, port and security and the "
            "server, then `mailintake send` delivers every waiting reply at once")


def outage_line(found: Outage, tz: dt.tzinfo, waiting: int) -> str:
    """``SMTP unreachable since 2019-12-18T09:00:00+08:00 (3 replies waiting): cause; fix``."""
    since = local_iso(found.since, tz)
    return f"SMTP unreachable since {since} ({waiting} replies waiting): {found.cause}; {found.fix}"


def smtp_outage(session: Session) -> Outage | None:
    """The SMTP outage in progress, or None when the last connection opened."""
    return outage(session, SMTP)


def waiting(session: Session) -> int:
    """Mails in the outbox waiting to be sent."""
    return int(session.scalar(select(func.count()).select_from(OutboxItem)
                              .where(OutboxItem.status == OutboxStatus.pending)) or 0)


def smtp_down(factory: sessionmaker[Session], cause: str, fix: str, tz: dt.tzinfo,
              now: dt.datetime | None = None) -> Outage:
    """Record that SMTP failed now; logs one WARNING when this starts an outage."""
    found, started = mark_down(factory, SMTP, cause, fix, now)
    if started:
        with factory() as session:
            log.warning("%s", outage_line(found, tz, waiting(session)))
    return found


def smtp_up(factory: sessionmaker[Session], tz: dt.tzinfo) -> Outage | None:
    """Record that an SMTP connection opened; returns the outage it ended (logged once), if any."""
    ended = mark_up(factory, SMTP)
    if ended is not None:
        with factory() as session:
            count = waiting(session)
        log.warning("SMTP reachable again (unreachable since %s; %d replies waiting are sent now)",
                    local_iso(ended.since, tz), count)
    return ended
