"""The intake cycle: fetch new mail, read it, parse its forms, apply the rules, store, queue replies.

Crash safety: each mail is written in one transaction together with its ledger row, its reply
and the folder's ``last_uid``; a killed poll redoes at most the mails not yet committed, and the
ledger's unique (folder, UIDVALIDITY, UID) plus the (Message-ID, SHA-256) identity make a redo
record nothing twice. Mail on the server is only ever read with BODY.PEEK[]; the optional
flag/move happens after the commit.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailintake.config import Settings
from mailintake.db.models import Ledger, MailboxState, Message, PollRun, utcnow
from mailintake.errors import ConfigError, StorageError
from mailintake.intake import (
    FetchedMail,
    PreparedMail,
    find_duplicate,
    known_digests,
    prepare,
    read_job,
    record_duplicate,
    record_failure,
    store,
    unreadable_mail,
)
from mailintake.mail.model import ParsedMail
from mailintake.sandbox import ParseJob, ParserPool
from mailintake.storage import Storage
from mailintake.submissions import load_unit_namer
from mailintake.vocabulary import MailStatus

if TYPE_CHECKING:
    from mailintake.office.audit import Actor

log = logging.getLogger("mailintake.pipeline")

MAX_ATTEMPTS = 3
#: stands in for the parsed content of a mail recognised as a duplicate by its bytes alone
_EMPTY_MAIL = ParsedMail(message_id="", from_addr="", from_name="", subject="")


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


#: the first fetch group of a poll: small, so the first replies of a burst leave within seconds
FIRST_BATCH = 5


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    """Groups of ``size``, ramping up from FIRST_BATCH (5, 10, 20, … ``size``): the first mails of a
    burst are stored and answered before the rest of the first full group is even read."""
    start, step = 0, min(FIRST_BATCH, size)
    while start < len(items):
        yield items[start : start + step]
        start += step
        step = min(size, step * 2)


def make_pool(settings: Settings) -> ParserPool:
    return ParserPool(memory_mb=settings.limits.parse_memory_mb, timeout=settings.limits.parse_timeout)


class _Cycle:
    """State of one poll: the settings, the database, the storage and the parser pool."""

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

    def state(self, session: Session, folder: str) -> MailboxState:
        state = session.scalars(select(MailboxState).where(MailboxState.folder == folder)).first()
        if state is None:
            state = MailboxState(folder=folder, last_uid=0)
            session.add(state)
            session.flush()
        return state

    def process_batch(self, fetched: list[FetchedMail], stop: threading.Event | None = None) -> list[int]:
        """Prepare, parse (in child processes) and store a batch; return the UIDs committed.

        A stop request ends the batch after the mail being committed; the rest is fetched again
        by the next poll (their UIDs stay above ``last_uid``).
        """
        jobs: list[ParseJob] = []
        by_sha: dict[str, int] = {}
        prepared: list[PreparedMail | FetchedMail] = []
        # the batch's files are fsynced together (in threads, while the children parse) and in place
        # before the first commit refers to them
        with self.storage.batch():
            stored = {item.uid: self.storage.put(item.raw) for item in fetched if item.raw is not None}
            with self.session_factory() as session:
                known = known_digests(session, {digest for digest, _ in stored.values()})
            # mails are read in the sandboxed children too; a mail already recorded (a rescan after a
            # UIDVALIDITY change, the same mail filed twice) is neither read nor parsed again
            to_read = [item for item in fetched if item.raw is not None and stored[item.uid][0] not in known]
            read_jobs = [read_job(item.raw or b"", self.settings) for item in to_read]
            mails = self.pool.read_many(
                read_jobs, lambda index, reason: unreadable_mail(read_jobs[index].raw, reason, self.settings))
            read_by_uid = {item.uid: mail for item, mail in zip(to_read, mails, strict=True)}
            for raw_mail in fetched:
                digest_path = stored.get(raw_mail.uid)
                if digest_path is not None and digest_path[0] in known:
                    prepared.append(PreparedMail(raw_mail, digest_path[0], digest_path[1], _EMPTY_MAIL,
                                                 duplicate_of=known[digest_path[0]]))
                    continue
                try:
                    prepared.append(prepare(raw_mail, self.settings, self.storage, jobs, by_sha,
                                            mail=read_by_uid.get(raw_mail.uid), stored=digest_path))
                except StorageError:
                    raise
                except Exception:
                    log.exception("reading mail UID %s failed", raw_mail.uid)
                    prepared.append(raw_mail)
            results = self.pool.parse_many(jobs)
        done: list[int] = []
        for item in prepared:
            if stop is not None and stop.is_set():
                break
            self.commit_one(item, results)
            if self.on_commit is not None:
                self.on_commit()
            done.append(item.fetched.uid if isinstance(item, PreparedMail) else item.uid)
        return done

    def commit_one(self, item: PreparedMail | FetchedMail, results: list[Any]) -> None:
        fetched_mail = item.fetched if isinstance(item, PreparedMail) else item
        with self.session_factory() as session, session.begin():
            already = session.scalars(
                select(Ledger.id).where(
                    Ledger.folder == fetched_mail.folder,
                    Ledger.uidvalidity == fetched_mail.uidvalidity,
                    Ledger.uid == fetched_mail.uid,
                )
            ).first()
            state = self.state(session, fetched_mail.folder)
            state.last_uid = max(state.last_uid, fetched_mail.uid)
            if already is not None:
                return
            if not isinstance(item, PreparedMail):
                record_failure(session, item, "the mail could not be read; see the worker log")
                self.counter["failed"] += 1
                return
            duplicate_pk = item.duplicate_of
            if duplicate_pk is None:
                duplicate = find_duplicate(session, item)
                duplicate_pk = duplicate.id if duplicate is not None else None
            if duplicate_pk is not None:
                record_duplicate(session, fetched_mail, duplicate_pk)
                self.result.duplicates += 1
                return
            try:
                with session.begin_nested():
                    message = store(session, self.settings, item, results, unit_namer=self.unit_namer)
                self.counter[message.status] += 1
            except ConfigError:
                raise  # the operator's to fix: the mail stays unrecorded and is read again next poll
            except Exception as exc:
                log.exception("processing mail UID %s failed", fetched_mail.uid)
                record_failure(session, item, "".join(traceback.format_exception_only(exc)).strip())
                self.counter["failed"] += 1

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


def poll_once(
    settings: Settings,
    session_factory: sessionmaker[Session],
    *,
    progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
    pool: ParserPool | None = None,
    on_commit: Callable[[], None] | None = None,
    client: Any = None,
) -> PollResult:
    """One cycle against the configured mailbox. Raises MailboxError when it cannot connect/login.

    ``on_commit`` is called after each mail's commit (e.g. :meth:`ReplyStream.nudge`, so its reply
    leaves while the poll goes on). ``client``: a connected MailboxClient kept by the caller (the
    worker's, reused between cycles); without it the poll connects and logs out itself.
    """
    from mailintake.mailbox import MailboxClient

    started = time.monotonic()
    own_pool = pool is None
    parser_pool = pool or make_pool(settings)
    cycle = _Cycle(settings, session_factory, parser_pool, on_commit)
    cycle.storage.ensure_writable()
    with session_factory() as session, session.begin():
        run = PollRun(started_at=utcnow())
        session.add(run)
        session.flush()
        run_id = run.id
    error: str | None = None
    try:
        if client is not None:
            _poll_folder(cycle, client, progress, stop)
        else:
            with MailboxClient(settings.mailbox) as own_client:
                _poll_folder(cycle, own_client, progress, stop)
        cycle.retry_failed()
    except Exception as exc:
        error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise
    finally:
        if own_pool:
            parser_pool.close()
        cycle.result.counts = dict(cycle.counter)
        cycle.result.duration = time.monotonic() - started
        if error:
            cycle.result.errors.append(error)
        with session_factory() as session, session.begin():
            run_row = session.get(PollRun, run_id)
            if run_row is not None:
                run_row.finished_at = utcnow()
                run_row.counts = cycle.result.summary()
                run_row.error = error
            state = session.scalars(
                select(MailboxState).where(MailboxState.folder == settings.mailbox.folder)
            ).first()
            if state is not None:
                state.last_poll_at = utcnow()
                state.last_poll_result = cycle.result.summary()
    return cycle.result


def _poll_folder(cycle: _Cycle, client: Any, progress: Callable[[int, int], None] | None,
                 stop: threading.Event | None) -> None:
    settings = cycle.settings
    folder = settings.mailbox.folder
    uidvalidity = client.select().uidvalidity
    with cycle.session_factory() as session, session.begin():
        state = cycle.state(session, folder)
        if state.uidvalidity != uidvalidity:
            if state.uidvalidity is not None:
                log.warning("UIDVALIDITY of %s changed (%s -> %s): rescanning the folder",
                            folder, state.uidvalidity, uidvalidity)
                cycle.result.rescanned = True
            state.uidvalidity = uidvalidity
            state.last_uid = 0
        last_uid = state.last_uid
    uids = sorted(client.uids_above(last_uid))
    total = len(uids)
    done = 0
    limit = settings.mailbox.max_message_bytes
    for count_batch in _chunks(uids, max(1, settings.mailbox.fetch_batch)):
        if stop is not None and stop.is_set():
            break
        meta = client.fetch_meta(list(count_batch))
        for batch in _by_bytes(count_batch, meta, limit, settings.mailbox.fetch_batch_bytes):
            if stop is not None and stop.is_set():
                break
            done += _fetch_and_process(cycle, client, batch, meta, uidvalidity, stop)
            if progress is not None:
                progress(done, total)


def _by_bytes(uids: Sequence[int], meta: dict[int, Any], max_message: int, budget: int) -> Iterator[list[int]]:
    """Groups of UIDs whose mails together stay within ``budget`` bytes (one oversized mail alone;
    mails over ``max_message`` are only fetched as headers and cost nothing here)."""
    group: list[int] = []
    used = 0
    for uid in uids:
        size = meta[uid].size if uid in meta and meta[uid].size <= max_message else 0
        if group and used + size > budget:
            yield group
            group, used = [], 0
        group.append(uid)
        used += size
    if group:
        yield group


def _fetch_and_process(cycle: _Cycle, client: Any, batch: list[int], meta: dict[int, Any], uidvalidity: int,
                       stop: threading.Event | None) -> int:
    """Fetch one group of mails, process it, flag or move what was committed; return its size."""
    settings = cycle.settings
    folder = settings.mailbox.folder
    limit = settings.mailbox.max_message_bytes
    small = [uid for uid in batch if uid in meta and meta[uid].size <= limit]
    large = [uid for uid in batch if uid in meta and meta[uid].size > limit]
    raws = client.fetch_raw(small) if small else {}
    headers = _fetch_headers(client, large) if large else {}
    fetched = [
        FetchedMail(folder=folder, uidvalidity=uidvalidity, uid=uid, received_at=meta[uid].internaldate,
                    size=meta[uid].size, raw=raws.get(uid), header=headers.get(uid, b""))
        for uid in batch
        if uid in meta and (uid in raws or uid in headers)
    ]
    cycle.result.fetched += len(fetched)
    committed = cycle.process_batch(fetched, stop)
    if settings.mailbox.processed_action != "none" and committed:
        client.mark_processed(committed, settings.mailbox.processed_action,
                              settings.mailbox.processed_flag, settings.mailbox.processed_folder)
    return len(batch)


def _fetch_headers(client: Any, uids: list[int]) -> dict[int, bytes]:
    """Only the header of a mail too large to read: enough to record and answer it."""
    try:
        response = client.imap.fetch(uids, [b"BODY.PEEK[HEADER]"])
    except Exception as exc:  # a dropped connection is a one-line MailboxError like every other fetch
        raise client._wrap(exc, "FETCH") from None
    return {uid: bytes(data.get(b"BODY[HEADER]", b"")) for uid, data in response.items()}


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
    from mailintake.errors import MailintakeError

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
            jobs: list[ParseJob] = []
            job = read_job(raw, settings)
            mail = parser_pool.read_many([job], lambda _index, reason: unreadable_mail(raw, reason, settings))[0]
            prepared = prepare(fetched, settings, storage, jobs, {}, mail=mail)
            results = parser_pool.parse_many(jobs)
            before = message.status
            if retry:
                message.attempts += 1
            store(session, settings, prepared, results, existing=message, enqueue=False,
                  unit_namer=load_unit_namer(settings))
            if message.status != before:
                from mailintake.intake import enqueue_reply

                enqueue_reply(session, settings, message, again=not retry)
            if actor is not None:
                from mailintake.office.audit import record_action

                record_action(session, actor, "reprocess", message_pk=message.id,
                              detail=f"重新处理：{before} → {message.status}")
            return message.status
    finally:
        if own_pool:
            parser_pool.close()
