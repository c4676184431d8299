"""Structured logs to stderr: one ``key=value`` line per event, passwords never written.

A log call passes its fields as ``extra={"fields": {...}}``; they are appended as ``key=value``
pairs after the message, so ``grep``/``journalctl`` users and log shippers both read them.
Every configured password is registered as a secret and masked wherever it would appear.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from collections.abc import Iterable
from typing import IO, Any

_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
_MASK = "***"
#: IMAP LOGIN / SMTP AUTH arguments as they would appear in protocol traces
_PROTOCOL_SECRET = re.compile(r"(?i)(\bLOGIN\s+\S+\s+|\bAUTH\s+\S+\s+|\bpassword[=:]\s*)(\S+)")
_BARE = re.compile(r"^[A-Za-z0-9_.@:/+-]+$")

LEVELS = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}


def register_secret(value: str | None) -> None:
    """Mask ``value`` in every log line from now on."""
    if value and len(value) >= 3:
        with _SECRETS_LOCK:
            _SECRETS.add(value)


def register_settings_secrets(settings: Any) -> None:
    """Register the mailbox, SMTP and database passwords of a Settings object."""
    register_secret(getattr(settings.mailbox, "password", ""))
    register_secret(getattr(settings.smtp, "password", ""))
    register_secret(getattr(getattr(settings, "web", None), "secret_key", ""))
    url = getattr(settings.database, "url", "")
    match = re.match(r"^[^:]+://[^:/@]*:([^@]*)@", url)
    if match:
        register_secret(match.group(1))


def redact(text: str) -> str:
    """``text`` with every registered secret and protocol password argument masked."""
    with _SECRETS_LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, _MASK)
    return _PROTOCOL_SECRET.sub(lambda m: m.group(1) + _MASK, text)


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    text = str(value)
    if text and _BARE.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class KeyValueFormatter(logging.Formatter):
    """``2019-12-16T10:12:05+0800 INFO mailintake.worker poll finished fetched=3 duration=1.204``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(record.created))
        parts = [stamp, record.levelname, record.name, record.getMessage()]
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            parts.extend(f"{key}={_format_value(value)}" for key, value in fields.items())
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact(line)


class _RedactFilter(logging.Filter):
    """Masks secrets in the message even for handlers installed by someone else."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            try:
                record.msg = record.getMessage()
                record.args = None
            except (TypeError, ValueError):
                return True
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


#: chatty third-party loggers and the level they get at each verbosity
_NOISY: dict[str, tuple[int, int, int]] = {
    "apscheduler": (logging.WARNING, logging.WARNING, logging.INFO),
    "imapclient": (logging.WARNING, logging.WARNING, logging.INFO),
    "mail-parser": (logging.ERROR, logging.ERROR, logging.WARNING),
    "mailparser": (logging.ERROR, logging.ERROR, logging.WARNING),
    "pymap": (logging.WARNING, logging.WARNING, logging.WARNING),
    "mail.log": (logging.WARNING, logging.WARNING, logging.WARNING),  # aiosmtpd
    "alembic": (logging.WARNING, logging.WARNING, logging.WARNING),
    "asyncio": (logging.WARNING, logging.WARNING, logging.WARNING),
}


def setup_logging(verbosity: int = 1, stream: IO[str] | None = None, quiet_loggers: Iterable[str] = ()) -> None:
    """Send logs to stderr: 0 = warnings only (--quiet), 1 = info (default), 2 = debug (--verbose)."""
    verbosity = max(0, min(2, verbosity))
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_mailintake", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    handler.addFilter(_RedactFilter())
    handler._mailintake = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(LEVELS[verbosity])
    for name, levels in _NOISY.items():
        logging.getLogger(name).setLevel(levels[verbosity])
    for name in quiet_loggers:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)


def verbosity_of(ctx: Any) -> int:
    """The --verbose/--quiet level the root click group stored in ``ctx.obj``."""
    root = ctx.find_root()
    obj = root.obj or {}
    return int(obj.get("verbosity", 1))
