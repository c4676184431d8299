"""IMAP IDLE (RFC 2177) on an imapclient connection, reading whole lines only (``MailboxClient.idle_wait``).

imapclient's ``idle()`` refuses an untagged response that arrives before the ``+`` continuation, and
its ``idle_check()`` reads from a non-blocking socket, so a line that arrives in two pieces can be
split (``* 1 FETCH (`` … ``FLAGS ())``) and the stream goes out of step. Here the socket stays
blocking (with the read timeout) for every read; the wait for the next line is a ``select`` on the
socket after checking the bytes already buffered. Any untagged response is accepted at any point:
the server may send EXISTS, EXPUNGE, FETCH, FLAGS, RECENT or OK at will during IDLE.
"""

from __future__ import annotations

import re
import select
import time
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

_LITERAL = re.compile(rb"\{(\d+)\}$")
_EXISTS = re.compile(rb"^\* \d+ EXISTS$", re.IGNORECASE)


def _line(imap: Any) -> bytes:
    """One whole response line (a trailing literal read in with it), CRLF stripped."""
    line: bytes = imap._get_line()
    while (match := _LITERAL.search(line)) is not None:
        literal: bytes = imap.read(int(match.group(1)))
        line = line + b"\r\n" + literal + imap._get_line()
    return line


def _buffered(client: IMAPClient) -> bool:
    """True when response bytes are already waiting (in the reader's buffer or on the socket)."""
    sock = client.socket()
    sock.setblocking(False)
    try:
        return bool(client._imap.file.peek(1))
    except OSError:  # nothing yet (BlockingIOError, SSLWantReadError)
        return False
    finally:
        client._set_read_timeout()


def _wait_readable(client: IMAPClient, seconds: float) -> bool:
    if seconds <= 0:
        return _buffered(client)
    return _buffered(client) or bool(select.select([client.socket()], [], [], seconds)[0])


def idle_wait(client: IMAPClient, timeout: float) -> tuple[bool, list[bytes]]:
    """IDLE up to ``timeout`` s; (new mail arrived, the untagged lines received). Returns early on EXISTS.

    (False, []) when the server refuses IDLE. Network errors propagate (imaplib abort, OSError).
    """
    imap: Any = client._imap
    tag = imap._command("IDLE")
    untagged: list[bytes] = []
    while True:  # up to the continuation: untagged responses may come first
        line = _line(imap)
        if line.startswith(b"+"):
            break
        if line.startswith(tag + b" "):
            imap.tagged_commands.pop(tag, None)
            return False, []
        untagged.append(line)
    deadline = time.monotonic() + timeout
    while not any(_EXISTS.match(line) for line in untagged):
        if not _wait_readable(client, deadline - time.monotonic()):
            break
        untagged.append(_line(imap))
    imap.send(b"DONE\r\n")
    while True:
        line = _line(imap)
        if line.startswith(tag + b" "):
            imap.tagged_commands.pop(tag, None)
            if not line[len(tag) + 1:].upper().startswith(b"OK"):
                raise IMAPClientError(f"IDLE ended with {line.decode('utf-8', 'replace')}")
            break
        untagged.append(line)
    return any(_EXISTS.match(line) for line in untagged), untagged
