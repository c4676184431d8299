"""Intake stage 5, record (database): a decided mail → its rows, its ledger entry and its reply.

``store`` writes everything for one mail in the caller's transaction — message, attachments,
submissions (superseding older versions), receipt number, ledger row, queued reply — so a crash
leaves either the whole mail recorded or nothing of it. It also counts what the quota rule needs
(the record stage holds the session) before the decide stage runs. Duplicates and failures get
their ledger rows here too, and the folder's UIDVALIDITY / last UID are kept here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from mailintake.campaign.decisions import withdrawn_ids
from mailintake.campaign.identity import UnitNamer, identity_key, normalise_unit, submission_unit, supersede
from mailintake.config.settings import Settings
from mailintake.db.models import AttachmentRow, Counter, Ledger, MailboxState, Message, Submission, utcnow
from mailintake.db.vocabulary import MailStatus
from mailintake.intake.decide import decide_mail
from mailintake.intake.model import Decision, FetchedMail, ParsedFiles, ReadMail
from mailintake.outbox.queue import enqueue_reply as enqueue
from mailintake.rules.base import Quota
from mailintake.rules.quota import quota_units
from parsers.records import Flag


def mailbox_state(session: Session, folder: str) -> MailboxState:
    state = session.scalars(select(MailboxState).where(MailboxState.folder == folder)).first()
    if state is None:
        state = MailboxState(folder=folder, last_uid=0)
        session.add(state)
        session.flush()
    return state


def already_recorded(session: Session, fetched: FetchedMail) -> bool:
    """The ledger knows this UID (a redo after a crash); the folder's last UID moves past it either way."""
    already = session.scalars(
        select(Ledger.id).where(
            Ledger.folder == fetched.folder,
            Ledger.uidvalidity == fetched.uidvalidity,
            Ledger.uid == fetched.uid,
        )
    ).first()
    advance_last_uid(session, fetched.folder, fetched.uid)
    return already is not None


def advance_last_uid(session: Session, folder: str, uid: int) -> None:
    """Move the folder's last UID up to ``uid`` in one statement (a row is read only when there is none)."""
    moved = session.execute(
        update(MailboxState).where(MailboxState.folder == folder)
        .values(last_uid=case((MailboxState.last_uid < uid, uid), else_=MailboxState.last_uid))
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount == 0:  # type: ignore[attr-defined]  # a CursorResult for an UPDATE
        mailbox_state(session, folder).last_uid = uid


def find_duplicate(session: Session, read: ReadMail) -> Message | None:
    return session.scalars(
        select(Message).where(Message.message_id == read.mail.message_id, Message.sha256 == read.sha256)
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


def _flags(flags: Iterable[Flag]) -> list[dict[str, object]]:
    return [flag.to_dict() for flag in flags]


def counted_projects(session: Session, pairs: Iterable[tuple[int, str]]) -> dict[tuple[int, str], frozenset[str]]:
    """Per (table, unit): the identity keys of its current submissions, withdrawn ones not counted."""
    counted: dict[tuple[int, str], frozenset[str]] = {}
    for table, unit in sorted(pairs):
        existing = session.execute(
            select(Submission.id, Submission.identity_key).where(
                Submission.table_no == table,
                Submission.current.is_(True),
                Submission.unit == unit,
            )
        ).all()
        withdrawn = withdrawn_ids(session, [row.id for row in existing])
        counted[(table, unit)] = frozenset(row.identity_key for row in existing if row.id not in withdrawn)
    return counted


def _new_message(read: ReadMail) -> Message:
    fetched, mail = read.fetched, read.mail
    return Message(
        message_id=mail.message_id, sha256=read.sha256, folder=fetched.folder, uidvalidity=fetched.uidvalidity,
        uid=fetched.uid, from_addr=mail.from_addr, from_name=mail.from_name, reply_to=list(mail.reply_to),
        subject=mail.subject, date_header=mail.date_header, received_at=fetched.received_at, size=fetched.size,
        raw_path=read.raw_path, automatic_reason=mail.automatic_reason, body_excerpt=body_excerpt(mail.body_text),
        processed_at=utcnow(), status="pending", attachments=[], submissions=[],
    )


def store(session: Session, settings: Settings, parsed: ParsedFiles, *, existing: Message | None = None,
          unit_namer: UnitNamer = normalise_unit) -> Message:
    """Decide and write the mail and everything derived from it; queue its reply. Caller commits.

    With ``existing`` (a retry or a reprocess) that row is brought up to date instead; its old
    submissions stop being current, no new ledger row is written and no reply is queued here.
    """
    read = parsed.read
    if existing is not None:
        for old in existing.submissions:
            old.current = False
        session.flush()
        existing.from_addr, existing.from_name, existing.subject = read.mail.from_addr, read.mail.from_name, \
            read.mail.subject
        existing.reply_to, existing.error, existing.processed_at = list(read.mail.reply_to), None, utcnow()
        existing.body_excerpt = body_excerpt(read.mail.body_text)
    message = existing or _new_message(read)
    if existing is None:
        session.add(message)
    # a new message is inserted once, whole (status, flags, receipt number), not inserted and updated
    with session.no_autoflush:
        quota = Quota(counted_projects(session, quota_units(parsed.results, unit_namer)))
        decision = decide_mail(parsed, settings, quota, unit_namer)
        message.status = decision.status
        message.flags = _flags(decision.flags)
        message.automatic_reason = decision.found.ignored_reason or read.mail.automatic_reason
        if message.status != MailStatus.ignored and message.receipt_no is None:
            message.receipt_no = next_receipt_no(session, settings)
    session.flush()
    _store_files(session, message, decision, unit_namer)
    if existing is None:
        fetched = read.fetched
        session.add(Ledger(folder=fetched.folder, uidvalidity=fetched.uidvalidity, uid=fetched.uid,
                           message_pk=message.id, outcome="processed"))
        session.flush()
        # a new message's collections hold exactly what was just written, and it has no reply yet
        enqueue(session, settings, message, fresh=True)
    else:
        session.flush()
    return message


def _store_files(session: Session, message: Message, decision: Decision, unit_namer: UnitNamer) -> None:
    """Add the mail's attachments and forms to its collections, write them in one flush, then let
    each current form supersede older versions — in file order, as if written one by one."""
    counts_as_current = message.status in (MailStatus.accepted, MailStatus.needs_correction)
    found = decision.found
    late_flags = [f for f in found.defects if f.code == "late"] if found.late else []
    written: list[Submission] = []
    for file_index, outcome in enumerate(decision.files):
        row = AttachmentRow(path=outcome.attachment.path, sha256=outcome.sha256, size=len(outcome.attachment.data),
                            format=outcome.result.format, storage_path=outcome.storage_path,
                            flags=_flags(outcome.result.flags), other_names=list(outcome.attachment.other_names))
        message.attachments.append(row)
        for form_index, form in enumerate(outcome.result.forms):
            flags = [*found.all_form_flags(file_index, form_index, form), *late_flags]
            submission = Submission(
                attachment=row, table_no=form.table, title=form.title, fields=dict(form.fields),
                word_count=form.word_count, flags=_flags(flags),
                identity_key=identity_key(form.table, form.fields, unit_namer),
                unit=submission_unit(form.table, form.fields, unit_namer),
                current=counts_as_current, received_at=message.received_at,
            )
            message.submissions.append(submission)
            written.append(submission)
    session.flush()
    if counts_as_current:
        for index, submission in enumerate(written):
            supersede(session, submission, later=[later.id for later in written[index + 1:]])


def enqueue_reply(session: Session, settings: Settings, message: Message, *, again: bool = False) -> None:
    """Queue the mail's reply in the current transaction (``again``: after a reprocess changed it)."""
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


def record_failure(session: Session, read: ReadMail, error: str) -> Message:
    """A mail that broke the pipeline: kept with its error, retried on later polls (Mailman's shunt)."""
    fetched = read.fetched
    message = Message(
        message_id=read.mail.message_id, sha256=read.sha256, folder=fetched.folder, uidvalidity=fetched.uidvalidity,
        uid=fetched.uid, from_addr=read.mail.from_addr, subject=read.mail.subject, received_at=fetched.received_at,
        size=fetched.size, raw_path=read.raw_path, status=MailStatus.failed, error=error[:2000], processed_at=utcnow(),
    )
    session.add(message)
    session.flush()
    session.add(Ledger(folder=fetched.folder, uidvalidity=fetched.uidvalidity, uid=fetched.uid,
                       message_pk=message.id, outcome="processed"))
    return message
