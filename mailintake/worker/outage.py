"""The IMAP mailbox unreachable, as a recorded state (``service_health`` row ``mailbox``).

One WARNING when the outage starts and one when it ends, however many retries lie between (those log
at INFO); ``status``, ``/healthz`` and the console show it while it lasts. Before, a connection failing
before the poll began left no trace but one warning per backoff step.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from mailintake.db.health import MAILBOX, mark_down, mark_up
from mailintake.util.text import local_iso

log = logging.getLogger("mailintake.worker")

#: what the operator can do while the mailbox cannot be reached
MAILBOX_FIX = ("new mail waits on the server and is fetched once it answers (retried automatically); "
               "`mailintake check-config` tries the connection and the login")


class MailboxHealth:
    """The worker's view of the mailbox's reachability, written through to the database."""

    def __init__(self, factory: sessionmaker[Session], tz: dt.tzinfo) -> None:
        self._factory = factory
        self._tz = tz
        self._recorded = True  # until the first success: an outage may be left from before a restart

    def down(self, cause: str, failures: int, retry_in: float) -> None:
        """A connection or a poll failed for a mailbox reason."""
        fields = {"failures": failures, "retry_in": retry_in}
        try:
            found, started = mark_down(self._factory, MAILBOX, cause, MAILBOX_FIX)
        except SQLAlchemyError as err:  # the database is down too: the log line is all there is
            log.warning("mailbox unavailable: %s (not recorded: %s)", cause, err, extra={"fields": fields})
            return
        self._recorded = True
        if started:
            log.warning("IMAP mailbox unreachable since %s: %s; %s", local_iso(found.since, self._tz), cause,
                        MAILBOX_FIX, extra={"fields": fields})
        else:
            log.info("IMAP mailbox still unreachable: %s", cause, extra={"fields": fields})

    def up(self) -> None:
        """A poll went through: end the recorded outage, if any (one database read, only after a failure)."""
        if not self._recorded:
            return
        try:
            ended = mark_up(self._factory, MAILBOX)
        except SQLAlchemyError:
            return  # tried again after the next cycle
        self._recorded = False
        if ended is not None:
            log.warning("IMAP mailbox reachable again (unreachable since %s)", local_iso(ended.since, self._tz))
