"""Local mail servers for the tests and the benchmarks — loopback only, no TLS.

* :func:`start_imap_server` — the demo's pymap ("dict" backend) in this process on a background thread.
* :func:`start_dovecot` — a throwaway Dovecot (when installed) with its config, passwd file and
  maildirs under a temporary directory (tests/support/dovecot.py, with its reaper).
* :func:`start_smtp_sink` — the demo's aiosmtpd sink, which can be told to refuse the next commands.
* :func:`append_mail`, :func:`append_many`, :func:`reset_uidvalidity`, :func:`recreate_folder` —
  client-side helpers that work with both IMAP servers.
"""

from mailintake.demo.servers.base import DEFAULT_USERS, ImapServer, free_port
from mailintake.demo.servers.pymap_server import PymapServer as DemoPymapServer
from mailintake.demo.servers.smtp_sink import SinkMessage, SmtpSink, start_smtp_sink
from tests.support.dovecot import DovecotServer, DovecotUnavailable, dovecot_binary, start_dovecot
from tests.support.imap import (
    append_mail,
    append_many,
    folder_uidvalidity,
    recreate_folder,
    reset_pymap_uidvalidity,
)
from tests.support.pymap import FaultyPymapServer as PymapServer
from tests.support.pymap import start_imap_server

__all__ = [
    "DEFAULT_USERS",
    "DovecotServer",
    "DovecotUnavailable",
    "ImapServer",
    "PymapServer",
    "SinkMessage",
    "SmtpSink",
    "append_mail",
    "append_many",
    "dovecot_binary",
    "folder_uidvalidity",
    "free_port",
    "recreate_folder",
    "reset_uidvalidity",
    "start_dovecot",
    "start_imap_server",
    "start_smtp_sink",
]


def reset_uidvalidity(server: ImapServer, folder: str = "INBOX", username: str | None = None) -> int:
    """Give ``folder`` (INBOX too) a new UIDVALIDITY keeping its messages; return the new value.

    As a server does after its index is rebuilt: the messages get fresh UIDs (on pymap the same
    numbers as before, a good trap for code that trusts UIDs across UIDVALIDITY values).
    """
    if isinstance(server, DemoPymapServer):
        return reset_pymap_uidvalidity(server, folder, username or server.username)
    assert isinstance(server, DovecotServer), server
    return server.reset_uidvalidity(folder, username)
