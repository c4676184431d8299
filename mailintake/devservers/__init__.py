"""Local mail servers for the demo, the tests and the benchmarks — loopback only, no TLS.

* :func:`start_imap_server` — pymap's in-memory ("dict") backend running in this process on a
  background thread with its own event loop. Starts in a few milliseconds.
* :func:`start_dovecot` — a throwaway Dovecot (when installed) with its config, passwd file and
  maildirs under a temporary directory.
* :func:`start_smtp_sink` — an aiosmtpd server that keeps every accepted message and can be told
  to refuse the next commands (421/451/550 fault tests).
* :func:`append_mail` and :func:`reset_uidvalidity` — client-side helpers that work with both IMAP
  servers.
"""

from mailintake.devservers.base import DEFAULT_USERS, DovecotUnavailable, ImapServer, free_port
from mailintake.devservers.dovecot import DovecotServer, dovecot_binary, start_dovecot
from mailintake.devservers.imap_helpers import (
    append_mail,
    append_many,
    folder_uidvalidity,
    recreate_folder,
    reset_uidvalidity,
)
from mailintake.devservers.pymap_server import PymapServer, start_imap_server
from mailintake.devservers.smtp_sink import SinkMessage, SmtpSink, start_smtp_sink

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
