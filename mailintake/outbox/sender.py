"""Deliver due outbox rows over SMTP: one connection per batch, retries with backoff, one commit per row.

Each row is first *claimed* (a conditional UPDATE pushing ``next_attempt_at`` out by a lease, so a
second sender running at the same time skips it), then sent, then marked ``sent`` and committed at
once. The only window in which a crash makes a message go out twice is between the server's
``250`` reply to DATA and the commit of that row's ``sent`` status — a few milliseconds; after a
crash there the row becomes due again when its lease ends and is sent a second time.

Retries last through an outage: a temporary failure is retried with a backoff capped at
:data:`BACKOFF_CAP` until the row's retry window ends (``[smtp] retry_window`` after it was queued,
never before the campaign deadline plus a day) or ``[smtp] max_attempts`` is reached, whichever comes
first. A server that cannot be reached is one state (:mod:`mailintake.outbox.health`), logged once, not
one warning per reply. A run with ``everything`` (``mailintake send``, or the first run after an outage)
sends every waiting row at once, whatever its backoff: a row in backoff waits at most
:data:`BACKOFF_CAP`, a claim holds its row longer than that, so the two are told apart by time.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from mailintake.config.settings import Settings, SmtpSettings
from mailintake.db.models import OutboxItem, utcnow
from mailintake.db.vocabulary import OutboxStatus
from mailintake.errors import SmtpError
from mailintake.outbox.health import WAIT_FIX, smtp_down, smtp_outage, smtp_up
from mailintake.util.text import local_iso, one_line
from mailintake.util.tls import client_context

log = logging.getLogger(__name__)

#: the longest wait between two attempts of one row
BACKOFF_CAP = timedelta(minutes=15)
#: how long a claimed row stays invisible to other senders (due again after a crash): longer than any
#: backoff, so a claimed row is never taken for one waiting in backoff
MIN_LEASE = BACKOFF_CAP + timedelta(minutes=5)


@dataclass
class DeliveryResult:
    """What one delivery run did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    #: why the server could not be reached (the rows of this run wait), None when it could
    unreachable: str | None = None

    @property
    def complete(self) -> bool:
        """Every mail tried was sent (``poll`` and ``send`` exit 4 otherwise)."""
        return self.retried == 0 and self.failed == 0 and self.unreachable is None

    def summary(self) -> str | None:
        """One line for the operator when something was not sent, else None."""
        if self.complete:
            return None
        parts = []
        if self.unreachable is not None:
            parts.append(f"SMTP unreachable ({self.unreachable}); {self.retried} mail(s) wait and are retried "
                         "automatically, `mailintake send` delivers them at once when the server is back")
        elif self.retried:
            parts.append(f"{self.retried} mail(s) deferred by the server and retried automatically")
        if self.failed:
            parts.append(f"{self.failed} mail(s) gave up; after fixing the cause run `mailintake resend --failed`")
        return "smtp: " + "; ".join(parts)


class _Temporary(Exception):
    """A failure worth retrying (4xx, connection lost, timeout)."""


class _Permanent(Exception):
    """A failure retrying cannot fix (5xx)."""


def _error_text(value: object) -> str:
    return one_line(value, 300)


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8, 15, 15 … minutes after the 1st, 2nd, 3rd … failed attempt (capped at BACKOFF_CAP)."""
    return min(timedelta(minutes=2 ** min(max(attempts - 1, 0), 10)), BACKOFF_CAP)


def give_up_at(settings: Settings, created_at: datetime) -> datetime:
    """When a row queued at ``created_at`` stops being retried: ``[smtp] retry_window`` later, never before the
    campaign deadline plus a day (applicants are still writing until then)."""
    return max(created_at + settings.smtp.retry_window, settings.campaign.deadline + timedelta(days=1))


def _gives_up(settings: Settings, attempts: int, created_at: datetime, now: datetime) -> bool:
    cap = settings.smtp.max_attempts
    return (cap is not None and attempts >= cap) or now >= give_up_at(settings, created_at)


def tls_context(smtp: SmtpSettings) -> ssl.SSLContext:
    return client_context(smtp.ca_file, smtp.verify_tls)


def connect(smtp: SmtpSettings) -> smtplib.SMTP:
    """An open, (STARTTLS-)secured and logged-in SMTP connection.

    Raises :class:`_Temporary` for network trouble and 4xx, :class:`SmtpError` for what the operator
    must fix (refused login, certificate not trusted, STARTTLS unsupported).
    """
    host, port = smtp.host, smtp.effective_port
    local = socket.gethostname() or "localhost"
    client: smtplib.SMTP | None = None
    try:
        if smtp.security == "ssl":
            client = smtplib.SMTP_SSL(host, port, local_hostname=local, timeout=smtp.timeout,
                                      context=tls_context(smtp))
        else:
            client = smtplib.SMTP(host, port, local_hostname=local, timeout=smtp.timeout)
            client.ehlo()
            if smtp.security == "starttls":
                client.starttls(context=tls_context(smtp))
                client.ehlo()
        if smtp.username:
            client.login(smtp.username, smtp.password)
        return client
    except smtplib.SMTPAuthenticationError as exc:
        _close(client)
        raise SmtpError(
            f"smtp: {host} refused the login ({exc.smtp_code} {_error_text(exc.smtp_error)}); "
            "check [smtp] username and password (QQ mail needs an authorisation code)"
        ) from None
    except smtplib.SMTPNotSupportedError as exc:
        _close(client)
        raise SmtpError(
            f"smtp: {host} lacks a needed feature ({_error_text(exc)}); check [smtp] security, port and username"
        ) from None
    except ssl.SSLCertVerificationError as exc:
        _close(client)
        raise SmtpError(
            f"smtp: certificate of {host} not trusted ({exc.verify_message}); set [smtp] ca_file"
        ) from None
    except smtplib.SMTPResponseException as exc:
        _close(client)
        if 400 <= exc.smtp_code < 500:
            raise _Temporary(f"{exc.smtp_code} {_error_text(exc.smtp_error)}") from None
        raise SmtpError(f"smtp: {host} refused us ({exc.smtp_code} {_error_text(exc.smtp_error)})") from None
    except (OSError, smtplib.SMTPException) as exc:
        _close(client)
        raise _Temporary(f"cannot reach {host}:{port} ({_error_text(exc) or type(exc).__name__})") from None


def _close(client: smtplib.SMTP | None) -> None:
    if client is None:
        return
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        with contextlib.suppress(OSError):
            client.close()


def _send(client: smtplib.SMTP, envelope_from: str, row: Claimed) -> str | None:
    """Hand one row to the server; returns a note about refused copies, raises _Temporary/_Permanent."""
    recipients = [str(a) for a in [*row.recipients, *row.cc]]
    if not recipients:
        raise _Permanent("no recipients")
    if not row.raw:
        raise _Permanent("empty message")
    try:
        refused = client.sendmail(envelope_from, recipients, row.raw)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(f"{addr}: {code} {_error_text(msg)}" for addr, (code, msg) in exc.recipients.items())
        if all(code >= 500 for code in codes):
            raise _Permanent(f"recipient refused: {detail}") from None
        raise _Temporary(f"recipient deferred: {detail}") from None
    except smtplib.SMTPResponseException as exc:  # sender refused, data error, 421 ...
        text = f"{exc.smtp_code} {_error_text(exc.smtp_error)}"
        if exc.smtp_code >= 500:
            raise _Permanent(text) from None
        raise _Temporary(text) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise _Temporary(f"connection lost ({_error_text(exc) or type(exc).__name__})") from None
    if refused:
        return "; ".join(f"copy to {addr} refused: {code} {_error_text(msg)}" for addr, (code, msg) in refused.items())
    return None


def _alive(client: smtplib.SMTP) -> bool:
    try:
        return client.noop()[0] == 250
    except (OSError, smtplib.SMTPException):
        return False


def _due_ids(session_factory: sessionmaker[Session], now: datetime, limit: int) -> list[int]:
    """Pending rows due by ``now`` (with ``now + BACKOFF_CAP``: every row waiting, claimed ones excepted)."""
    with session_factory() as session:
        query = (
            select(OutboxItem.id)
            .where(OutboxItem.status == OutboxStatus.pending, OutboxItem.next_attempt_at <= now)
            .order_by(OutboxItem.next_attempt_at, OutboxItem.id)
            .limit(limit)
        )
        return list(session.scalars(query))


@dataclass(frozen=True)
class Claimed:
    """What sending and recording one claimed row need from it, returned by the claim itself (no second read)."""

    id: int
    recipients: list[str]
    cc: list[str]
    raw: bytes
    attempts: int
    created_at: datetime


def _claim(session_factory: sessionmaker[Session], row_id: int, now: datetime, lease: timedelta,
           due_by: datetime | None = None) -> Claimed | None:
    """Take the row for this sender (None when another sender took or finished it meanwhile)."""
    with session_factory() as session:
        taken = session.execute(
            update(OutboxItem)
            .where(OutboxItem.id == row_id, OutboxItem.status == OutboxStatus.pending,
                   OutboxItem.next_attempt_at <= (due_by or now))
            .values(next_attempt_at=now + lease)
            .returning(OutboxItem.id, OutboxItem.recipients, OutboxItem.cc, OutboxItem.raw, OutboxItem.attempts,
                       OutboxItem.created_at)
            .execution_options(synchronize_session=False)
        ).first()
        session.commit()
        return None if taken is None else Claimed(*taken)


def release_claims(session_factory: sessionmaker[Session], now: datetime | None = None) -> int:
    """Give back every claimed row at once (``mailintake run`` starting: the sender that claimed them died with
    the previous worker); a claim lies beyond BACKOFF_CAP, a row in backoff never does. Returns the count."""
    now = now or utcnow()
    with session_factory() as session:
        result = session.execute(
            update(OutboxItem)
            .where(OutboxItem.status == OutboxStatus.pending, OutboxItem.next_attempt_at > now + BACKOFF_CAP)
            .values(next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        session.commit()
        return int(getattr(result, "rowcount", 0) or 0)


def _release(session_factory: sessionmaker[Session], row_id: int, now: datetime) -> None:
    """Give a claimed row back untouched (the run stopped before trying it)."""
    with session_factory() as session:
        row = session.get(OutboxItem, row_id)
        if row is not None and row.status == OutboxStatus.pending:
            row.next_attempt_at = now
            session.commit()


def _record(
    session_factory: sessionmaker[Session],
    row: Claimed,
    settings: Settings,
    now: datetime,
    result: DeliveryResult,
    *,
    error: Exception | None = None,
    note: str | None = None,
    quiet: bool = False,
) -> None:
    """Write the outcome of one attempt on a claimed row and commit it at once (``quiet``: the server was
    unreachable, a state reported once by the caller, so no error line per row)."""
    attempts = row.attempts + 1
    values: dict[str, object]
    if error is None:
        values = {"status": OutboxStatus.sent, "sent_at": now, "last_error": note}
        result.sent += 1
    elif isinstance(error, _Temporary) and not _gives_up(settings, attempts, row.created_at, now):
        values = {"next_attempt_at": now + backoff(attempts), "last_error": _error_text(error)}
        result.retried += 1
        if not quiet:
            retry = local_iso(now + backoff(attempts), settings.campaign.tz)
            result.errors.append(f"outbox {row.id}: {values['last_error']} (retry {retry})")
    else:
        prefix = "" if isinstance(error, _Permanent) else f"gave up after {attempts} attempts: "
        values = {"status": OutboxStatus.failed, "last_error": prefix + _error_text(error)}
        result.failed += 1
        if not quiet:
            result.errors.append(f"outbox {row.id}: {values['last_error']}")
    with session_factory() as session:
        session.execute(update(OutboxItem).where(OutboxItem.id == row.id).values(attempts=attempts, **values)
                        .execution_options(synchronize_session=False))
        session.commit()


#: rows read per query; a run goes on with the next batch until nothing is due
BATCH = 200
#: an SMTP connection unused for longer than this is checked (NOOP) before it is used again
RECHECK_AFTER = 5.0


class _Delivery:
    """One sender's SMTP connection and tally, across one or more passes over the due rows."""

    def __init__(self, settings: Settings, session_factory: sessionmaker[Session],
                 stop: threading.Event | None = None, *, everything: bool = False) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.stop = stop
        self.everything = everything
        self.result = DeliveryResult()
        self.client: smtplib.SMTP | None = None
        self.lease = max(MIN_LEASE, BACKOFF_CAP + timedelta(seconds=settings.smtp.timeout * 4))
        self.envelope_from = settings.smtp.sender or settings.smtp.username
        self._used_at = 0.0
        self._down: SmtpError | _Temporary | None = None

    def close(self) -> None:
        _close(self.client)
        self.client = None

    def run(self, now: datetime | None = None, limit: int | None = None) -> None:
        """Send due rows, batch after batch, until none is due (or ``limit`` rows were tried)."""
        if not self.everything and self.client is None and self._down is None and self._outage_recorded():
            self._probe()  # an outage is on record: is the server back? then everything waiting goes now
        tried: set[int] = set()
        while limit is None or len(tried) < limit:
            clock = now or utcnow()
            size = BATCH if limit is None else min(BATCH, limit - len(tried))
            ids = [row_id for row_id in _due_ids(self.session_factory, self._due_by(clock), size + len(tried))
                   if row_id not in tried][:size]
            if not ids or (self.stop is not None and self.stop.is_set()):
                return
            tried.update(ids)
            if not self._pass(ids, clock, fixed_clock=now is not None):
                return  # the server is unreachable: the rest waits for a later run

    def _outage_recorded(self) -> bool:
        with self.session_factory() as session:
            return smtp_outage(session) is not None

    def _probe(self) -> None:
        """Try a connection now; a failure is recorded as the outage going on (rows due are deferred by it)."""
        try:
            self.client = connect(self.settings.smtp)
        except (SmtpError, _Temporary) as exc:
            self._down = exc
            return
        self._used_at = time.monotonic()
        if smtp_up(self.session_factory, self.settings.campaign.tz) is not None:
            self.everything = True

    def _due_by(self, clock: datetime) -> datetime:
        return clock + BACKOFF_CAP if self.everything else clock

    def _connected(self, row: Claimed, ids: list[int], clock: datetime) -> bool:
        """An open connection for ``row`` (claimed); False when the server is unreachable."""
        if self.client is not None and time.monotonic() - self._used_at > RECHECK_AFTER and not _alive(self.client):
            self.close()
        if self.client is not None:
            return True
        tz = self.settings.campaign.tz
        try:
            if self._down is not None:  # the probe of this run failed just now: no second attempt
                raise self._down
            self.client = connect(self.settings.smtp)
        except SmtpError as err:
            _release(self.session_factory, row.id, clock)
            smtp_down(self.session_factory, str(err).removeprefix("smtp: "),
                      "then `mailintake send` delivers every waiting reply at once", tz)
            raise
        except _Temporary as exc:
            self._down = exc  # this sender connects no more (a poll's reply stream: until the next cycle)
            self.result.unreachable = _error_text(exc)
            smtp_down(self.session_factory, self.result.unreachable, WAIT_FIX, tz)
            # every remaining row of the batch waits for the next run
            due_by = self._due_by(clock)
            for pending_id in ids[ids.index(row.id):]:
                pending = row if pending_id == row.id else _claim(self.session_factory, pending_id, clock,
                                                                   self.lease, due_by)
                if pending is not None:
                    _record(self.session_factory, pending, self.settings, clock, self.result, error=exc, quiet=True)
            return False
        if smtp_up(self.session_factory, tz) is not None:
            self.everything = True  # the outage is over: whatever waits goes now, not at its retry time
        return True

    def _pass(self, ids: list[int], clock: datetime, *, fixed_clock: bool) -> bool:
        for row_id in ids:
            if self.stop is not None and self.stop.is_set():
                return False
            row = _claim(self.session_factory, row_id, clock, self.lease, self._due_by(clock))
            if row is None:
                continue
            if not self._connected(row, ids, clock):
                return False
            assert self.client is not None
            try:
                note = _send(self.client, self.envelope_from, row)
            except (_Temporary, _Permanent) as exc:
                log.warning("outbox %s: %s", row_id, exc)
                _record(self.session_factory, row, self.settings, clock, self.result, error=exc)
                if not _alive(self.client):
                    self.close()
                continue
            finally:
                self._used_at = time.monotonic()
            _record(self.session_factory, row, self.settings, clock if fixed_clock else utcnow(), self.result,
                    note=note)
        return True


def deliver_due(
    settings: Settings, session_factory: sessionmaker[Session], *, now: datetime | None = None,
    limit: int | None = None, everything: bool = False,
) -> DeliveryResult:
    """Send every pending row due by ``now`` (at most ``limit``, if given) over one SMTP connection;
    ``everything``: every waiting row, whatever its backoff (``mailintake send`` run by hand).

    Raises SmtpError only for what the operator must fix (login refused, untrusted certificate);
    network trouble and 4xx answers are recorded on the rows and retried later.
    """
    delivery = _Delivery(settings, session_factory, everything=everything)
    try:
        delivery.run(now, limit)
    finally:
        delivery.close()
    return delivery.result


class ReplyStream:
    """Deliver replies in a thread while the intake commits them: replies stream during a poll.

    Use as a context manager around the poll and call :meth:`nudge` after each commit. The thread
    uses the same claims, leases and records as :func:`deliver_due`, over one SMTP connection kept
    open between passes; only the timing changes. Leaving the block makes a last pass, so every
    reply committed inside it has been tried when :meth:`finish` returns (unless ``stop`` is set).
    """

    def __init__(self, settings: Settings, session_factory: sessionmaker[Session], *,
                 stop: threading.Event | None = None, interval: float = 5.0) -> None:
        self._delivery = _Delivery(settings, session_factory, stop)
        self._interval = interval
        self._wake = threading.Event()
        self._wake.set()  # a first pass at once: replies already due
        self._finishing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reply-stream", daemon=True)
        self.error: SmtpError | None = None

    def __enter__(self) -> ReplyStream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._finishing.set()
        self._wake.set()
        self._thread.join()

    def nudge(self) -> None:
        """A reply was committed: deliver it soon."""
        self._wake.set()

    def finish(self) -> DeliveryResult:
        """What the stream delivered; raises the SmtpError that stopped it, if any."""
        if self.error is not None:
            raise self.error
        return self._delivery.result

    def outcome(self) -> DeliveryResult | None:
        """What the stream delivered, its errors logged (None after an SmtpError)."""
        if self.error is not None:
            log.debug("delivery stopped: %s", self.error)  # logged once as the SMTP outage
            return None
        for error in self._delivery.result.errors:
            log.warning("delivery: %s", error)
        return self._delivery.result

    def _run(self) -> None:
        try:
            while True:
                if not self._finishing.is_set():
                    self._wake.wait(self._interval)
                last = self._finishing.is_set()
                self._wake.clear()
                try:
                    self._delivery.run()
                except SmtpError as err:  # the operator must act: stop trying until the next run
                    self.error = err
                    return
                except Exception:
                    log.exception("delivery failed unexpectedly")
                if last:
                    return
        finally:
            self._delivery.close()
