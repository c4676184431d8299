"""The schema. Times are stored in UTC (timezone-aware columns; SQLite gets them back as UTC).

- ``Ledger``: one row per (folder, UIDVALIDITY, UID) seen — what makes each mail processed once.
- ``Message``: one row per distinct mail (Message-ID + content hash), its status and flags.
- ``AttachmentRow`` / ``Submission``: the files found and the forms parsed from them.
- ``OutboxItem``: replies and reports waiting for, or done with, SMTP delivery.
- ``AuditEntry``: the office's actions, append-only.
- ``Counter``: named counters (the receipt number).
- ``Decision`` / ``ReminderSent`` / ``FinalReport``: the office's decisions, the reminder ledger, the
  final-report marker.
- ``User``: console accounts.
- ``ApplicantToken``: the link to a sender address's status page (found by its hash).
- ``ServiceHealth``: a remote service (SMTP) found failing, since when and why (one row per service).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    func,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from mailintake.db.vocabulary import OutboxStatus


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in, aware UTC datetimes out — on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class MailboxState(Base):
    """Where polling stands in one folder."""

    __tablename__ = "mailbox_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    folder: Mapped[str] = mapped_column(String(255), unique=True)
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    last_poll_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_poll_result: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Message(Base):
    """One distinct mail and what became of it."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("message_id", "sha256", name="uq_messages_identity"),
        Index("ix_messages_status", "status"),
        Index("ix_messages_from_addr", "from_addr"),
        Index("ix_messages_sha256", "sha256"),
        Index("ix_messages_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(998))
    sha256: Mapped[str] = mapped_column(String(64))
    folder: Mapped[str] = mapped_column(String(255))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[int] = mapped_column(BigInteger)
    from_addr: Mapped[str] = mapped_column(String(320), default="")
    from_name: Mapped[str] = mapped_column(Text, default="")
    reply_to: Mapped[list[Any]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    date_header: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    raw_path: Mapped[str | None] = mapped_column(String(255))
    #: accepted | needs_correction | late | no_form | ignored | too_large | failed
    status: Mapped[str] = mapped_column(String(32))
    automatic_reason: Mapped[str | None] = mapped_column(Text)
    flags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    #: the first lines of the body, for the office's 需人工处理 list (questions, thanks, chatter)
    body_excerpt: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    receipt_no: Mapped[str | None] = mapped_column(String(32), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: a mail for a person: answered | no_reply (无需答复), by which console user, when; NULL while waiting
    handled: Mapped[str | None] = mapped_column(String(16))
    handled_by: Mapped[str | None] = mapped_column(String(255))
    handled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    attachments: Mapped[list[AttachmentRow]] = relationship(
        back_populates="message", order_by="AttachmentRow.id", cascade="all, delete-orphan"
    )
    submissions: Mapped[list[Submission]] = relationship(
        back_populates="message", order_by="Submission.id", cascade="all, delete-orphan"
    )
    replies: Mapped[list[OutboxItem]] = relationship(back_populates="message", order_by="OutboxItem.id")


class Ledger(Base):
    """Every (folder, UIDVALIDITY, UID) ever seen, pointing at the mail it holds."""

    __tablename__ = "ledger"
    __table_args__ = (UniqueConstraint("folder", "uidvalidity", "uid", name="uq_ledger_uid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    folder: Mapped[str] = mapped_column(String(255))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[int] = mapped_column(BigInteger)
    message_pk: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    #: processed | duplicate
    outcome: Mapped[str] = mapped_column(String(32))
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AttachmentRow(Base):
    """A candidate form file from a mail (or from an archive in it), stored content-addressed."""

    __tablename__ = "attachments"
    __table_args__ = (Index("ix_attachments_sha256", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[str] = mapped_column(String(32))
    storage_path: Mapped[str | None] = mapped_column(String(255))
    flags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: the other names the same bytes had in the mail (a file attached twice is recorded once)
    other_names: Mapped[list[Any] | None] = mapped_column(JSON, default=list)

    message: Mapped[Message] = relationship(back_populates="attachments")
    submissions: Mapped[list[Submission]] = relationship(back_populates="attachment")


class Submission(Base):
    """One parsed form. Only ``current`` rows count; a resubmission supersedes the older row."""

    __tablename__ = "submissions"
    __table_args__ = (
        Index("ix_submissions_identity", "identity_key", "current"),
        Index("ix_submissions_unit", "table_no", "unit", "current"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    attachment_id: Mapped[int] = mapped_column(ForeignKey("attachments.id"))
    table_no: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(100))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    word_count: Mapped[int] = mapped_column(Integer)
    flags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    identity_key: Mapped[str] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(Text, default="")
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    superseded_by: Mapped[int | None] = mapped_column(Integer)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    message: Mapped[Message] = relationship(back_populates="submissions")
    attachment: Mapped[AttachmentRow] = relationship(back_populates="submissions")


class OutboxItem(Base):
    """A mail to deliver: written in the same transaction as what it reports on."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        # the loop guard (``replies_last_hour``) counts from these alone: kind and status included
        Index("ix_outbox_recipient_key", "recipient_key", "created_at", "kind", "status"),
        Index("ix_outbox_cc_key", "cc_key", "created_at", "kind", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_pk: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    #: receipt | correction | late | no_form | report
    kind: Mapped[str] = mapped_column(String(32))
    recipients: Mapped[list[Any]] = mapped_column(JSON, default=list)
    cc: Mapped[list[Any]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    #: the complete RFC 5322 message, rendered when queued
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    #: pending | sent | failed | suppressed
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.pending)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the first recipient and the first copy, lower-cased (filled on every write, see below), so the
    #: per-address loop guard reads only that address's rows through an index
    recipient_key: Mapped[str | None] = mapped_column(String(320))
    cc_key: Mapped[str | None] = mapped_column(String(320))

    message: Mapped[Message | None] = relationship(back_populates="replies")


def address_key(addresses: list[Any] | None) -> str | None:
    """The lower-cased first address of a recipient list (what ``recipient_key``/``cc_key`` hold)."""
    return str(addresses[0]).lower() if addresses else None


@event.listens_for(OutboxItem, "before_insert")
@event.listens_for(OutboxItem, "before_update")
def _fill_address_keys(_mapper: Any, _connection: Any, row: OutboxItem) -> None:
    row.recipient_key = address_key(row.recipients)
    row.cc_key = address_key(row.cc)


class Counter(Base):
    """A named counter (``receipt_no``: receipts issued so far), incremented in the caller's transaction."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class Report(Base):
    """A daily report that was generated (and perhaps sent)."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    for_date: Mapped[dt.date] = mapped_column(Date)
    generated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    html_path: Mapped[str] = mapped_column(Text)
    xlsx_path: Mapped[str] = mapped_column(Text)
    sent: Mapped[bool] = mapped_column(Boolean, default=False)
    #: True for the scheduled (or ``--send``) report: the next report counts "new" from this one;
    #: a manual look (``mailintake report``) leaves the office's daily baseline where it was
    baseline: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class PaperCopy(Base):
    """The stamped paper copies a unit posted (the notice asks for two)."""

    __tablename__ = "paper_copies"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit: Mapped[str] = mapped_column(Text, unique=True)
    received_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PollRun(Base):
    """One poll cycle and its outcome, for ``mailintake status`` and the report."""

    __tablename__ = "poll_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """One office action: who, when, what, on which mail, unit or submission, and from where."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"), Index("ix_audit_log_actor_action_at", "actor", "action", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: console login, or the OS user for the command line
    actor: Mapped[str] = mapped_column(String(255))
    #: the console client's IP address, or "CLI"
    origin: Mapped[str] = mapped_column(String(255))
    #: e.g. login, paper_received, paper_undo, resend, reprocess, decision, reminders_sent, user_added
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")
    message_pk: Mapped[int | None] = mapped_column(Integer)
    unit: Mapped[str | None] = mapped_column(Text)
    submission_id: Mapped[int | None] = mapped_column(Integer)


class Decision(Base):
    """The office's decision on a submission (同意受理 / 撤回); the newest one per submission counts."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    #: accept | withdraw
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(255))
    origin: Mapped[str] = mapped_column(String(255))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: whether a mail to the applicant was queued
    notified: Mapped[bool] = mapped_column(Boolean, default=False)


class ReminderSent(Base):
    """The reminder ledger: at most one reminder per unit, kind and calendar day (a unique key)."""

    __tablename__ = "reminders"
    __table_args__ = (UniqueConstraint("unit", "kind", "day", name="uq_reminders_unit_kind_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit: Mapped[str] = mapped_column(Text)
    #: not_applied | correction_pending | paper_missing
    kind: Mapped[str] = mapped_column(String(32))
    #: the calendar day in the campaign time zone
    day: Mapped[dt.date] = mapped_column(Date)
    #: None: no usable address (需电话催报), nothing queued
    address: Mapped[str | None] = mapped_column(String(320))
    outbox_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class FinalReport(Base):
    """The 截止报告 written (and queued) once per deadline; the marker survives a worker restart."""

    __tablename__ = "final_reports"
    __table_args__ = (UniqueConstraint("deadline", name="uq_final_reports_deadline"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deadline: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    generated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    html_path: Mapped[str] = mapped_column(Text)
    outbox_id: Mapped[int | None] = mapped_column(Integer)


class User(Base):
    """A console account: a viewer reads, a clerk also acts. Never deleted, only disabled."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    #: an argon2id hash (argon2-cffi); the password itself is never stored or logged
    password_hash: Mapped[str] = mapped_column(String(255))
    #: clerk | viewer
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    #: a console session remembers this number; logout, a new password or disabling bumps it (ends sessions)
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


#: logins are unique without regard to case (``Mixed.Case`` and ``mixed.case`` are one account)
Index("ix_users_login_lower", func.lower(User.login), unique=True)


class LoginFailure(Base):
    """One failed (or still running) password check, counted per (account, address) and per address."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_address_at", "address", "at"),
        Index("ix_login_failures_login_address_at", "login", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the typed login, lower-cased
    login: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ApplicantToken(Base):
    """The status-page link of one sender address: only the SHA-256 of the token is kept; the token is
    derived from the address and ``epoch`` under the server secret, so a revoke (epoch + 1) re-issues it."""

    __tablename__ = "applicant_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the normalised (lower-cased) address
    address: Mapped[str] = mapped_column(String(320), unique=True)
    epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ServiceHealth(Base):
    """A remote service the worker depends on, while it fails: one row per service (``smtp``), deleted
    when the service answers again, so ``status``, ``/healthz`` and the console read the outage from here."""

    __tablename__ = "service_health"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: the first failure of this outage
    down_since: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: the latest failure (its cause in ``cause``)
    checked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    cause: Mapped[str] = mapped_column(Text, default="")
    #: what the operator can do (empty: wait, it is retried)
    fix: Mapped[str] = mapped_column(Text, default="")
