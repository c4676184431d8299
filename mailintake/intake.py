"""Turn one fetched mail into stored rows: message, attachments, submissions and its reply.

``prepare`` does the CPU work outside any transaction (read the MIME, collect parse jobs);
``store`` writes everything for one mail in the caller's transaction, so a crash leaves either
the whole mail recorded (with its ledger row and queued reply) or nothing of it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mailintake.config import Settings
from mailintake.db.models import AttachmentRow, Counter, Ledger, Message, Submission, utcnow
from mailintake.mail.model import ParsedMail
from mailintake.resources import campaign_path
from mailintake.rules.base import FileOutcome, MailContext
from mailintake.rules.chain import decide, run_chain
from mailintake.sandbox import ParseJob, ReadJob
from mailintake.storage import Storage, sha256_hex
from mailintake.submissions import UnitNamer, identity_key, normalise_unit, submission_unit, supersede
from mailintake.vocabulary import MailStatus
from parsers.records import FileResult, Flag, Form


@dataclass
class FetchedMail:
    """A mail as it came from IMAP. ``raw`` is None when it was too large to fetch."""

    folder: str
    uidvalidity: int
    uid: int
    received_at: dt.datetime
    size: int
    raw: bytes | None
    header: bytes = b""


@dataclass
class PreparedMail:
    fetched: FetchedMail
    sha256: str
    raw_path: str | None
    mail: ParsedMail
    #: indexes into the poll's job list, one per candidate attachment (empty for ignored mail)
    job_indexes: list[int] = field(default_factory=list)
    #: the id of an already recorded mail with the same bytes (nothing to read, parse or answer)
    duplicate_of: int | None = None
    attachment_paths: list[str | None] = field(default_factory=list)
    attachment_shas: list[str] = field(default_factory=list)


def read(raw: bytes, settings: Settings) -> ParsedMail:
    from mailintake.mail.archives import ArchiveLimits
    from mailintake.mail.reader import read_mail

    return read_mail(raw, own_addresses=settings.own_addresses, limits=ArchiveLimits.from_settings(settings.limits))


def make_job(name: str, data: bytes, settings: Settings) -> ParseJob:
    limits = settings.limits
    return ParseJob(
        name=name,
        data=data,
        max_chars=settings.campaign.max_chars,
        max_file_bytes=limits.max_attachment_bytes,
        max_uncompressed_bytes=limits.max_uncompressed_bytes,
        max_compression_ratio=limits.max_compression_ratio,
        max_members=limits.max_archive_members,
        forms=str(campaign_path(settings, "forms")),
    )


def read_job(raw: bytes, settings: Settings) -> ReadJob:
    from mailintake.mail.archives import ArchiveLimits

    return ReadJob(raw=raw, own_addresses=frozenset(settings.own_addresses),
                   limits=ArchiveLimits.from_settings(settings.limits))


_HEADER_END = re.compile(rb"\r?\n\r?\n")


def unreadable_mail(raw: bytes, reason: str, settings: Settings) -> ParsedMail:
    """What is left of a mail whose reading killed or stalled its child: its header, and a flag."""
    end = _HEADER_END.search(raw, 0, 256 * 1024)
    mail = read(raw[: end.end() if end else 256 * 1024], settings)
    mail.attachments = []
    mail.flags.append(Flag("unreadable", f"邮件结构异常，未能读取其内容（{reason}），请检查邮件及附件后重新发送。"))
    return mail


def prepare(fetched: FetchedMail, settings: Settings, storage: Storage, jobs: list[ParseJob],
            job_by_sha: dict[str, int], *, mail: ParsedMail | None = None,
            stored: tuple[str, str] | None = None) -> PreparedMail:
    """Store the raw mail, read it (unless ``mail`` was read already, in a child), and add a parse
    job per distinct attachment to ``jobs``."""
    if fetched.raw is None:
        mail = read(fetched.header, settings)
        digest = sha256_hex(fetched.header + str(fetched.size).encode())
        return PreparedMail(fetched, digest, None, mail)
    digest, raw_path = stored or storage.put(fetched.raw)
    if mail is None:
        mail = read(fetched.raw, settings)
    prepared = PreparedMail(fetched, digest, raw_path, mail)
    automatic = mail.automatic_reason is not None or mail.from_addr.lower() in settings.own_addresses
    if automatic:
        return prepared
    for attachment in mail.attachments:
        sha, path = storage.put(attachment.data)
        prepared.attachment_shas.append(sha)
        prepared.attachment_paths.append(path)
        if attachment.junk:
            prepared.job_indexes.append(-1)
            continue
        if sha not in job_by_sha:
            job_by_sha[sha] = len(jobs)
            jobs.append(make_job(attachment.path, attachment.data, settings))
        prepared.job_indexes.append(job_by_sha[sha])
    return prepared


def find_duplicate(session: Session, prepared: PreparedMail) -> Message | None:
    return session.scalars(
        select(Message).where(
            Message.message_id == prepared.mail.message_id, Message.sha256 == prepared.sha256
        )
    ).first()


RECEIPT_COUNTER = "receipt_no"


def next_receipt_no(session: Session, settings: Settings) -> str:
    """The next receipt number, from the ``receipt_no`` counter row (constant cost at any size).

    The UPDATE locks the row until the caller commits, so two writers never draw the same number; a
    number already taken (rows written around the counter) is skipped by an indexed lookup.
    """
    while True:
        value = session.execute(
            update(Counter).where(Counter.name == RECEIPT_COUNTER).values(value=Counter.value + 1)
            .returning(Counter.value)
        ).scalar()
        if value is None:  # no counter yet: start from the receipts already issued
            issued = session.scalar(select(func.count()).where(Message.receipt_no.is_not(None))) or 0
            session.add(Counter(name=RECEIPT_COUNTER, value=issued))
            session.flush()
            continue
        candidate = settings.campaign.receipt_number(value)
        if session.scalar(select(Message.id).where(Message.receipt_no == candidate)) is None:
            return candidate


#: how much of a body the office sees in its 需人工处理 list
EXCERPT_LINES = 6
EXCERPT_CHARS = 400


def body_excerpt(text: str) -> str:
    """The first non-blank lines of a body, quoted history (``>`` lines, 原始邮件) cut off."""
    lines: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(">") or re.match(r"^-{2,}\s*(原始邮件|Original Message)", stripped, re.IGNORECASE):
            break
        if stripped:
            lines.append(stripped)
        if len(lines) >= EXCERPT_LINES:
            break
    excerpt = "\n".join(lines)
    return excerpt if len(excerpt) <= EXCERPT_CHARS else excerpt[: EXCERPT_CHARS - 1] + "…"


def _flags(flags: list[Flag]) -> list[dict[str, object]]:
    return [flag.to_dict() for flag in flags]


def _too_large_flag(size: int, settings: Settings) -> Flag:
    limit_mb = settings.mailbox.max_message_bytes / 1024 / 1024
    return Flag(
        "too_large",
        f"邮件大小约为{size / 1024 / 1024:.1f}MB，超过{limit_mb:.0f}MB的接收限制，未能读取。"
        "请仅附Word格式（.docx）申报表后重新发送。",
    )


def _renamed_flag(flag: Flag, old: str, new: str) -> Flag:
    """The flag with the other file's quoted name — full path first, then bare name — made this one's."""
    message = flag.message.replace(f"“{old}”", f"“{new}”") if "/" in old else flag.message
    message = message.replace(f"“{old.rsplit('/', 1)[-1]}”", f"“{new.rsplit('/', 1)[-1]}”")
    return Flag(flag.code, message, flag.field)


def _rename(result: FileResult, name: str) -> FileResult:
    """Results are shared between identical files: give each its own display name back — in the
    record and in every message, whether it quotes the full path (``a.zip/x.docx``) or the bare name."""
    if result.file == name:
        return result
    forms = [Form(f.table, f.title, f.fields, f.word_count, [_renamed_flag(x, result.file, name) for x in f.flags])
             for f in result.forms]
    return FileResult(file=name, format=result.format, forms=forms,
                      flags=[_renamed_flag(f, result.file, name) for f in result.flags], page_text=result.page_text)


def _file_result(prepared: PreparedMail, results: list[FileResult], position: int) -> FileResult:
    attachment = prepared.mail.attachments[position]
    job_index = prepared.job_indexes[position]
    if job_index < 0:  # archiver or Word junk: recorded, never parsed, nothing to say about it
        return FileResult(file=attachment.path, format=attachment.format or "unknown")
    return _rename(results[job_index], attachment.path)


def store(session: Session, settings: Settings, prepared: PreparedMail, results: list[FileResult],
          *, existing: Message | None = None, enqueue: bool = True,
          unit_namer: UnitNamer = normalise_unit) -> Message:
    """Write the message and everything derived from it; queue its reply. Caller commits.

    With ``existing`` (a retry or a reprocess) that row is brought up to date instead; its old
    submissions stop being current and no new ledger row is written.
    """
    fetched, mail = prepared.fetched, prepared.mail
    if existing is not None:
        for old in existing.submissions:
            old.current = False
        session.flush()
    message = existing or Message(
        message_id=mail.message_id,
        sha256=prepared.sha256,
        folder=fetched.folder,
        uidvalidity=fetched.uidvalidity,
        uid=fetched.uid,
        from_addr=mail.from_addr,
        from_name=mail.from_name,
        reply_to=list(mail.reply_to),
        subject=mail.subject,
        date_header=mail.date_header,
        received_at=fetched.received_at,
        size=fetched.size,
        raw_path=prepared.raw_path,
        automatic_reason=mail.automatic_reason,
        body_excerpt=body_excerpt(mail.body_text),
        processed_at=utcnow(),
        status="pending",
        attachments=[],
        submissions=[],
    )
    if existing is not None:
        existing.from_addr, existing.from_name, existing.subject = mail.from_addr, mail.from_name, mail.subject
        existing.reply_to, existing.error, existing.processed_at = list(mail.reply_to), None, utcnow()
        existing.body_excerpt = body_excerpt(mail.body_text)
    else:
        session.add(message)
    ctx = MailContext(mail=mail, received_at=fetched.received_at, settings=settings, session=session,
                      unit_namer=unit_namer)
    run_chain(ctx, pre_parse=True)
    if fetched.raw is None and ctx.ignored_reason is None:
        message.status = MailStatus.too_large
        message.flags = _flags([_too_large_flag(fetched.size, settings)])
    else:
        for position in range(len(prepared.job_indexes)):
            attachment = mail.attachments[position]
            ctx.files.append(
                FileOutcome(
                    attachment=attachment,
                    result=_file_result(prepared, results, position),
                    sha256=prepared.attachment_shas[position],
                    storage_path=prepared.attachment_paths[position],
                )
            )
        if ctx.ignored_reason is None:
            run_chain(ctx, pre_parse=False)
        message.status = decide(ctx)
        message.flags = _flags([*ctx.defects, *ctx.notes])
    message.automatic_reason = ctx.ignored_reason or mail.automatic_reason
    session.flush()
    _store_files(session, message, ctx)
    if message.status != MailStatus.ignored and message.receipt_no is None:
        message.receipt_no = next_receipt_no(session, settings)
    if existing is None:
        session.add(Ledger(folder=fetched.folder, uidvalidity=fetched.uidvalidity, uid=fetched.uid,
                           message_pk=message.id, outcome="processed"))
    session.flush()
    if enqueue and existing is None:
        # a new message's collections hold exactly what was just written: nothing to reload
        from mailintake.outbox.queue import enqueue_reply as enqueue_new

        enqueue_new(session, settings, message)
    elif enqueue:
        enqueue_reply(session, settings, message)
    return message


def _store_files(session: Session, message: Message, ctx: MailContext) -> None:
    """Add the mail's attachments and forms to its collections, write them in one flush, then let
    each current form supersede older versions — in file order, as if written one by one."""
    counts_as_current = message.status in (MailStatus.accepted, MailStatus.needs_correction)
    written: list[Submission] = []
    for file_index, outcome in enumerate(ctx.files):
        row = AttachmentRow(
            path=outcome.attachment.path,
            sha256=outcome.sha256,
            size=len(outcome.attachment.data),
            format=outcome.result.format,
            storage_path=outcome.storage_path,
            flags=_flags(outcome.result.flags),
        )
        message.attachments.append(row)
        for form_index, form in enumerate(outcome.result.forms):
            flags = ctx.all_form_flags(file_index, form_index, form)
            if ctx.late:
                flags = [*flags, *[f for f in ctx.defects if f.code == "late"]]
            submission = Submission(
                attachment=row,
                table_no=form.table,
                title=form.title,
                fields=dict(form.fields),
                word_count=form.word_count,
                flags=_flags(flags),
                identity_key=identity_key(form.table, form.fields, ctx.unit_namer),
                unit=submission_unit(form.table, form.fields, ctx.unit_namer),
                current=counts_as_current,
                received_at=message.received_at,
            )
            message.submissions.append(submission)
            written.append(submission)
    session.flush()
    if counts_as_current:
        for index, submission in enumerate(written):
            supersede(session, submission, later=[later.id for later in written[index + 1:]])


def enqueue_reply(session: Session, settings: Settings, message: Message, *, again: bool = False) -> None:
    """Queue the mail's reply in the current transaction (``again``: after a reprocess changed it)."""
    from mailintake.outbox.queue import enqueue_reply as enqueue

    session.refresh(message, ["attachments", "submissions"])
    enqueue(session, settings, message, again=again)


def record_duplicate(session: Session, fetched: FetchedMail, original_pk: int) -> None:
    session.add(Ledger(folder=fetched.folder, uidvalidity=fetched.uidvalidity, uid=fetched.uid,
                       message_pk=original_pk, outcome="duplicate"))


def known_digests(session: Session, digests: set[str]) -> dict[str, int]:
    """Recorded mails among these SHA-256 digests (same bytes imply the same Message-ID)."""
    if not digests:
        return {}
    rows = session.execute(select(Message.sha256, Message.id).where(Message.sha256.in_(digests))).all()
    return {sha: message_pk for sha, message_pk in rows}


def record_failure(session: Session, prepared_or_fetched: PreparedMail | FetchedMail, error: str) -> Message:
    """A mail that broke the pipeline: kept with its error, retried on later polls (Mailman's shunt)."""
    if isinstance(prepared_or_fetched, PreparedMail):
        fetched = prepared_or_fetched.fetched
        message_id = prepared_or_fetched.mail.message_id
        digest, raw_path = prepared_or_fetched.sha256, prepared_or_fetched.raw_path
        from_addr, subject = prepared_or_fetched.mail.from_addr, prepared_or_fetched.mail.subject
    else:
        fetched = prepared_or_fetched
        digest = sha256_hex(fetched.raw or b"")
        message_id, raw_path, from_addr, subject = f"<{digest[:32]}@mailintake.invalid>", None, "", ""
    message = Message(
        message_id=message_id, sha256=digest, folder=fetched.folder, uidvalidity=fetched.uidvalidity,
        uid=fetched.uid, from_addr=from_addr, subject=subject, received_at=fetched.received_at,
        size=fetched.size, raw_path=raw_path, status=MailStatus.failed, error=error[:2000], processed_at=utcnow(),
    )
    session.add(message)
    session.flush()
    session.add(Ledger(folder=fetched.folder, uidvalidity=fetched.uidvalidity, uid=fetched.uid,
                       message_pk=message.id, outcome="processed"))
    return message
