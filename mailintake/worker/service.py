"""The long-running worker behind ``mailintake run``.

An APScheduler 3.x ``BlockingScheduler`` in the campaign time zone runs three jobs:

* ``poll``    every ``[schedule] poll_interval`` seconds (first run at once): one intake cycle, then
              the replies that became due;
* ``deliver`` every minute: replies whose retry time has come;
* ``report``  daily at ``[report] time``: build the report, queue it for the office, deliver.

All jobs share one work lock, so the database only ever sees one of them at a time; each has
``max_instances=1``, ``coalesce=True`` and ``misfire_grace_time`` so a machine that slept catches up
once. With ``[mailbox] idle = true`` a thread (``worker_idle``) keeps an IMAP IDLE open (re-issued every few minutes)
and asks for an immediate poll when mail arrives; any IDLE trouble only costs latency: the
interval polling goes on. Mailbox errors back the polling off exponentially (capped).

SIGTERM/SIGINT set a stop event that ``poll_once`` checks between mails: the mail in hand is
finished and committed, then the worker exits.

What cannot heal stops the worker with its exit code, so systemd shows the failure: the mailbox refusing
the credentials (3; the first refusal, by the poller or the IDLE thread, ends every further LOGIN — at most
two in total, one per thread) and a campaign file missing or invalid (2; checked at start and whenever the
file changed, before any mail is read). Transient trouble (network, server restart, disk full) is retried.

Heavy modules (APScheduler, the pipeline, the report) are imported inside functions, so importing
this module at CLI start-up is cheap.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any

from mailintake.config.settings import Settings
from mailintake.errors import ConfigError, MailboxError, MailboxLoginRefused, MailintakeError
from mailintake.worker.idle_watch import BACKOFF_MAX, BACKOFF_START, IdleWatcher, backoff_delay

if TYPE_CHECKING:
    from apscheduler.schedulers.blocking import BlockingScheduler
    from sqlalchemy.orm import Session, sessionmaker

    from mailintake.intake.cycle import PollResult
    from mailintake.intake.sandbox import ParserPool
    from mailintake.mailbox.client import MailboxClient
    from mailintake.outbox.sender import DeliveryResult
    from mailintake.report.data import ReportFiles
    from mailintake.worker.outage import MailboxHealth

log = logging.getLogger("mailintake.worker")

DELIVER_INTERVAL = 60


@dataclass
class CycleOutcome:
    """What one worker cycle did (for the log line, the demo and the tests)."""

    poll: PollResult | None = None
    delivery: DeliveryResult | None = None
    error: str | None = None
    duration: float = 0.0
    counts_by_status: dict[str, int] = field(default_factory=dict)
    #: the failure was logged already as the mailbox outage (the cycle's line goes to INFO)
    logged: bool = False


def status_counts(session_factory: sessionmaker[Session]) -> dict[str, int]:
    """Messages by status in the whole database."""
    from sqlalchemy import func, select

    from mailintake.db.models import Message

    with session_factory() as session:
        rows = session.execute(select(Message.status, func.count()).group_by(Message.status)).all()
    return {str(status): int(count) for status, count in sorted(rows)}


def _delivery_fields(result: DeliveryResult) -> dict[str, int]:
    return {"sent": result.sent, "retried": result.retried, "failed": result.failed}


class Worker:
    """Runs the cycles; ``run()`` blocks until a signal or :meth:`request_stop`."""

    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        *,
        stop: threading.Event | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.stop_event = stop or threading.Event()
        self.progress = progress
        self._work_lock = threading.RLock()
        self._poll_again = threading.Event()
        self._polling = False
        self._failures = 0
        self._retry_at = 0.0
        from mailintake.worker.outage import MailboxHealth  # SQLAlchemy: not on the CLI's start-up path

        self._mailbox_health: MailboxHealth = MailboxHealth(session_factory, settings.campaign.tz)
        self._scheduler: BlockingScheduler | None = None
        self._pool: ParserPool | None = None  # kept across cycles (its children start once)
        self._mailbox: MailboxClient | None = None  # kept across cycles (one LOGIN, not one per cycle)
        self._idle: IdleWatcher | None = None
        #: what cannot heal (refused credentials, a broken campaign file): run() raises it once stopped
        self.fatal: MailintakeError | None = None
        self._fatal_lock = threading.Lock()

    @property
    def idle_active(self) -> bool:
        """An IMAP IDLE is open (``[mailbox] idle``)."""
        return self._idle is not None and self._idle.active

    # ------------------------------------------------------------------------------------- cycles

    def fail_fast(self, err: MailintakeError) -> None:
        """Stop the worker for good with ``err``'s exit code (called from any thread; the first error wins)."""
        with self._fatal_lock:
            if self.fatal is not None:
                return
            self.fatal = err
        log.error("stopping: %s", err, extra={"fields": {"exit_code": err.exit_code}})
        threading.Thread(target=self.request_stop, name="stop", daemon=True).start()

    def login_blocked(self) -> MailintakeError | None:
        """The refusal that forbids any further LOGIN (None: logging in is allowed)."""
        return self.fatal

    def poll_cycle(self) -> CycleOutcome | None:
        """Poll (unless backing off), then deliver due replies; one log line. Never raises."""
        if self.stop_event.is_set():
            return None
        now = time.monotonic()
        if now < self._retry_at:
            log.debug("poll skipped: backing off after mailbox errors", extra={"fields": {
                "retry_in": round(self._retry_at - now, 1)}})
            return None
        self._polling = True  # before waiting for the lock: an IDLE arrival meanwhile is taken by this cycle
        try:
            with self._work_lock:
                outcome = self._poll_and_deliver()
                while self._poll_again.is_set() and not self.stop_event.is_set() and outcome.error is None:
                    outcome = self._poll_and_deliver()
        finally:
            self._polling = False
        if self._poll_again.is_set() and not self.stop_event.is_set():
            self._schedule_poll(dt.timedelta(0))  # mail arrived as this cycle was finishing
        return outcome

    def _poll_and_deliver(self) -> CycleOutcome:
        from mailintake.intake.cycle import make_pool, poll_once
        from mailintake.outbox.sender import ReplyStream

        self._poll_again.clear()
        started = time.monotonic()
        outcome = CycleOutcome()
        if self._pool is None:
            self._pool = make_pool(self.settings)
        stream = ReplyStream(self.settings, self.session_factory, stop=self.stop_event)
        try:
            self._check_campaign()
            with stream:  # replies leave while the poll goes on
                outcome.poll = poll_once(self.settings, self.session_factory, progress=self.progress,
                                         stop=self.stop_event, pool=self._pool, on_commit=stream.nudge,
                                         client=self._connected_mailbox())
        except (MailboxLoginRefused, ConfigError) as err:
            self._drop_mailbox()
            outcome.error = str(err)
            self.fail_fast(err)
        except MailboxError as err:
            self._drop_mailbox()
            outcome.error = str(err)
            outcome.logged = True
            self._note_failure(str(err))
        except MailintakeError as err:
            self._drop_mailbox()
            outcome.error = str(err)
            log.error("poll failed: %s", err)
        except Exception as err:  # a bug must not kill the worker; the next cycle tries again
            self._drop_mailbox()
            outcome.error = f"{type(err).__name__}: {err}"
            log.exception("poll failed unexpectedly")
        else:
            self._mailbox_health.up()
            self._failures = 0
            self._retry_at = 0.0
        outcome.delivery = stream.outcome()
        outcome.duration = time.monotonic() - started
        try:
            outcome.counts_by_status = status_counts(self.session_factory)
        except Exception:  # the log line is not worth failing over
            log.debug("could not count messages by status", exc_info=True)
        self._log_cycle(outcome)
        return outcome

    def _check_campaign(self) -> None:
        """The campaign file still loads (read again only when it changed); ConfigError otherwise."""
        from mailintake.campaign.rules import campaign_rules

        campaign_rules(self.settings)

    def _connected_mailbox(self) -> MailboxClient:
        """The IMAP session kept from the last cycle when it still answers NOOP, else a new one."""
        from mailintake.mailbox.client import MailboxClient

        blocked = self.login_blocked()
        if blocked is not None:
            raise blocked
        if self._mailbox is not None:
            try:
                self._mailbox.noop()
                return self._mailbox
            except MailboxError as err:
                log.info("IMAP session lost (%s); logging in again", err)
                self._drop_mailbox()
        self._mailbox = MailboxClient(self.settings.mailbox).connect()
        return self._mailbox

    def _drop_mailbox(self) -> None:
        client, self._mailbox = self._mailbox, None
        if client is not None:
            client.close()

    def close(self) -> None:
        """Release the parser children and the IMAP session (after the last cycle)."""
        with self._work_lock:
            pool, self._pool = self._pool, None
            self._drop_mailbox()
        if pool is not None:
            pool.close()

    def _note_failure(self, reason: str) -> None:
        """Count a mailbox failure, record it (logged once per outage) and schedule the retry."""
        self._failures += 1
        delay = backoff_delay(self._failures, cap=min(BACKOFF_MAX, max(BACKOFF_START, self.poll_interval)))
        self._retry_at = time.monotonic() + delay
        self._mailbox_health.down(reason, self._failures, delay)
        if self._scheduler is not None and delay < self.poll_interval:
            self._schedule_poll(dt.timedelta(seconds=delay))

    def _log_cycle(self, outcome: CycleOutcome) -> None:
        fields: dict[str, Any] = {}
        poll = outcome.poll
        if poll is not None:
            fields["fetched"] = poll.fetched
            for status, count in sorted(poll.counts.items()):
                fields[f"new_{status}"] = count
            fields.update(duplicates=poll.duplicates, retried=poll.retried, errors=len(poll.errors))
        if outcome.delivery is not None:
            fields.update({f"replies_{k}": v for k, v in _delivery_fields(outcome.delivery).items()})
        for status, count in outcome.counts_by_status.items():
            fields[f"total_{status}"] = count
        fields["duration"] = round(outcome.duration, 3)
        if outcome.error:
            fields["error"] = outcome.error
            log.log(logging.INFO if outcome.logged else logging.WARNING, "cycle failed", extra={"fields": fields})
        else:
            log.info("cycle done", extra={"fields": fields})

    def deliver(self) -> DeliveryResult | None:
        """Deliver due replies (skipped while a poll holds the work lock: it delivers afterwards)."""
        if self.stop_event.is_set() or not self._work_lock.acquire(blocking=False):
            return None
        try:
            result = self._deliver_quietly()
        finally:
            self._work_lock.release()
        if result is not None and result.sent + result.failed > 0:
            log.info("replies delivered", extra={"fields": _delivery_fields(result)})
        return result

    def _deliver_quietly(self) -> DeliveryResult | None:
        from mailintake.outbox.sender import deliver_due

        try:
            result = deliver_due(self.settings, self.session_factory)
        except MailintakeError as err:
            log.debug("delivery stopped: %s", err)  # an SMTP outage is logged once, when it starts
            return None
        except Exception:
            log.exception("delivery failed unexpectedly")
            return None
        for error in result.errors:
            log.warning("delivery: %s", error)
        return result

    def daily_report(self, for_date: dt.date | None = None) -> ReportFiles | None:
        """Build today's report, queue it for ``[report] recipients`` and deliver. Never raises."""
        from mailintake.report.build import build_report
        from mailintake.report.mail import queue_report_mail

        with self._work_lock:
            try:
                with self.session_factory() as session:
                    files = build_report(self.settings, session, for_date=for_date)
                    if self.settings.report.recipients:
                        queue_report_mail(self.settings, session, files)
                    session.commit()
            except Exception as err:
                log.exception("daily report failed: %s", err)
                return None
            log.info("daily report written", extra={"fields": {
                "html": str(files.html_path), "xlsx": str(files.xlsx_path),
                "mailed_to": len(self.settings.report.recipients)}})
            self._deliver_quietly()
            return files

    def final_report(self, now: dt.datetime | None = None) -> Any:
        """Write and queue the 截止报告 once it is due (see mailintake.worker.calendar). Never raises."""
        from mailintake.worker.calendar import final_report_job

        with self._work_lock:
            marker = final_report_job(self.settings, self.session_factory, now or dt.datetime.now(dt.UTC))
            if marker is not None:
                self._deliver_quietly()
            return marker

    def scheduled_reminders(self, now: dt.datetime | None = None) -> Any:
        """Queue the reminders (催报) due now and deliver them. Never raises."""
        from mailintake.worker.calendar import reminders_job

        with self._work_lock:
            result = reminders_job(self.settings, self.session_factory, now or dt.datetime.now(dt.UTC))
            self._deliver_quietly()
            return result

    # ---------------------------------------------------------------------------------- scheduling

    @property
    def poll_interval(self) -> int:
        return max(1, int(self.settings.schedule.poll_interval))

    def request_poll(self) -> None:
        """Poll as soon as possible (called by the IDLE thread when mail arrives)."""
        self._poll_again.set()
        if not self._polling:  # a running cycle sees the flag and polls again itself
            self._schedule_poll(dt.timedelta(0))

    def _schedule_poll(self, delay: dt.timedelta) -> None:
        scheduler = self._scheduler
        if scheduler is None or not scheduler.running:
            return
        when = dt.datetime.now(self.settings.campaign.tz) + delay
        try:
            job = scheduler.get_job("poll")
            if job is not None and (job.next_run_time is None or job.next_run_time > when):
                scheduler.modify_job("poll", next_run_time=when)
        except Exception:  # the scheduler is shutting down
            log.debug("could not reschedule the poll", exc_info=True)

    def build_scheduler(self) -> BlockingScheduler:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.blocking import BlockingScheduler
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        tz = self.settings.campaign.tz
        grace = int(self.settings.schedule.misfire_grace)
        scheduler = BlockingScheduler(
            timezone=tz,
            executors={"default": ThreadPoolExecutor(3)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": grace},
        )
        now = dt.datetime.now(tz)
        scheduler.add_job(self.poll_cycle, IntervalTrigger(seconds=self.poll_interval, timezone=tz),
                          id="poll", name="poll", next_run_time=now)
        scheduler.add_job(self.deliver, IntervalTrigger(seconds=DELIVER_INTERVAL, timezone=tz),
                          id="deliver", name="deliver",
                          next_run_time=now + dt.timedelta(seconds=DELIVER_INTERVAL))
        report_at = self.settings.report.time
        scheduler.add_job(self.daily_report, CronTrigger(hour=report_at.hour, minute=report_at.minute, timezone=tz),
                          id="report", name="daily report")
        from mailintake.worker.calendar import add_calendar_jobs

        add_calendar_jobs(scheduler, self.settings, now, self.final_report, self.scheduled_reminders)
        return scheduler

    # ----------------------------------------------------------------------------------------- run

    def request_stop(self) -> None:
        """Finish the mail in hand, then stop (safe from a signal handler or another thread)."""
        if self.stop_event.is_set():
            return
        self.stop_event.set()
        scheduler = self._scheduler
        if scheduler is not None and scheduler.running:
            try:
                scheduler.shutdown(wait=False)
            except Exception:
                log.debug("scheduler already stopped", exc_info=True)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("stopping after the mail in hand", extra={"fields": {"signal": signal.Signals(signum).name}})
        # the scheduler takes locks the interrupted main thread may hold: stop it from another thread
        threading.Thread(target=self.request_stop, name="stop", daemon=True).start()

    def run(self, install_signals: bool = True) -> None:
        """Block until stopped. The caller holds the worker lock."""
        scheduler = self._scheduler = self.build_scheduler()
        if install_signals:
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
        from mailintake.outbox.sender import release_claims

        released = release_claims(self.session_factory)
        if released:
            log.info("replies claimed by a sender that died are due again", extra={"fields": {"count": released}})
        self._first_login()
        if self.settings.mailbox.idle:
            self._idle = IdleWatcher(self.settings, self.stop_event, self.request_poll, self.poll_interval,
                                     fail_fast=self.fail_fast, login_blocked=self.login_blocked)
            self._idle.start()
        log.info("worker started", extra={"fields": {
            "poll_interval": self.poll_interval, "report_at": self.settings.report.time.strftime("%H:%M"),
            "timezone": self.settings.campaign.timezone, "idle": self.settings.mailbox.idle}})
        try:
            if not self.stop_event.is_set():
                scheduler.start()
        finally:
            self.stop_event.set()
            if scheduler.running:
                scheduler.shutdown(wait=False)
            # wait for the cycle in hand: poll_once stops after the current mail
            with self._work_lock:
                pass
            if self._idle is not None:
                self._idle.join(timeout=1.0)
            self.close()
            log.info("worker stopped")
        if self.fatal is not None:
            raise self.fatal

    def _first_login(self) -> None:
        """Log in once before anything else runs: refused credentials stop ``run`` here (exit 3) after one
        LOGIN; an unreachable server is only logged (the polling retries it)."""
        try:
            with self._work_lock:
                self._connected_mailbox()
        except MailboxLoginRefused:
            self.stop_event.set()
            raise
        except MailboxError as err:  # recorded; the first cycle tries again at once
            self._mailbox_health.down(str(err), failures=0, retry_in=0.0)
