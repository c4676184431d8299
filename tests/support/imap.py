"""Test-side IMAP helpers for every local server: bulk append, UIDVALIDITY resets (append_mail is the demo's)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from mailintake.demo.servers.base import ImapServer
from mailintake.demo.servers.imap import append_mail
from mailintake.demo.servers.pymap_server import PymapServer

__all__ = ["append_mail", "append_many", "folder_uidvalidity", "recreate_folder", "reset_pymap_uidvalidity"]


def append_many(
    server: ImapServer,
    mails: Iterable[bytes | tuple[bytes, datetime | None]],
    folder: str = "INBOX",
    chunk: int = 200,
    username: str | None = None,
) -> int:
    """APPEND many messages over one connection (MULTIAPPEND where offered); return how many.

    For benchmarks: 10,000 small mails take a few seconds on pymap.
    """
    imap = server.client(username)
    count = 0
    try:
        if folder.upper() != "INBOX" and not imap.folder_exists(folder):
            imap.create_folder(folder)
        multi = imap.has_capability("MULTIAPPEND")
        batch: list[dict[str, Any]] = []

        def flush() -> None:
            if not batch:
                return
            if multi:
                imap.multiappend(folder, batch)
            else:
                for item in batch:
                    imap.append(folder, item["msg"], msg_time=item["date"])
            batch.clear()

        for mail in mails:
            raw, when = (mail, None) if isinstance(mail, bytes) else mail
            batch.append({"msg": raw, "date": when or datetime.now(UTC)})
            count += 1
            if len(batch) >= chunk:
                flush()
        flush()
    finally:
        with contextlib.suppress(Exception):
            imap.logout()
    return count


def reset_pymap_uidvalidity(server: PymapServer, folder: str, user: str) -> int:
    """pymap's dict backend: a new MailboxData with the same messages, swapped in for the old one."""
    from pymap.backend.dict.mailbox import MailboxData

    async def swap() -> int:
        mailbox_set = server._config.set_cache[user][0]
        old = await mailbox_set.get_mailbox(folder)
        new = MailboxData(old._content_cache, old._thread_cache)
        while new.uid_validity == old.uid_validity:
            new = MailboxData(old._content_cache, old._thread_cache)
        for uid in sorted(old._messages):
            await old.copy(uid, new)
        if folder.upper() == "INBOX":
            mailbox_set._inbox = new
        else:
            mailbox_set._set[folder] = new
        return int(new.uid_validity)

    server.client(user).logout()  # logs in once so the user's mailboxes exist
    server.drop_connections()  # clients holding the old folder selected would see stale state
    return server._loop.run(swap())


def recreate_folder(server: ImapServer, folder: str, username: str | None = None) -> int:
    """Delete and recreate a folder other than INBOX through IMAP, appending its messages back
    (dates and flags kept); return the new UIDVALIDITY. Works on every server."""
    if folder.upper() == "INBOX":
        raise ValueError("INBOX cannot be deleted; use reset_uidvalidity()")
    imap = server.client(username)
    try:
        old = int(imap.select_folder(folder, readonly=True)[b"UIDVALIDITY"])
        uids = imap.search("ALL")
        data = imap.fetch(uids, ["BODY.PEEK[]", "INTERNALDATE", "FLAGS"]) if uids else {}
        imap.select_folder("INBOX", readonly=True)  # leave the folder without CLOSE (which expunges)
        imap.delete_folder(folder)
        while True:
            imap.create_folder(folder)
            new = int(imap.folder_status(folder, ["UIDVALIDITY"])[b"UIDVALIDITY"])
            if new != old:
                break
            imap.delete_folder(folder)  # a clock-based UIDVALIDITY can repeat within one second
            time.sleep(0.2)
        for uid in sorted(data):
            item = data[uid]
            flags = tuple(f for f in item[b"FLAGS"] if f != b"\\Recent")
            imap.append(folder, item[b"BODY[]"], flags=flags, msg_time=item[b"INTERNALDATE"])
        return new
    finally:
        with contextlib.suppress(Exception):
            imap.logout()


def folder_uidvalidity(server: ImapServer, folder: str = "INBOX", username: str | None = None) -> int:
    imap = server.client(username)
    try:
        return int(imap.folder_status(folder, ["UIDVALIDITY"])[b"UIDVALIDITY"])
    finally:
        with contextlib.suppress(Exception):
            imap.logout()
