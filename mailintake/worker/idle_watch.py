"""The worker's IMAP IDLE thread: an IDLE kept open on the folder, a poll asked for on every arrival.

Any trouble (connection lost, login refused) is retried with backoff while the worker's interval
polling goes on; a server without IDLE ends the thread for good.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from mailintake.config.settings import Settings

log = logging.getLogger("mailintake.worker")

#: IMAP IDLE is re-issued at least this often (RFC 2177 asks for < 29 minutes; some servers drop at 10)
IDLE_REISSUE = 300.0
BACKOFF_START = 5.0
BACKOFF_MAX = 600.0


def backoff_delay(failures: int, cap: float = BACKOFF_MAX) -> float:
    """5 s, 10 s, 20 s, … capped: the wait before reconnecting after ``failures`` errors in a row."""
    if failures <= 0:
        return 0.0
    return float(min(cap, BACKOFF_START * 2 ** (failures - 1)))


class IdleWatcher:
    """Runs in its own thread until ``stop`` is set; ``active`` while an IDLE is open."""

    def __init__(self, settings: Settings, stop: threading.Event, request_poll: Callable[[], None],
                 poll_interval: int) -> None:
        self.settings = settings
        self.stop = stop
        self.request_poll = request_poll
        self.poll_interval = poll_interval
        self.active = False
        #: IDLE sessions lost in a row (reset once an IDLE is open again)
        self.failures = 0
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, name="imap-idle", daemon=True)
        self.thread.start()

    def join(self, timeout: float) -> None:
        if self.thread is not None:
            self.thread.join(timeout=timeout)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                if not self._watch():
                    return
            except Exception as err:
                if self.stop.is_set():
                    return
                self.failures += 1
                log.warning("IMAP IDLE interrupted (%s); polling continues, IDLE retried in %.0f s",
                            err, backoff_delay(self.failures), extra={"fields": {"failures": self.failures}})
            finally:
                self.active = False
            if self.stop.wait(backoff_delay(max(self.failures, 1))):
                return

    def _watch(self) -> bool:
        """One IMAP session in IDLE until stopped; False when the server offers no IDLE."""
        from mailintake.mailbox.client import MailboxClient

        with MailboxClient(self.settings.mailbox) as client:
            client.select()
            if not client.has_capability("IDLE"):
                log.warning("IMAP server offers no IDLE; polling every %d s", self.poll_interval)
                return False
            self.active = True
            self.failures = 0
            log.info("IMAP IDLE active", extra={"fields": {"folder": self.settings.mailbox.folder}})
            # new mail may have arrived between the last poll and this IDLE
            self.request_poll()
            while not self.stop.is_set():
                if client.idle_wait(IDLE_REISSUE):
                    log.debug("IDLE: new mail")
                    self.request_poll()
        return True
