"""Intake stage 1, fetch (IMAP): which UIDs are new, and their bytes in byte-bounded batches.

Mail is only ever read with ``BODY.PEEK[]``; a mail over ``[mailbox] max_message_bytes`` is
fetched as its header only (enough to record and answer it). The first groups of a poll are
small, so the first replies of a burst leave within seconds. ``mark_processed`` runs after the
commit of a batch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from mailintake.config.settings import MailboxSettings
from mailintake.intake.model import FetchedMail
from mailintake.mailbox.client import MailboxClient, MessageMeta


@dataclass(frozen=True)
class NewMail:
    """The selected folder's UIDVALIDITY and the UIDs above the last one recorded, ascending."""

    uidvalidity: int
    uids: tuple[int, ...]


@dataclass(frozen=True)
class FetchedBatch:
    """One group of fetched mails; ``covered`` counts its UIDs, vanished ones included (progress)."""

    mails: tuple[FetchedMail, ...]
    covered: int


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


def _by_bytes(uids: Sequence[int], meta: Mapping[int, MessageMeta], max_message: int,
              budget: int) -> Iterator[list[int]]:
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


def new_mail(client: MailboxClient, resume_after: Callable[[int], int]) -> NewMail:
    """SELECT the folder; the UIDs above ``resume_after(uidvalidity)``, the last UID recorded for it."""
    uidvalidity = client.select().uidvalidity
    return NewMail(uidvalidity, tuple(sorted(client.uids_above(resume_after(uidvalidity)))))


def fetch_new(client: MailboxClient, settings: MailboxSettings, new: NewMail,
              stop: threading.Event | None = None) -> Iterator[FetchedBatch]:
    """The new mails, a byte-bounded group at a time; stops between groups."""
    uidvalidity = new.uidvalidity
    for count_batch in _chunks(new.uids, max(1, settings.fetch_batch)):
        if stop is not None and stop.is_set():
            return
        meta = client.fetch_meta(list(count_batch))
        for group in _by_bytes(count_batch, meta, settings.max_message_bytes, settings.fetch_batch_bytes):
            if stop is not None and stop.is_set():
                return
            yield _fetch_group(client, settings, group, meta, uidvalidity)


def _fetch_group(client: MailboxClient, settings: MailboxSettings, group: list[int],
                 meta: Mapping[int, MessageMeta], uidvalidity: int) -> FetchedBatch:
    limit = settings.max_message_bytes
    small = [uid for uid in group if uid in meta and meta[uid].size <= limit]
    large = [uid for uid in group if uid in meta and meta[uid].size > limit]
    raws = client.fetch_raw(small) if small else {}
    headers = client.fetch_headers(large) if large else {}
    mails = tuple(
        FetchedMail(folder=settings.folder, uidvalidity=uidvalidity, uid=uid, received_at=meta[uid].internaldate,
                    size=meta[uid].size, raw=raws.get(uid), header=headers.get(uid, b""))
        for uid in group
        if uid in meta and (uid in raws or uid in headers)
    )
    return FetchedBatch(mails, len(group))


def mark_processed(client: MailboxClient, settings: MailboxSettings, uids: Sequence[int]) -> None:
    """Flag or move the committed mails as ``[mailbox] processed_action`` says (after the commit)."""
    if settings.processed_action != "none" and uids:
        client.mark_processed(uids, settings.processed_action, settings.processed_flag, settings.processed_folder)
