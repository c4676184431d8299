"""Intake stage 2, read (MIME): raw bytes → ParsedMail, with the raw mail and its files stored.

Mails are read in the sandboxed children (``ParserPool.read_many``); only a too-large mail's
header is read in the worker. A mail the before-parse rules ignore (automatic mail) keeps no
files: it is recorded, never parsed nor answered. A mail already recorded with the same bytes is
not read at all.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence

from mailintake.config.settings import Settings
from mailintake.db.storage import Storage, sha256_hex
from mailintake.errors import StorageError
from mailintake.intake.model import FetchedMail, ReadMail, StoredFile
from mailintake.intake.sandbox import ParserPool, ReadJob
from mailintake.mail.archives import ArchiveLimits
from mailintake.mail.model import ParsedMail
from mailintake.rules.chain import screen
from parsers.records import Flag

log = logging.getLogger("mailintake.pipeline")


def read_in_process(raw: bytes, settings: Settings) -> ParsedMail:
    """Read a mail in this process (a header, or a test's mail)."""
    # imported here: mail.reader pulls in mail-parser, which the worker itself needs only for a
    # too-large mail's header (the children, which read every mail, preload it)
    from mailintake.mail.reader import read_mail

    return read_mail(raw, own_addresses=settings.own_addresses, limits=ArchiveLimits.from_settings(settings.limits))


def read_job(raw: bytes, settings: Settings) -> ReadJob:
    return ReadJob(raw=raw, own_addresses=frozenset(settings.own_addresses),
                   limits=ArchiveLimits.from_settings(settings.limits))


_HEADER_END = re.compile(rb"\r?\n\r?\n")


def unreadable_mail(raw: bytes, reason: str, settings: Settings) -> ParsedMail:
    """What is left of a mail whose reading killed or stalled its child: its header, and a flag."""
    end = _HEADER_END.search(raw, 0, 256 * 1024)
    mail = read_in_process(raw[: end.end() if end else 256 * 1024], settings)
    mail.attachments = []
    mail.flags.append(Flag("unreadable", f"邮件结构异常，未能读取其内容（{reason}），请检查邮件及附件后重新发送。"))
    return mail


def store_raw(fetched: Sequence[FetchedMail], storage: Storage) -> dict[int, tuple[str, str]]:
    """Store each fetched mail's bytes: (SHA-256, storage path) by UID."""
    return {item.uid: storage.put(item.raw) for item in fetched if item.raw is not None}


def read_many(pool: ParserPool, raws: Sequence[bytes], settings: Settings) -> list[ParsedMail]:
    """Read mails in the sandboxed children; a mail that kills or stalls its child keeps its header."""
    jobs = [read_job(raw, settings) for raw in raws]
    return pool.read_many(jobs, lambda index, reason: unreadable_mail(jobs[index].raw, reason, settings))


def read_batch(fetched: Sequence[FetchedMail], stored: Mapping[int, tuple[str, str]], known: Mapping[str, int],
               settings: Settings, storage: Storage, pool: ParserPool) -> list[ReadMail]:
    """Read a batch; a mail already recorded (``known`` digests) becomes a duplicate unread."""
    to_read = [item for item in fetched if item.raw is not None and stored[item.uid][0] not in known]
    mails = read_many(pool, [item.raw or b"" for item in to_read], settings)
    read_by_uid = {item.uid: mail for item, mail in zip(to_read, mails, strict=True)}
    result: list[ReadMail] = []
    for item in fetched:
        digest_path = stored.get(item.uid)
        if digest_path is not None and digest_path[0] in known:
            digest, path = digest_path
            result.append(ReadMail(item, digest, path, _EMPTY_MAIL, duplicate_of=known[digest]))
            continue
        try:
            result.append(read_one(item, settings, storage, mail=read_by_uid.get(item.uid), stored=digest_path))
        except StorageError:
            raise
        except Exception:
            log.exception("reading mail UID %s failed", item.uid)
            result.append(unread(item, "the mail could not be read; see the worker log"))
    return result


#: stands in for the parsed content of a mail recognised as a duplicate by its bytes alone
_EMPTY_MAIL = ParsedMail(message_id="", from_addr="", from_name="", subject="")


def read_one(fetched: FetchedMail, settings: Settings, storage: Storage, *, mail: ParsedMail | None = None,
             stored: tuple[str, str] | None = None) -> ReadMail:
    """Store the raw mail (unless ``stored``), read it (unless ``mail`` was read already, in a
    child) and store its files when the before-parse rules let it through."""
    if fetched.raw is None:
        mail = read_in_process(fetched.header, settings)
        digest = sha256_hex(fetched.header + str(fetched.size).encode())
        return ReadMail(fetched, digest, None, mail, screened=screen(mail, fetched.received_at, settings))
    digest, raw_path = stored or storage.put(fetched.raw)
    if mail is None:
        mail = read_in_process(fetched.raw, settings)
    screened = screen(mail, fetched.received_at, settings)
    if screened.ignored_reason is not None:
        return ReadMail(fetched, digest, raw_path, mail, screened=screened)
    files = tuple(StoredFile(attachment, *storage.put(attachment.data)) for attachment in mail.attachments)
    return ReadMail(fetched, digest, raw_path, mail, files, screened)


def unread(fetched: FetchedMail, error: str) -> ReadMail:
    """A mail whose reading broke: recorded as failed with a stand-in Message-ID from its bytes."""
    digest = sha256_hex(fetched.raw or b"")
    mail = ParsedMail(message_id=f"<{digest[:32]}@mailintake.invalid>", from_addr="", from_name="", subject="")
    return ReadMail(fetched, digest, None, mail, error=error)
