"""What the intake stages hand each other, in order: fetch → read → parse → decide → record.

Frozen dataclasses only: a stage takes these types from here, never from the stage that made them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from mailintake.db.vocabulary import MailStatus
from mailintake.mail.model import Attachment, ParsedMail
from mailintake.rules.base import FileOutcome, Findings
from parsers.records import FileResult, Flag


@dataclass(frozen=True)
class FetchedMail:
    """A mail as it came from IMAP. ``raw`` is None when it was too large to fetch."""

    folder: str
    uidvalidity: int
    uid: int
    received_at: dt.datetime
    size: int
    raw: bytes | None
    header: bytes = b""


@dataclass(frozen=True)
class StoredFile:
    """One candidate file of a mail, kept in storage."""

    attachment: Attachment
    sha256: str
    storage_path: str | None


@dataclass(frozen=True)
class ReadMail:
    """A fetched mail, read. ``error`` set: reading it broke (recorded as failed, retried later)."""

    fetched: FetchedMail
    sha256: str
    raw_path: str | None
    mail: ParsedMail
    #: the files to parse (none for ignored mail)
    files: tuple[StoredFile, ...] = ()
    #: what the before-parse rules found (an ignore reason)
    screened: Findings = field(default_factory=Findings)
    #: the id of an already recorded mail with the same bytes (nothing to read, parse or answer)
    duplicate_of: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class ParsedFiles:
    """A read mail and what the parser made of each of its files (same order as ``read.files``)."""

    read: ReadMail
    results: tuple[FileResult, ...] = ()


@dataclass(frozen=True)
class Decision:
    """What the rules made of a mail: its status, its mail-level flags, all findings, its files."""

    status: MailStatus
    flags: tuple[Flag, ...]
    found: Findings
    files: tuple[FileOutcome, ...]
