"""Open a logged-in IMAP session for ``[mailbox]``: TCP without Nagle, TLS or STARTTLS, LOGIN, ID.

TLS by default with certificate and host-name checks; connect and read timeouts; INTERNALDATE
stays timezone-aware (``normalise_times`` off). Every failure is one MailboxError line naming the
fix, the password never in it.
"""

from __future__ import annotations

import imaplib
import logging
import socket
import ssl

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.imapclient import SocketTimeout

from mailintake import __version__
from mailintake.config.settings import MailboxSettings
from mailintake.errors import MailboxError
from mailintake.mailbox.errors import imap_text, login_failed, wrap
from mailintake.util.tls import client_context

log = logging.getLogger("mailintake.mailbox")

CONNECT_TIMEOUT = 20.0


def target_of(settings: MailboxSettings) -> str:
    return f"{settings.host}:{settings.effective_port}"


def open_session(settings: MailboxSettings) -> IMAPClient:
    """Connect, upgrade to TLS as configured, log in and send ID when offered."""
    security, target = settings.security, target_of(settings)
    timeout = SocketTimeout(connect=min(CONNECT_TIMEOUT, settings.timeout), read=settings.timeout)
    context = _ssl_context(settings) if security != "none" else None
    log.debug("connecting to %s (%s)", target, security)
    try:
        imap = IMAPClient(settings.host, port=settings.effective_port, ssl=security == "ssl", ssl_context=context,
                          timeout=timeout)
    except Exception as exc:
        raise wrap(exc, target, "connect") from None
    imap.normalise_times = False
    _no_delay(imap)
    try:
        if security == "starttls":
            _starttls(imap, context, target)
        _login(imap, settings, target)
        _send_id(imap, target)
    except BaseException:
        close_session(imap)
        raise
    return imap


def close_session(imap: IMAPClient) -> None:
    """Log out (never CLOSE, which would expunge); a dead connection is just shut."""
    try:
        imap.logout()
    except Exception:
        try:
            imap.shutdown()
        except Exception:
            log.debug("closing the IMAP socket failed", exc_info=True)


def _ssl_context(settings: MailboxSettings) -> ssl.SSLContext:
    try:
        return client_context(settings.ca_file, settings.verify_tls)
    except (OSError, ssl.SSLError) as exc:
        raise MailboxError(
            f"cannot read [mailbox] ca_file {settings.ca_file} ({imap_text(exc.strerror or exc)}): "
            "fix the path or remove it"
        ) from None


def _starttls(imap: IMAPClient, context: ssl.SSLContext | None, target: str) -> None:
    try:
        offered = imap.has_capability("STARTTLS")
    except Exception as exc:
        raise wrap(exc, target, "CAPABILITY") from None
    if not offered:
        raise MailboxError(
            f'IMAP server {target} does not offer STARTTLS: set [mailbox] security = "ssl" '
            "(port 993) or check [mailbox] port"
        )
    try:
        imap.starttls(context)
    except Exception as exc:
        raise wrap(exc, target, "STARTTLS") from None
    _no_delay(imap)


def _no_delay(imap: IMAPClient) -> None:
    """imaplib writes a command in several pieces: without TCP_NODELAY, Nagle's algorithm and
    the server's delayed ACK add ~40 ms to every command."""
    try:
        imap.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        log.debug("cannot set TCP_NODELAY", exc_info=True)


def _login(imap: IMAPClient, settings: MailboxSettings, target: str) -> None:
    user = settings.username
    if not user:
        raise MailboxError("[mailbox] username is empty: set it to the mailbox address")
    try:
        if imap.has_capability("LOGINDISABLED"):
            raise MailboxError(
                f"IMAP server {target} refuses to log in without TLS: "
                'set [mailbox] security = "ssl" or "starttls"'
            )
        imap.login(user, settings.password)
    except LoginError as exc:
        raise login_failed(exc, target, settings.host, user, settings.password) from None
    except Exception as exc:
        raise wrap(exc, target, "LOGIN") from None
    log.debug("logged in to %s as %s", target, user)


def _send_id(imap: IMAPClient, target: str) -> None:
    """163/126 refuse SELECT ("Unsafe Login") until the client identifies itself."""
    try:
        if not imap.has_capability("ID"):
            return
        imap.id_({"name": "mailintake", "version": __version__, "vendor": "mailintake"})
    except (imaplib.IMAP4.abort, OSError) as exc:
        raise wrap(exc, target, "ID") from None
    except IMAPClientError as exc:  # a refused ID is not fatal by itself; SELECT will tell
        log.warning("IMAP server %s refused the ID command: %s", target, imap_text(exc))
