"""Append a mail to a local IMAP server (the demo fills its mailbox this way; the tests too)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import UTC, datetime

from mailintake.demo.servers.base import ImapServer


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


def _appended_uid(response: bytes | str) -> int | None:
    text = response.decode("ascii", "replace") if isinstance(response, bytes) else str(response)
    if "[APPENDUID " in text:
        with contextlib.suppress(ValueError, IndexError):
            return int(text.split("[APPENDUID ", 1)[1].split("]", 1)[0].split()[1])
    return None
