"""IMAP failures as one-line :class:`~mailintake.errors.MailboxError` s that name the fix.

imapclient, imaplib, ssl and socket each raise their own exceptions; :func:`wrap` turns any of
them into one line without secrets. Network-level trouble (refused, timed out, connection lost)
becomes the subclass :class:`MailboxUnavailable`: retrying later may work.
"""

from __future__ import annotations

import imaplib
import socket
import ssl

from imapclient.exceptions import IMAPClientError

from mailintake.errors import MailboxError
from mailintake.util.text import one_line


class MailboxUnavailable(MailboxError):
    """Raised when the IMAP server cannot be reached or the connection drops; a later retry may work."""


def imap_text(value: object, limit: int = 200) -> str:
    text = one_line(value)
    if text.startswith("b'") or text.startswith('b"'):  # imapclient's errors carry a bytes repr
        text = text[2:-1]
    return one_line(text, limit, ellipsis=True)


def login_hint(host: str) -> str:
    host = host.lower()
    if host.endswith("qq.com"):
        return " (QQ Mail needs the 授权码 from 设置 → 账户 → IMAP/SMTP服务, not the QQ password)"
    if host.endswith(("163.com", "126.com", "yeah.net")):
        return " (NetEase Mail needs the 客户端授权密码, not the web password)"
    return ""


def login_failed(exc: BaseException, target: str, host: str, user: str, password: str) -> MailboxError:
    """A refused LOGIN, the password masked, with the provider's hint."""
    reason = imap_text(exc)
    if password:
        reason = reason.replace(password, "***")
    return MailboxError(
        f"IMAP login to {target} failed for user {user} ({reason}): check [mailbox] username/password"
        f"{login_hint(host)}"
    )


def _lost(target: str, during: str, reason: str) -> MailboxUnavailable:
    return MailboxUnavailable(
        f"IMAP connection to {target} lost during {during} ({reason}): check the network; the next poll retries"
    )


def network_error(exc: BaseException, target: str, during: str) -> MailboxError:
    """Translate a socket/TLS-level exception into one line naming the fix."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = imap_text(exc.verify_message or exc.reason or exc)
        return MailboxError(
            f"TLS certificate verification failed for {target} ({reason}): check [mailbox] host, "
            "or set [mailbox] ca_file for a private certificate authority"
        )
    if isinstance(exc, ssl.SSLError):
        reason = imap_text(exc.reason or exc)
        return MailboxError(
            f"TLS handshake with {target} failed ({reason}): check [mailbox] security and port "
            '(security = "ssl" uses port 993, "starttls" port 143)'
        )
    if isinstance(exc, socket.gaierror):
        return MailboxUnavailable(
            f"cannot connect to {target} (host name not found): check [mailbox] host and the network"
        )
    if isinstance(exc, TimeoutError | socket.timeout):
        reason = "timed out"
    elif isinstance(exc, ConnectionRefusedError):
        reason = "connection refused"
    else:
        reason = imap_text(getattr(exc, "strerror", None) or exc) or type(exc).__name__
    if during == "connect":
        return MailboxUnavailable(f"cannot connect to {target} ({reason}): check [mailbox] host/port and the network")
    return _lost(target, during, reason)


def wrap(exc: BaseException, target: str, during: str) -> MailboxError:
    """Any exception from imapclient/imaplib/socket → MailboxError (one line, no secrets)."""
    if isinstance(exc, MailboxError):
        return exc
    if isinstance(exc, imaplib.IMAP4.abort):  # before IMAPClientError: abort is a subclass
        if isinstance(exc.__context__, OSError):
            return network_error(exc.__context__, target, during)
        return _lost(target, during, imap_text(exc).split(" => ", 1)[-1])  # imapclient prefixes "command: FETCH => "
    if isinstance(exc, OSError | EOFError):
        return network_error(exc, target, during)
    if isinstance(exc, IMAPClientError):
        return MailboxError(f"IMAP server {target} refused {during}: {imap_text(exc)}")
    return MailboxError(f"IMAP {during} with {target} failed: {type(exc).__name__}: {imap_text(exc)}")
