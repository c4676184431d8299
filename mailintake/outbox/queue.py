"""The transactional outbox: replies (and reports) are written as complete messages in the same
database transaction as what they report on; :mod:`mailintake.outbox.sender` delivers them later.

Suppression policy: when a mail must not be answered *because of its recipient* (our own address,
noreply-like, MAILER-DAEMON/postmaster, no valid address) or because the sender hit the hourly cap,
a row with status ``suppressed`` and the reason in ``last_error`` is written, so the office sees
why nobody was answered. Rows suppressed for the recipient carry no message (``raw`` empty) and can
never be resent; rows suppressed by the cap keep the rendered message so ``mailintake resend`` can
deliver it deliberately. Mails that are never answered (ignored, failed, automatic) get no row.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from mailintake.applicant.blank_forms import blank_forms_for, mime_subtype
from mailintake.applicant.tokens import status_line
from mailintake.config.settings import Settings
from mailintake.db.models import Message, OutboxItem, utcnow
from mailintake.db.vocabulary import OutboxStatus
from mailintake.errors import MailintakeError
from mailintake.outbox import REPLY_KINDS
from mailintake.outbox.compose import RenderedReply, render_reply, reply_campaign, reply_kind, with_status_line
from mailintake.outbox.recipients import choose_recipient, email_in_text, header_text, machine_reason, parse_address
from mailintake.outbox.wire import office_mail

POLICY = email.policy.SMTP


class OutboxError(MailintakeError):
    """Raised when a reply cannot be queued (unknown receipt number, nothing deliverable to resend)."""


def _msgid_domain(settings: Settings) -> str:
    sender = settings.smtp.sender
    return sender.rsplit("@", 1)[1] if "@" in sender else "mailintake.local"


def thread_id(message_id: str | None) -> str | None:
    """The original Message-ID as ``<id@host>`` when it is a sane one, else None (then not referenced)."""
    value = header_text(message_id, 900)
    if not value or any(c in value for c in " ,;\"\\"):
        return None
    if not value.startswith("<"):
        value = f"<{value}>"
    inner = value[1:-1] if value.endswith(">") else ""
    if not inner or "<" in inner or ">" in inner or "@" not in inner:
        return None
    return value


def build_mail(
    settings: Settings,
    *,
    to: Sequence[tuple[str, str]],
    subject: str,
    text: str,
    html: str | None = None,
    cc: Sequence[tuple[str, str]] = (),
    in_reply_to: str | None = None,
    auto_reply: bool = True,
    now: datetime | None = None,
    attachments: Sequence[tuple[str, bytes]] = (),
) -> EmailMessage:
    """A complete RFC 5322 message from the office. ``to``/``cc`` are (name, address) pairs already
    validated with :func:`parse_address`; every header value is sanitised again here."""
    mail = EmailMessage(policy=POLICY)
    mail["From"] = Address(display_name=header_text(settings.smtp.sender_name, 100), addr_spec=settings.smtp.sender)
    mail["To"] = [Address(display_name=header_text(name, 100), addr_spec=addr) for name, addr in to]
    if cc:
        mail["Cc"] = [Address(display_name=header_text(name, 100), addr_spec=addr) for name, addr in cc]
    mail["Subject"] = header_text(subject, 250)
    mail["Date"] = format_datetime(now or utcnow())
    mail["Message-ID"] = make_msgid(domain=_msgid_domain(settings))
    reference = thread_id(in_reply_to)
    if reference:
        mail["In-Reply-To"] = reference
        mail["References"] = reference
    if auto_reply:
        mail["Auto-Submitted"] = "auto-replied"
        mail["X-Auto-Response-Suppress"] = "All"
    mail.set_content(text, charset="utf-8")
    if html is not None:
        mail.add_alternative(html, subtype="html", charset="utf-8")
    for name, data in attachments:
        mail.add_attachment(data, maintype="application", subtype=mime_subtype(name), filename=name)
    return mail


def _existing_replies(session: Session, message_pk: int) -> list[OutboxItem]:
    query = (
        select(OutboxItem)
        .where(OutboxItem.message_pk == message_pk, OutboxItem.kind.in_(REPLY_KINDS))
        .order_by(OutboxItem.id)
    )
    return list(session.scalars(query))


def replies_last_hour(session: Session, address: str, now: datetime, kinds: Sequence[str] = REPLY_KINDS,
                      *, limit: int | None = None) -> int:
    """Automatic mails of ``kinds`` queued to ``address`` (as recipient or copy) within the hour before ``now``
    (suppressed ones not counted), at most ``limit`` of them (the loop guard only asks "at least the cap?").

    Such mails have one recipient and at most one copy, so the indexed ``recipient_key``/``cc_key``
    columns (lower-cased, with ``created_at``, ``kind`` and ``status``: migration 0008) count them from
    the indexes alone, without reading the outbox's rows."""
    wanted = address.lower()
    rows = select(OutboxItem.kind).where(
        or_(OutboxItem.recipient_key == wanted, OutboxItem.cc_key == wanted),
        OutboxItem.created_at > now - timedelta(hours=1),
        OutboxItem.kind.in_(kinds),
        OutboxItem.status != OutboxStatus.suppressed,
    )
    if limit is not None:
        rows = rows.limit(limit)
    return int(session.scalar(select(func.count()).select_from(rows.subquery())) or 0)


def _contact_cc(settings: Settings, message: Message, to_addr: str) -> tuple[str, str] | None:
    """An e-mail written in a form's contact field (表1's 联系方式; ``contact`` of its table in the campaign
    file), when configured and different from the recipient."""
    if not settings.smtp.cc_contact:
        return None
    campaign = reply_campaign(settings)
    for submission in message.submissions:
        contact = campaign.table(submission.table_no).contact
        if not contact:
            continue
        found = email_in_text((submission.fields or {}).get(contact))
        if found and found != to_addr and machine_reason(found, settings.own_addresses) is None:
            return "", found
    return None


def _row(message: Message, kind: str, subject: str, now: datetime) -> OutboxItem:
    return OutboxItem(
        message_pk=message.id,
        kind=kind,
        subject=subject,
        recipients=[],
        cc=[],
        raw=b"",
        status=OutboxStatus.pending,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )


def enqueue_reply(
    session: Session, settings: Settings, message: Message, *, now: datetime | None = None, again: bool = False,
    fresh: bool = False,
) -> OutboxItem | None:
    """Queue the one automatic reply ``message`` deserves, inside the caller's transaction.

    Returns the new row (pending, or suppressed with the reason in ``last_error``), or None when the
    mail is never answered (ignored, failed, automatic) or already has a reply. ``again`` (for
    reprocessing) allows a second reply only when its kind differs from the last one's. ``fresh``:
    the message was written in this transaction, so it has no reply to look for.
    """
    now = now or utcnow()
    kind = reply_kind(message)
    if kind is None:
        return None
    if message.id is None:
        session.flush()  # type: ignore[unreachable]  # SQLAlchemy types the key int; it is None until flushed
    existing = [] if fresh else _existing_replies(session, message.id)
    if existing and not (again and existing[-1].kind != kind):
        return None
    attachments = blank_forms_for(settings) if kind == "no_form" else ()
    rendered = with_status_line(render_reply(settings, message, kind, [name for name, _ in attachments]),
                                status_line(session, settings, message.from_addr))
    row = _row(message, kind, rendered.subject, now)
    recipient = choose_recipient(message.reply_to, message.from_addr, message.from_name, settings.own_addresses)
    if recipient.address:
        row.recipients = [recipient.address]
    if recipient.refused or not recipient.address:
        row.status = OutboxStatus.suppressed
        row.last_error = recipient.refused or "no recipient"
        session.add(row)
        session.flush()
        return row
    cc = _contact_cc(settings, message, recipient.address)
    row.cc = [cc[1]] if cc else []
    row.raw = _render_raw(settings, message, rendered, (recipient.name, recipient.address), cc, now, attachments)
    cap = settings.smtp.max_replies_per_hour
    if replies_last_hour(session, recipient.address, now, limit=cap) >= cap:
        row.status = OutboxStatus.suppressed
        row.last_error = f"more than {cap} automatic replies to {recipient.address} within an hour (loop guard)"
    session.add(row)
    session.flush()
    return row


def _render_raw(
    settings: Settings,
    message: Message,
    rendered: RenderedReply,
    to: tuple[str, str],
    cc: tuple[str, str] | None,
    now: datetime,
    attachments: Sequence[tuple[str, bytes]] = (),
) -> bytes:
    if attachments:  # office_mail writes text and HTML only; a mail with files goes the stdlib way
        return build_mail(settings, to=[to], cc=[cc] if cc else [], subject=rendered.subject, text=rendered.text,
                          html=rendered.html, in_reply_to=message.message_id, now=now,
                          attachments=attachments).as_bytes(policy=POLICY)
    sender_name = header_text(settings.smtp.sender_name, 100)
    to_pair = (header_text(to[0], 100), to[1])
    cc_pairs = [(header_text(cc[0], 100), cc[1])] if cc else []
    raw = office_mail(
        sender=(sender_name, settings.smtp.sender), to=[to_pair], cc=cc_pairs,
        subject=header_text(rendered.subject, 250), date=format_datetime(now),
        message_id=make_msgid(domain=_msgid_domain(settings)), reference=thread_id(message.message_id),
        auto_reply=True, text=rendered.text, html=rendered.html,
    )
    if raw is not None:
        return raw
    mail = build_mail(  # the stdlib's modern policy: slower, for what office_mail does not write
        settings,
        to=[to],
        cc=[cc] if cc else [],
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        in_reply_to=message.message_id,
        now=now,
    )
    return mail.as_bytes(policy=POLICY)


def refresh_identity(raw: bytes, settings: Settings, now: datetime) -> bytes:
    """The same message with a new Message-ID and Date (a resend is a new message)."""
    mail = email.message_from_bytes(raw, policy=POLICY)
    del mail["Message-ID"]
    del mail["Date"]
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = make_msgid(domain=_msgid_domain(settings))
    return mail.as_bytes(policy=POLICY)


def queue_again(session: Session, settings: Settings, receipt_no: str, *, now: datetime | None = None) -> OutboxItem:
    """Queue the latest reply for ``receipt_no`` once more (``mailintake resend``); the caller commits."""
    now = now or utcnow()
    wanted = header_text(receipt_no, 32)
    message = session.scalars(select(Message).where(Message.receipt_no == wanted)).first()
    if message is None:
        raise OutboxError(
            f"resend: no mail has receipt number {wanted!r}; check the number (mailintake export lists them)"
        )
    replies = _existing_replies(session, message.id)
    if not replies:
        raise OutboxError(f"resend: mail {wanted} has no reply (status {message.status}); nothing to resend")
    latest = replies[-1]
    if not latest.raw:
        raise OutboxError(f"resend: the reply for {wanted} was not sent ({latest.last_error}); it cannot be resent")
    for address in [*latest.recipients, *latest.cc]:
        parsed = parse_address(address)
        if parsed is None or machine_reason(parsed[1], settings.own_addresses):
            raise OutboxError(f"resend: the reply for {wanted} goes to {address!r}, which is never answered")
    row = OutboxItem(
        message_pk=message.id,
        kind=latest.kind,
        recipients=list(latest.recipients),
        cc=list(latest.cc),
        subject=latest.subject,
        raw=refresh_identity(latest.raw, settings, now),
        status=OutboxStatus.pending,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row
