"""One exceptions module. Each error a user can cause carries a one-line message naming the fix."""

from __future__ import annotations


class MailintakeError(Exception):
    """Base class; ``str(err)`` is one line meant for the operator. ``exit_code`` for the CLI."""

    exit_code = 1


class ConfigError(MailintakeError):
    """Raised when the configuration file or an environment override is missing or invalid."""

    exit_code = 2


class MailboxError(MailintakeError):
    """Raised when the IMAP server cannot be reached, refuses the login or the folder."""

    exit_code = 3


class MailboxLoginRefused(MailboxError):
    """Raised when the IMAP server refuses the credentials: retrying cannot heal it and gets accounts locked."""


class SmtpError(MailintakeError):
    """Raised when the SMTP server cannot be reached or refuses the login."""

    exit_code = 4


class DatabaseError(MailintakeError):
    """Raised when the database cannot be opened, upgraded or is locked by another worker."""

    exit_code = 5


class StorageError(MailintakeError):
    """Raised when the storage directory cannot be written."""

    exit_code = 6


class WorkerBusyError(DatabaseError):
    """Raised when another worker already holds this database's lock; ``pid`` is the holder's, when known."""

    exit_code = 7

    def __init__(self, message: str, pid: int | None = None) -> None:
        super().__init__(message)
        self.pid = pid
