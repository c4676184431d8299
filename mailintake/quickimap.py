"""Is there new mail? One short stdlib IMAP session (LOGIN, EXAMINE) for the idle poll.

The answer mirrors what the full poll does with :class:`mailintake.mailbox.MailboxClient`: the folder's
UIDVALIDITY, and whether a UID above the last one recorded exists (UIDNEXT first, ``UID SEARCH UID n:*``
when UIDNEXT is missing or above it). The session never changes anything (EXAMINE is a read-only SELECT,
no FETCH). Any failure returns None: the full poll then runs and reports it as usual.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import re
import socket
from dataclasses import dataclass

from mailintake import __version__
from mailintake.quicksettings import QuickMailbox
from mailintake.util.tls import client_context

log = logging.getLogger(__name__)

#: a folder name sent as an IMAP atom; others are quoted, non-ASCII ones (modified UTF-7) left to the full poll
_ATOM = re.compile(r"^[A-Za-z0-9._/&+-]+$")
_PRINTABLE = re.compile(r"^[\x20-\x7e]+$")


@dataclass(frozen=True)
class FolderNews:
    """What the server said about the watched folder."""

    uidvalidity: int
    #: a message with a UID above the last one recorded exists
    new_mail: bool


def _folder_argument(name: str) -> str | None:
    if _ATOM.match(name):
        return name
    if _PRINTABLE.match(name):
        return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return None


def _connect(settings: QuickMailbox) -> imaplib.IMAP4:
    host, port, timeout = settings.host, settings.effective_port, settings.timeout
    if settings.security == "ssl":
        context = client_context(settings.ca_file, settings.verify_tls)
        imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=timeout)
    else:
        imap = imaplib.IMAP4(host, port, timeout=timeout)
        if settings.security == "starttls":
            imap.starttls(client_context(settings.ca_file, settings.verify_tls))
    with contextlib.suppress(OSError):
        imap.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return imap


def _capabilities(imap: imaplib.IMAP4) -> set[str]:
    """The greeting's capabilities plus any the server announced after LOGIN."""
    names = {str(c).upper() for c in imap.capabilities}
    for line in imap.untagged_responses.get("CAPABILITY", []):
        if isinstance(line, bytes):
            names.update(part.upper() for part in line.decode("ascii", "replace").split())
    return names


def _send_id(imap: imaplib.IMAP4) -> None:
    """163/126 refuse SELECT ("Unsafe Login") until the client identifies itself."""
    imaplib.Commands.setdefault("ID", ("NONAUTH", "AUTH", "SELECTED", "LOGOUT"))
    fields = f'("name" "mailintake" "version" "{__version__}" "vendor" "mailintake")'
    imap._simple_command("ID", fields)


def _number(imap: imaplib.IMAP4, code: str) -> int | None:
    _typ, values = imap.response(code)
    try:
        return int(values[-1]) if values and values[-1] is not None else None
    except (TypeError, ValueError):
        return None


def _uids_above(imap: imaplib.IMAP4, last_uid: int) -> bool:
    """``UID SEARCH UID n:*`` also matches the highest UID when it is below n: filter the answer."""
    typ, data = imap.uid("SEARCH", f"UID {max(0, last_uid) + 1}:*")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"UID SEARCH: {typ}")
    found = b" ".join(part for part in data if isinstance(part, bytes)).split()
    return any(int(uid) > last_uid for uid in found)


def folder_news(settings: QuickMailbox, last_uid: int) -> FolderNews | None:
    """UIDVALIDITY of the watched folder and whether mail above ``last_uid`` is there; None: cannot tell."""
    folder = _folder_argument(settings.folder)
    if folder is None or not settings.username:
        return None
    try:
        imap = _connect(settings)
    except (OSError, imaplib.IMAP4.error) as exc:
        log.debug("quick check: cannot connect to %s:%s (%s)", settings.host, settings.effective_port, exc)
        return None
    try:
        if "LOGINDISABLED" in _capabilities(imap):
            return None
        imap.login(settings.username, settings.password)
        if "ID" in _capabilities(imap):
            _send_id(imap)
        typ, _data = imap.select(folder, readonly=True)
        uidvalidity = _number(imap, "UIDVALIDITY")
        if typ != "OK" or uidvalidity is None:
            return None
        uidnext = _number(imap, "UIDNEXT")
        if uidnext is not None and last_uid + 1 >= uidnext:
            return FolderNews(uidvalidity, new_mail=False)
        return FolderNews(uidvalidity, new_mail=_uids_above(imap, last_uid))
    except (OSError, imaplib.IMAP4.error, ValueError, UnicodeError) as exc:
        log.debug("quick check: IMAP said %s", str(exc).replace(settings.password or "\0", "***"))
        return None
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            imap.logout()  # closes the socket whatever the server answers
