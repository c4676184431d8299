"""The rows of the report: plain dataclasses for mails, forms, replies and units, built from the database rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from mailintake.campaign.decisions import DecisionInfo
from mailintake.campaign.roster import UNMATCHED, Roster, Unit
from mailintake.db.labels import (
    CORRECTION_CODES,
    NO_UNIT,
    OUTBOX_STATUS_LABELS,
    REPLY_KIND_LABELS,
    STATUS_LABELS,
    flag_codes,
    flag_messages,
    local,
)
from mailintake.db.models import Message, OutboxItem, Submission
from mailintake.db.vocabulary import MailStatus


@dataclass
class ReplyView:
    id: int
    kind: str
    kind_label: str
    recipients: list[str]
    status: str
    status_label: str
    subject: str
    attempts: int
    last_error: str
    sent_at: dt.datetime | None
    created_at: dt.datetime | None
    mail_from: str = ""
    mail_subject: str = ""
    receipt_no: str = ""


@dataclass
class MailView:
    id: int
    message_id: str
    from_addr: str
    from_name: str
    subject: str
    received_at: dt.datetime
    status: str
    status_label: str
    receipt_no: str
    attachments: list[str]
    form_count: int
    flags: list[str]
    replies: list[ReplyView]
    created_at: dt.datetime | None = None
    #: the first lines of the body (what a question or a thank-you says)
    excerpt: str = ""

    @property
    def sender(self) -> str:
        return f"{self.from_name} <{self.from_addr}>" if self.from_name else self.from_addr


@dataclass
class SubmissionView:
    id: int
    table: int
    title: str
    unit: str
    roster_unit: str
    category: str
    fields: dict[str, str]
    word_count: int
    flags: list[dict[str, Any]]
    flag_texts: list[str]
    sender: str
    sender_name: str
    subject: str
    received_at: dt.datetime
    receipt_no: str
    attachment: str
    mail_status: str
    late: bool
    #: the office's newest decision on it (同意受理 / 撤回), if any
    decision: DecisionInfo | None = None

    @property
    def to_correct(self) -> bool:
        """The form has a defect the applicant was asked to correct (待更正), else it is 已受理."""
        return bool(flag_codes(self.flags) & CORRECTION_CODES)

    @property
    def display(self) -> str:
        """A short name for lists: the unit for 表1/表2, the person (and unit) for 表3/表4."""
        person = self.fields.get("name", "")
        base = self.unit or NO_UNIT
        return f"{person}（{base}）" if person else base

    def messages_of(self, code: str) -> list[str]:
        return [str(f.get("message", "")) for f in self.flags if isinstance(f, dict) and f.get("code") == code]


@dataclass
class CategoryCount:
    category: str
    quota: int | None
    quota_text: str
    count: int
    #: of ``count``: forms read without a defect (已受理) and forms waiting for a correction (待更正)
    accepted: int = 0
    to_correct: int = 0

    @property
    def over(self) -> int:
        return max(0, self.count - self.quota) if self.quota is not None else 0


@dataclass
class HonourSummary:
    table: int
    name: str
    title: str
    total: int | None
    total_text: str
    note: str
    count: int
    categories: list[CategoryCount]
    accepted: int = 0
    to_correct: int = 0


@dataclass
class Counts:
    mails_total: int = 0
    mails_since: int = 0
    forms_total: int = 0
    forms_since: int = 0
    current_forms: int = 0
    #: status -> (total, since)
    by_status: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass
class UnitGap:
    """A unit in a list (silent units, missing paper copies)."""

    name: str
    category: str
    tables: list[int] = field(default_factory=list)
    forms: int = 0
    senders: list[str] = field(default_factory=list)


@dataclass
class PaperView:
    """One entry of the paper-copy register."""

    unit: str
    category: str
    received_on: dt.date
    note: str = ""




class Matcher:
    """Roster matching cached per distinct typed name (many forms share a unit)."""

    def __init__(self, roster: Roster) -> None:
        self.roster = roster
        self._cache: dict[str, Unit | None] = {}

    def __call__(self, name: str) -> Unit | None:
        if name not in self._cache:
            self._cache[name] = self.roster.match(name)
        return self._cache[name]


def reply_view(item: OutboxItem, tz: ZoneInfo) -> ReplyView:
    message = item.message
    return ReplyView(
        id=item.id,
        kind=item.kind,
        kind_label=REPLY_KIND_LABELS.get(item.kind, item.kind),
        recipients=[str(r) for r in item.recipients or []],
        status=item.status,
        status_label=OUTBOX_STATUS_LABELS.get(item.status, item.status),
        subject=item.subject or "",
        attempts=item.attempts or 0,
        last_error=item.last_error or "",
        sent_at=local(item.sent_at, tz),
        created_at=local(item.created_at, tz),
        mail_from=message.from_addr if message else "",
        mail_subject=message.subject if message else "",
        receipt_no=(message.receipt_no or "") if message else "",
    )


def mail_view(message: Message, tz: ZoneInfo) -> MailView:
    received = local(message.received_at, tz)
    assert received is not None
    return MailView(
        id=message.id,
        message_id=message.message_id,
        from_addr=message.from_addr or "",
        from_name=message.from_name or "",
        subject=message.subject or "",
        received_at=received,
        status=message.status,
        status_label=STATUS_LABELS.get(message.status, message.status),
        receipt_no=message.receipt_no or "",
        attachments=[a.path for a in message.attachments],
        form_count=len(message.submissions),
        flags=_mail_defects(message),
        replies=[reply_view(r, tz) for r in message.replies],
        created_at=local(message.created_at, tz),
        excerpt=message.body_excerpt or "",
    )


def _mail_defects(message: Message) -> list[str]:
    """Every defect of a mail, once: its own flags, its files' flags, its current forms' flags."""
    texts = flag_messages(message.flags) + ([message.error] if message.error else [])
    for attachment in message.attachments:
        texts += flag_messages(attachment.flags)
    for sub in message.submissions:
        if sub.current:
            texts += flag_messages(sub.flags)
    return list(dict.fromkeys(texts))


def submission_view(sub: Submission, message: Message, match: Matcher, tz: ZoneInfo) -> SubmissionView:
    unit = match(sub.unit or "")
    received = local(sub.received_at or message.received_at, tz)
    assert received is not None
    codes = flag_codes(sub.flags)
    return SubmissionView(
        id=sub.id,
        table=sub.table_no,
        title=sub.title,
        unit=sub.unit or "",
        roster_unit=unit.name if unit else "",
        category=unit.category if unit else UNMATCHED,
        fields={str(k): "" if v is None else str(v) for k, v in (sub.fields or {}).items()},
        word_count=sub.word_count or 0,
        flags=[f for f in sub.flags or [] if isinstance(f, dict)],
        flag_texts=flag_messages(sub.flags),
        sender=message.from_addr or "",
        sender_name=message.from_name or "",
        subject=message.subject or "",
        received_at=received,
        receipt_no=message.receipt_no or "",
        attachment=sub.attachment.path if sub.attachment is not None else "",
        mail_status=message.status,
        late=message.status == MailStatus.late or "late" in codes,
    )
