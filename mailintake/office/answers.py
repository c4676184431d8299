"""The office answers a mail from the console (or marks it 无需答复); saved answers (常用答复).

An answer goes through the outbox like every reply: threaded (``In-Reply-To``/``References`` of the
mail, ``Re:`` subject with the receipt tag), the office's signature from ``answer.txt.j2``, never to a
machine address and counted against ``[smtp] max_replies_per_hour``; the worker or ``mailintake send``
delivers it. The mail then records who handled it and when.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from mailintake.config.settings import Settings
from mailintake.db.audit import Actor, record_action
from mailintake.db.models import Message, OutboxItem, utcnow
from mailintake.db.vocabulary import MailStatus
from mailintake.errors import MailintakeError

ANSWER_LIMIT = 5000
HANDLED_LABELS = {"answered": "已答复", "no_reply": "无需答复"}
#: the saved answers' folder inside the campaign's templates directory
SAVED_DIR = "answers"


class AnswerError(MailintakeError):
    """An answer that cannot be queued: no such mail, an empty text, or a sender we never mail."""


@dataclass(frozen=True)
class SavedAnswer:
    key: str
    title: str
    text: str


def waiting_condition() -> ColumnElement[bool]:
    """Mails for a person (no form, not automatic) that nobody has answered or marked 无需答复 yet."""
    return and_(Message.status == MailStatus.no_form, Message.automatic_reason.is_(None), Message.handled.is_(None))


def count_waiting(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Message).where(waiting_condition())) or 0)


def saved_answers(settings: Settings) -> list[SavedAnswer]:
    """``answers/*.txt`` beside the reply templates: the first line is the title, the rest the text."""
    from mailintake.outbox.templates import template_dir

    folder = Path(template_dir(settings)) / SAVED_DIR
    found: list[SavedAnswer] = []
    for path in sorted(folder.glob("*.txt")) if folder.is_dir() else []:
        try:
            title, _, text = path.read_text("utf-8").strip().partition("\n")
        except (OSError, UnicodeDecodeError):
            continue
        found.append(SavedAnswer(path.stem, title.strip(), text.strip()))
    return found


def answer_mail(session: Session, settings: Settings, message_pk: int, body: str, actor: Actor,
                now: dt.datetime | None = None) -> OutboxItem:
    """Queue the clerk's answer to a mail and mark it 已答复; the caller commits."""
    from mailintake.office.notices import queue_notice
    from mailintake.outbox import templates
    from mailintake.outbox.compose import reply_subject
    from mailintake.outbox.recipients import choose_recipient

    now = now or utcnow()
    message = session.get(Message, message_pk)
    if message is None:
        raise AnswerError(f"没有编号为 {message_pk} 的邮件。")
    text = body.replace("\r\n", "\n").strip()
    if not text:
        raise AnswerError("答复内容为空，请填写后再发送。")
    if len(text) > ANSWER_LIMIT:
        raise AnswerError(f"答复不超过 {ANSWER_LIMIT} 字，请精简后再发送。")
    if message.automatic_reason:
        raise AnswerError("这是一封自动发送的邮件（如退信、自动回复），不能答复。")
    recipient = choose_recipient(message.reply_to, message.from_addr, message.from_name, settings.own_addresses)
    if recipient.refused or not recipient.address:
        raise AnswerError("发件人地址无法使用（如系统地址或本邮箱地址），请电话联系来信人。")
    context = {"body": text, "receipt_no": message.receipt_no or "", "office_name": settings.campaign.office_name,
               "office_contact": settings.campaign.office_contact}
    mail_text = templates.render(settings, "answer.txt.j2", context) or text
    row = queue_notice(session, settings, kind="answer", to=recipient.address, name=recipient.name,
                       subject=reply_subject(message.subject, message.receipt_no, settings), text=mail_text,
                       now=now, message_pk=message.id, in_reply_to=message.message_id, personal=True)
    message.handled, message.handled_by, message.handled_at = "answered", actor.name, now
    record_action(session, actor, "answer", message_pk=message.id,
                  detail=f"答复 {recipient.address}：{' '.join(text.split())[:80]}")
    return row


def mark_handled(session: Session, message_pk: int, state: str | None, actor: Actor,
                 now: dt.datetime | None = None) -> Message:
    """Mark a mail 无需答复 (``no_reply``) or take the mark back (``None``); the caller commits."""
    message = session.get(Message, message_pk)
    if message is None:
        raise AnswerError(f"没有编号为 {message_pk} 的邮件。")
    if state == "no_reply":
        message.handled, message.handled_by, message.handled_at = "no_reply", actor.name, now or utcnow()
        record_action(session, actor, "no_reply", message_pk=message.id, detail="标记为无需答复")
    else:
        message.handled = message.handled_by = message.handled_at = None
        record_action(session, actor, "handled_undo", message_pk=message.id, detail="撤销“无需答复”标记")
    return message
