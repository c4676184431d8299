"""The intake's orchestrator: one poll (fetch → read → parse → decide → record) and a reprocess.

Crash safety: each mail is written in one transaction together with its ledger row, its reply
and the folder's ``last_uid``; a killed poll redoes at most the mails not yet committed, and the
ledger's unique (folder, UIDVALIDITY, UID) plus the (Message-ID, SHA-256) identity make a redo
record nothing twice. Mail on the server is only ever read with BODY.PEEK[]; the optional
flag/move happens after the commit.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from mailintake.campaign.identity import load_unit_namer
from mailintake.config.settings import Settings
from mailintake.db.audit import Actor, record_action
from mailintake.db.models import MailboxState, Message, PollRun, utcnow
from mailintake.db.storage import Storage
from mailintake.db.vocabulary import MailStatus
from mailintake.errors import ConfigError, MailintakeError
from mailintake.intake import fetch, parse, read, record
from mailintake.intake.fetch import FetchedBatch
from mailintake.intake.model import FetchedMail, ParsedFiles, ReadMail
from mailintake.intake.sandbox import ParserPool
from mailintake.mailbox.client import MailboxClient

log = logging.getLogger("mailintake.pipeline")

MAX_ATTEMPTS = 3


@dataclass
class PollResult:
    """What one poll did."""

    fetched: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # new messages by status
    duplicates: int = 0
    retried: int = 0
    errors: list[str] = field(default_factory=list)
    duration: float = 0.0
    rescanned: bool = False

    def summary(self) -> dict[str, Any]:
        return {
            "fetched": self.fetched,
            "counts": dict(self.counts),
            "duplicates": self.duplicates,
            "retried": self.retried,
            "errors": list(self.errors),
            "duration": round(self.duration, 3),
            "rescanned": self.rescanned,
        }


def make_pool(settings: Settings) -> ParserPool:
    """Parser children and warm LibreOffice instances, both started on first need."""
    from mailintake.convert import OfficePool, pool_settings

    return ParserPool(memory_mb=settings.limits.parse_memory_mb, timeout=settings.limits.parse_timeout,
                      office=OfficePool(pool_settings(settings.limits)))


class IntakeCycle:
    """State of one poll: the settings, the database, the storage and the parser pool.

    ``process_batch`` is the intake path for a batch of fetched mails (the benchmarks fill databases with it)."""

    def __init__(self, settings: Settings, session_factory: sessionmaker[Session], pool: ParserPool,
                 on_commit: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self.on_commit = on_commit
        self.session_factory = session_factory
        self.storage = Storage(settings.path(settings.storage.dir))
        self.pool = pool
        self.unit_namer = load_unit_namer(settings)
        self.result = PollResult()
        self.counter: Counter[str] = Counter()

    def process_batch(self, fetched: list[FetchedMail], stop: threading.Event | None = None) -> list[int]:
        """Read, parse (in child processes) and record a batch; return the UIDs committed."""
        return self.commit_batch(self.prepare_batch(fetched), stop)

    def prepare_batch(self, fetched: list[FetchedMail]) -> list[ParsedFiles]:
        """Store, read and parse a batch (in child processes); nothing is committed yet.

        Safe to run in a thread while the previous batch is committed: it touches the database only to
        look up digests already recorded (a mail recorded meanwhile is caught as a duplicate at commit).
        """
        # the batch's files are fsynced together (in threads, while the children parse) and in place
        # before the first commit refers to them
        with self.storage.batch():
            stored = read.store_raw(fetched, self.storage)
            with self.session_factory() as session:
                known = record.known_digests(session, {digest for digest, _ in stored.values()})
            # a mail already recorded (a rescan after a UIDVALIDITY change, the same mail filed
            # twice) is neither read nor parsed again
            reads = read.read_batch(fetched, stored, known, self.settings, self.storage, self.pool)
            return parse.parse_batch(reads, self.settings, self.pool.parse_many)

    def commit_batch(self, ready: list[ParsedFiles], stop: threading.Event | None = None) -> list[int]:
        """Record a prepared batch, a transaction per mail; return the UIDs committed.

        A stop request ends the batch after the mail being committed; the rest is fetched again
        by the next poll (their UIDs stay above ``last_uid``).
        """
        done: list[int] = []
        engine = self.session_factory.kw["bind"]
        # one pool checkout (and liveness ping) for the batch, not one per mail; a transaction per mail
        with engine.connect() as connection:
            for item in ready:
                if stop is not None and stop.is_set():
                    break
                self.commit_one(item, connection)
                if self.on_commit is not None:
                    self.on_commit()
                done.append(item.read.fetched.uid)
        return done

    def commit_one(self, parsed: ParsedFiles, connection: Connection | None = None) -> None:
        """Record one mail in one transaction. A mail that breaks the record stage is rolled back
        whole and recorded as failed in a second transaction (no savepoint per mail)."""
        item = parsed.read
        bind = {} if connection is None else {"bind": connection}
        try:
            with self.session_factory(**bind) as session, session.begin():
                outcome = self._record(session, parsed)
        except ConfigError:
            raise  # the operator's to fix: the mail stays unrecorded and is read again next poll
        except Exception as exc:
            if isinstance(exc, DBAPIError) and exc.connection_invalidated:
                raise  # the database went away, not the mail's fault: it is read again next poll
            self._record_failure(item, exc, bind)
            outcome = MailStatus.failed
        if outcome == "duplicate":
            self.result.duplicates += 1
        elif outcome is not None:
            self.counter[outcome] += 1

    def _record_failure(self, item: ReadMail, exc: Exception, bind: dict[str, Connection]) -> None:
        log.exception("processing mail UID %s failed", item.fetched.uid)
        with self.session_factory(**bind) as session, session.begin():
            if not record.already_recorded(session, item.fetched):
                record.record_failure(session, item, "".join(traceback.format_exception_only(exc)).strip())

    def _record(self, session: Session, parsed: ParsedFiles) -> str | None:
        """The mail's rows; its status, "duplicate", or None when the ledger already had it."""
        item = parsed.read
        if record.already_recorded(session, item.fetched):
            return None
        if item.error is not None:
            record.record_failure(session, item, item.error)
            return MailStatus.failed
        duplicate_pk = item.duplicate_of
        if duplicate_pk is None:
            duplicate = record.find_duplicate(session, item)
            duplicate_pk = duplicate.id if duplicate is not None else None
        if duplicate_pk is not None:
            record.record_duplicate(session, item.fetched, duplicate_pk)
            return "duplicate"
        return record.store(session, self.settings, parsed, unit_namer=self.unit_namer).status

    def retry_failed(self) -> None:
        with self.session_factory() as session:
            ids = session.scalars(
                select(Message.id).where(
                    Message.status == MailStatus.failed, Message.attempts < MAX_ATTEMPTS, Message.raw_path.is_not(None)
                )
            ).all()
        for message_pk in ids:
            try:
                reprocess_message(self.settings, self.session_factory, message_pk, pool=self.pool, retry=True)
                self.result.retried += 1
                if self.on_commit is not None:
                    self.on_commit()
            except Exception as exc:
                log.warning("retrying message %s failed again: %s", message_pk, exc)
                with self.session_factory() as session, session.begin():
                    message = session.get(Message, message_pk)
                    if message is not None:
                        message.attempts += 1
                        message.error = str(exc)[:2000]

    def poll_folder(self, client: MailboxClient, progress: Callable[[int, int], None] | None,
                    stop: threading.Event | None) -> None:
        """Fetch the folder's new mail group by group; record each group, then flag/move it.

        The children read and parse the next group while this process commits the previous one (the
        stages of one group stay in order, and groups are committed in UID order)."""
        mailbox = self.settings.mailbox
        new = fetch.new_mail(client, lambda uidvalidity: self._resume_after(mailbox.folder, uidvalidity))
        done = 0
        previous: tuple[FetchedBatch, cf.Future[list[ParsedFiles]]] | None = None

        def commit(batch: FetchedBatch, prepared: cf.Future[list[ParsedFiles]]) -> None:
            nonlocal done
            if stop is not None and stop.is_set():
                prepared.cancel()  # not committed: fetched again by the next poll
                return
            committed = self.commit_batch(prepared.result(), stop)
            fetch.mark_processed(client, mailbox, committed)
            done += batch.covered
            if progress is not None:
                progress(done, len(new.uids))

        with cf.ThreadPoolExecutor(1, thread_name_prefix="intake-prepare") as ahead:
            for batch in fetch.fetch_new(client, mailbox, new, stop):
                self.result.fetched += len(batch.mails)
                prepared = ahead.submit(self.prepare_batch, list(batch.mails))
                if previous is not None:
                    commit(*previous)
                previous = (batch, prepared)
            if previous is not None:
                commit(*previous)

    def _resume_after(self, folder: str, uidvalidity: int) -> int:
        """The last UID recorded for the folder: 0 when its UIDVALIDITY changed (a rescan)."""
        with self.session_factory() as session, session.begin():
            state = record.mailbox_state(session, folder)
            if state.uidvalidity != uidvalidity:
                if state.uidvalidity is not None:
                    log.warning("UIDVALIDITY of %s changed (%s -> %s): rescanning the folder",
                                folder, state.uidvalidity, uidvalidity)
                    self.result.rescanned = True
                state.uidvalidity = uidvalidity
                state.last_uid = 0
            return state.last_uid


def poll_once(
    settings: Settings,
    session_factory: sessionmaker[Session],
    *,
    progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
    pool: ParserPool | None = None,
    on_commit: Callable[[], None] | None = None,
    client: MailboxClient | None = None,
) -> PollResult:
    """One cycle against the configured mailbox. Raises MailboxError when it cannot connect/login.

    ``on_commit`` is called after each mail's commit (e.g. :meth:`ReplyStream.nudge`, so its reply
    leaves while the poll goes on). ``client``: a connected MailboxClient kept by the caller (the
    worker's, reused between cycles); without it the poll connects and logs out itself.
    """
    started = time.monotonic()
    own_pool = pool is None
    parser_pool = pool or make_pool(settings)
    cycle = IntakeCycle(settings, session_factory, parser_pool, on_commit)
    cycle.storage.ensure_writable()
    with session_factory() as session, session.begin():
        run = PollRun(started_at=utcnow())
        session.add(run)
        session.flush()
        run_id = run.id
    error: str | None = None
    try:
        if client is not None:
            cycle.poll_folder(client, progress, stop)
        else:
            with MailboxClient(settings.mailbox) as own_client:
                cycle.poll_folder(own_client, progress, stop)
        cycle.retry_failed()
    except Exception as exc:
        error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise
    finally:
        if own_pool:
            parser_pool.close()
        _finish(cycle, session_factory, run_id, time.monotonic() - started, error)
    return cycle.result


def _finish(cycle: IntakeCycle, session_factory: sessionmaker[Session], run_id: int, duration: float,
            error: str | None) -> None:
    """Note the poll's outcome on its PollRun row and on the folder's state."""
    cycle.result.counts = dict(cycle.counter)
    cycle.result.duration = duration
    if error:
        cycle.result.errors.append(error)
    with session_factory() as session, session.begin():
        run_row = session.get(PollRun, run_id)
        if run_row is not None:
            run_row.finished_at = utcnow()
            run_row.counts = cycle.result.summary()
            run_row.error = error
        state = session.scalars(
            select(MailboxState).where(MailboxState.folder == cycle.settings.mailbox.folder)
        ).first()
        if state is not None:
            state.last_poll_at = utcnow()
            state.last_poll_result = cycle.result.summary()


def reprocess_message(
    settings: Settings,
    session_factory: sessionmaker[Session],
    message_pk: int,
    *,
    pool: ParserPool | None = None,
    retry: bool = False,
    actor: Actor | None = None,
) -> str:
    """Re-parse a stored mail; supersede its old submissions; queue a reply only if the outcome changed.

    Returns the new status. With ``actor`` the office action is audited in the same transaction.
    """
    storage = Storage(settings.path(settings.storage.dir))
    own_pool = pool is None
    parser_pool = pool or make_pool(settings)
    try:
        with session_factory() as session, session.begin():
            message = session.get(Message, message_pk)
            if message is None:
                raise MailintakeError(f"no stored mail with id {message_pk}; see `mailintake export`")
            if message.raw_path is None:
                raise MailintakeError(
                    f"mail {message.message_id} was never stored (too large); it cannot be reprocessed"
                )
            raw = storage.get(message.raw_path)
            fetched = FetchedMail(folder=message.folder, uidvalidity=message.uidvalidity, uid=message.uid,
                                  received_at=message.received_at, size=message.size, raw=raw)
            [mail] = read.read_many(parser_pool, [raw], settings)
            [parsed] = parse.parse_batch([read.read_one(fetched, settings, storage, mail=mail)], settings,
                                         parser_pool.parse_many)
            before = message.status
            if retry:
                message.attempts += 1
            record.store(session, settings, parsed, existing=message, unit_namer=load_unit_namer(settings))
            if message.status != before:
                record.enqueue_reply(session, settings, message, again=not retry)
            if actor is not None:
                record_action(session, actor, "reprocess", message_pk=message.id,
                              detail=f"重新处理：{before} → {message.status}")
            return message.status
    finally:
        if own_pool:
            parser_pool.close()
