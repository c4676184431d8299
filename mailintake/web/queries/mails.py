"""Mails: the paginated, searchable list and one mail with its files, forms and replies."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, cast

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, selectinload

from mailintake.campaign.decisions import DecisionInfo, latest_decisions
from mailintake.campaign.identity import normalise_text
from mailintake.db.labels import OUTBOX_STATUS_LABELS, REPLY_KIND_LABELS, STATUS_LABELS, flag_messages
from mailintake.db.models import AttachmentRow, Message, OutboxItem, Submission
from mailintake.db.vocabulary import MailStatus, OutboxStatus
from mailintake.mail.body import text_body
from mailintake.web.queries.forms import validity
from parsers.definitions import FormSet
from parsers.wordcount import count_chars


@dataclass
class MailRow:
    id: int
    received_at: dt.datetime
    sender: str
    subject: str
    status: str
    status_label: str
    flags: list[str]
    #: (table, 申报单位) of each form in the mail
    forms: list[tuple[int, str]]
    reply: str
    receipt_no: str = ""


@dataclass
class FieldRow:
    label: str
    value: str
    chars: int


@dataclass
class FormView:
    id: int
    table: int
    title: str
    unit: str
    current: bool
    state: str
    word_count: int
    attachment: str
    flags: list[str]
    fields: list[FieldRow]
    decision: DecisionInfo | None = None


@dataclass
class ReplyItem:
    kind: str
    status: str
    status_label: str
    recipients: list[str]
    subject: str
    text: str
    attempts: int
    last_error: str
    sent_at: dt.datetime | None
    created_at: dt.datetime | None


@dataclass
class MailDetail:
    id: int
    message_id: str
    sender: str
    reply_to: list[str]
    subject: str
    date_header: str
    received_at: dt.datetime
    size: int
    status: str
    status_label: str
    receipt_no: str
    has_raw: bool
    flags: list[str]
    #: (id, name, size, format, flag messages, stored, the other names the same file had in the mail)
    attachments: list[tuple[int, str, int, str, list[str], bool, list[str]]] = field(default_factory=list)
    forms: list[FormView] = field(default_factory=list)
    replies: list[ReplyItem] = field(default_factory=list)
    raw_path: str | None = None
    excerpt: str = ""
    #: answered | no_reply | "" (waiting, when the mail is for a person)
    handled: str = ""
    handled_by: str = ""
    handled_at: dt.datetime | None = None
    for_person: bool = False
    automatic: bool = False
    units: list[str] = field(default_factory=list)


#: where quoted history starts in a reply (``>`` lines, Outlook/Foxmail/QQ/Gmail separators)
_QUOTE_START = re.compile(r"^(-{2,}\s*(原始邮件|Original Message|转发邮件)|_{5,}|(From|发件人)\s*[:：]|"
                          r"On .{4,200} wrote:|在 ?.{4,200}写道[:：])", re.IGNORECASE)


def split_quoted(text: str) -> tuple[str, str]:
    """(what the sender wrote, the quoted history below it) of a plain-text body."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(">") or _QUOTE_START.match(stripped):
            return "\n".join(lines[:index]).strip(), "\n".join(lines[index:]).strip()
    return text.strip(), ""


def body_text(raw: bytes | None, excerpt: str) -> str:
    """The mail's text (HTML bodies as text) from the stored original; the recorded excerpt without one."""
    if raw is None:
        return excerpt
    from mailintake.mail.reader import read_mail

    return read_mail(raw).body_text or ""


def sender_of(name: str | None, addr: str | None) -> str:
    return f"{name} <{addr}>" if name else (addr or "")


def like_pattern(term: str) -> str:
    """``%term%`` with LIKE's wildcards in ``term`` escaped (escape character: backslash)."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(session: Session, column: Any, pattern: str) -> ColumnElement[bool]:
    """Case-insensitive for ASCII: SQLite's LIKE already is (and ilike's lower() costs a full pass)."""
    if session.get_bind().dialect.name == "sqlite":
        return cast(ColumnElement[bool], column.like(pattern, escape="\\"))
    return cast(ColumnElement[bool], column.ilike(pattern, escape="\\"))


def _form_and_file_hits(session: Session, term: str) -> set[int]:
    """Mails whose forms name the unit or person, or whose files are named so (one pass each).

    Persons are found through the identity key (表3/表4: table|name|unit; 表1: table|unit|project),
    a short column, instead of parsing every form's JSON.
    """
    like = like_pattern(term)
    forms = select(Submission.message_pk).where(or_(
        _contains(session, Submission.unit, like),
        _contains(session, Submission.identity_key, like_pattern(normalise_text(term)))))
    files = select(AttachmentRow.message_pk).where(_contains(session, AttachmentRow.path, like))
    return set(session.scalars(forms)) | set(session.scalars(files))


@dataclass(frozen=True)
class MailFilter:
    """The mail list's filters beyond status and text: to answer, a failed reply, a date range [start, end)."""

    waiting: bool = False
    reply_failed: bool = False
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    oldest_first: bool = False

    def conditions(self) -> list[ColumnElement[bool]]:
        from mailintake.office.answers import waiting_condition

        found: list[ColumnElement[bool]] = []
        if self.waiting:
            found.append(waiting_condition())
        if self.reply_failed:
            found.append(Message.id.in_(select(OutboxItem.message_pk).where(OutboxItem.status == OutboxStatus.failed)))
        if self.start is not None:
            found.append(Message.received_at >= self.start)
        if self.end is not None:
            found.append(Message.received_at < self.end)
        return found


def mail_conditions(session: Session, status: str | None, q: str | None,
                    more: MailFilter = MailFilter()) -> list[ColumnElement[bool]]:
    """?status= and ?q= (sender name or address, subject, unit, person, file name) as WHERE clauses."""
    conditions: list[ColumnElement[bool]] = more.conditions()
    if status:
        conditions.append(Message.status == status)
    term = (q or "").strip()
    if term:
        like = like_pattern(term)
        conditions.append(or_(
            _contains(session, Message.from_name, like), _contains(session, Message.from_addr, like),
            _contains(session, Message.subject, like), Message.id.in_(sorted(_form_and_file_hits(session, term)))))
    return conditions


def search_mails(session: Session, status: str | None, q: str | None, offset: int,
                 limit: int, more: MailFilter = MailFilter()) -> tuple[int, list[MailRow]]:
    """(how many match, the page's rows), the search run once for both."""
    conditions = mail_conditions(session, status, q, more)
    if not conditions:  # the newest page straight from the index on received_at
        total = int(session.scalar(select(func.count()).select_from(Message)) or 0)
        return total, list_mails(session, conditions, offset, limit, oldest_first=more.oldest_first)
    # filtered: one scan for every match, sorted here (a walk down the index would visit every row)
    found = sorted(session.execute(select(Message.id, Message.received_at).where(*conditions)).all(),
                   key=lambda row: (row.received_at, row.id), reverse=not more.oldest_first)
    page = [row.id for row in found[offset:offset + limit]]
    return len(found), list_mails(session, [Message.id.in_(page)], 0, limit, oldest_first=more.oldest_first)


def list_mails(session: Session, conditions: list[ColumnElement[bool]], offset: int, limit: int, *,
               oldest_first: bool = False) -> list[MailRow]:
    order = (Message.received_at.asc(), Message.id.asc()) if oldest_first else (
        Message.received_at.desc(), Message.id.desc())
    messages = session.execute(
        select(Message.id, Message.received_at, Message.from_name, Message.from_addr, Message.subject,
               Message.status, Message.flags, Message.error, Message.receipt_no).where(*conditions)
        .order_by(*order).offset(offset).limit(limit)).all()
    ids = [m.id for m in messages]
    forms: dict[int, list[tuple[int, str]]] = {}
    form_flags: dict[int, list[str]] = {}
    for pk, table, unit, flags, current in session.execute(
            select(Submission.message_pk, Submission.table_no, Submission.unit, Submission.flags, Submission.current)
            .where(Submission.message_pk.in_(ids)).order_by(Submission.id)):
        forms.setdefault(pk, []).append((table, unit or ""))
        if current:
            form_flags.setdefault(pk, []).extend(flag_messages(flags))
    replies: dict[int, str] = {}
    for pk, kind, state in session.execute(
            select(OutboxItem.message_pk, OutboxItem.kind, OutboxItem.status)
            .where(OutboxItem.message_pk.in_(ids)).order_by(OutboxItem.id)):
        if pk is not None:
            replies[pk] = f"{REPLY_KIND_LABELS.get(kind, kind)}·{OUTBOX_STATUS_LABELS.get(state, state)}"
    return [MailRow(
        id=m.id, received_at=m.received_at, sender=sender_of(m.from_name, m.from_addr), subject=m.subject or "",
        status=m.status, status_label=STATUS_LABELS.get(m.status, m.status),
        flags=list(dict.fromkeys(flag_messages(m.flags) + ([m.error] if m.error else []) + form_flags.get(m.id, []))),
        forms=forms.get(m.id, []), reply=replies.get(m.id, ""), receipt_no=m.receipt_no or "") for m in messages]


def reply_text(raw: bytes) -> str:
    """The plain-text body of a queued reply."""
    if not raw:
        return ""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return text_body(message)


def _form_view(sub: Submission, forms: FormSet, decision: DecisionInfo | None, correcting: bool) -> FormView:
    try:
        known = {f.key: f.label for f in forms.get(sub.table_no).fields}
    except KeyError:
        known = {}
    rows = []
    for key in [*known, *[k for k in sub.fields if k not in known]]:
        value = sub.fields.get(key)
        text = "" if value is None else str(value)
        label = known.get(key, key)
        rows.append(FieldRow(label, text, count_chars(text)))
    return FormView(id=sub.id, table=sub.table_no, title=sub.title, unit=sub.unit or "", current=sub.current,
                    state=validity(sub.current, sub.superseded_by, decision.kind if decision else None, correcting),
                    word_count=sub.word_count,
                    attachment=sub.attachment.path if sub.attachment else "",
                    flags=flag_messages(sub.flags), fields=rows, decision=decision)


def mail_detail(session: Session, pk: int, forms: FormSet) -> MailDetail | None:
    message = session.scalars(select(Message).where(Message.id == pk).options(
        selectinload(Message.attachments), selectinload(Message.submissions).selectinload(Submission.attachment),
        selectinload(Message.replies))).first()
    if message is None:
        return None
    detail = MailDetail(
        id=message.id, message_id=message.message_id, sender=sender_of(message.from_name, message.from_addr),
        reply_to=[str(r) for r in message.reply_to or []], subject=message.subject or "",
        date_header=message.date_header or "", received_at=message.received_at, size=message.size or 0,
        status=message.status, status_label=STATUS_LABELS.get(message.status, message.status),
        receipt_no=message.receipt_no or "", has_raw=message.raw_path is not None,
        flags=flag_messages(message.flags) + ([message.error] if message.error else []),
        raw_path=message.raw_path, excerpt=message.body_excerpt or "", handled=message.handled or "",
        handled_by=message.handled_by or "", handled_at=message.handled_at,
        for_person=message.status == MailStatus.no_form and not message.automatic_reason,
        automatic=bool(message.automatic_reason),
        units=list(dict.fromkeys(s.unit for s in message.submissions if s.unit)))
    for a in message.attachments:
        detail.attachments.append((a.id, a.path, a.size, a.format, flag_messages(a.flags), a.storage_path is not None,
                                   [str(name) for name in a.other_names or []]))
    decided = latest_decisions(session, [s.id for s in message.submissions])
    correcting = message.status == MailStatus.needs_correction
    detail.forms = [_form_view(s, forms, decided.get(s.id), correcting) for s in message.submissions]
    detail.replies = [ReplyItem(
        kind=REPLY_KIND_LABELS.get(r.kind, r.kind), status=r.status,
        status_label=OUTBOX_STATUS_LABELS.get(r.status, r.status), recipients=[*r.recipients, *r.cc],
        subject=r.subject or "", text=reply_text(r.raw), attempts=r.attempts or 0, last_error=r.last_error or "",
        sent_at=r.sent_at, created_at=r.created_at) for r in message.replies]
    return detail
