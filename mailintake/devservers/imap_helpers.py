"""Client-side helpers that work with every local IMAP server: append, UIDVALIDITY resets."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from mailintake.devservers.base import ImapServer


def append_mail(
    server: ImapServer,
    raw: bytes,
    internaldate: datetime | None = None,
    folder: str = "INBOX",
    flags: Iterable[str | bytes] = (),
    username: str | None = None,
) -> int | None:
    """APPEND one message (INTERNALDATE defaults to now, UTC); returns its UID when the server says."""
    when = internaldate or datetime.now(UTC)
    imap = server.client(username)
    try:
        if folder.upper() != "INBOX" and not imap.folder_exists(folder):
            imap.create_folder(folder)
        response = imap.append(folder, raw, flags=tuple(flags), msg_time=when)
    finally:
        with contextlib.suppress(Exception):
            imap.logout()
    return _appended_uid(response)


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


def _appended_uid(response: bytes | str) -> int | None:
    text = response.decode("ascii", "replace") if isinstance(response, bytes) else str(response)
    if "[APPENDUID " in text:
        with contextlib.suppress(ValueError, IndexError):
            return int(text.split("[APPENDUID ", 1)[1].split("]", 1)[0].split()[1])
    return None


def reset_uidvalidity(server: ImapServer, folder: str = "INBOX", username: str | None = None) -> int:
    """Give ``folder`` (INBOX too) a new UIDVALIDITY keeping its messages; return the new value.

    As a server does after its index is rebuilt: the messages get fresh UIDs (on pymap the same
    numbers as before, a good trap for code that trusts UIDs across UIDVALIDITY values).
    """
    return server.reset_uidvalidity(folder, username)


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
