"""What the office asks to be done again: resend a reply, reprocess a stored mail — shared by CLI and console.

Each is one function, audited once in the same transaction as the action.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailintake.config.settings import Settings
from mailintake.db.audit import Actor, record_action
from mailintake.db.models import Message, OutboxItem
from mailintake.intake.sandbox import ParserPool

_TRAILING_DIGITS = re.compile(r"\d+$")


def _running_number(receipt_no: str) -> int | None:
    """The running number a receipt number ends in (``2019-0042`` → 42), whatever [campaign] receipt_format."""
    found = _TRAILING_DIGITS.search(receipt_no)
    return int(found.group()) if found else None


def resolve_receipt(session: Session, text: str) -> str:
    """The full receipt number for ``text``: itself, or the one number ending in it (``0005``, ``5`` →
    ``2019-0005``). OutboxError (one line) when several end in it; an unknown number is left to the caller."""
    from mailintake.outbox.queue import OutboxError

    wanted = text.strip()
    if not wanted.isdigit() or session.scalar(select(Message.id).where(Message.receipt_no == wanted)) is not None:
        return wanted
    like = session.scalars(select(Message.receipt_no).where(Message.receipt_no.like(f"%{wanted}"))).all()
    matches = sorted({r for r in like if r and _running_number(r) == int(wanted)})
    if len(matches) > 1:
        raise OutboxError(f"resend: {wanted} matches {', '.join(matches)}; give the full receipt number")
    return matches[0] if matches else wanted


def resend_reply(session: Session, settings: Settings, receipt_no: str, actor: Actor) -> OutboxItem:
    """Queue the latest reply of ``receipt_no`` (or the one number ending in it) again; the caller commits."""
    from mailintake.outbox.queue import queue_again

    number = resolve_receipt(session, receipt_no)
    row = queue_again(session, settings, number)
    record_action(session, actor, "resend", message_pk=row.message_pk,
                  detail=f"重新发送回复（回执号 {number}，发件队列 {row.id}）")
    return row


def reprocess(settings: Settings, session_factory: sessionmaker[Session], message_pk: int, actor: Actor, *,
              pool: ParserPool | None = None) -> str:
    """Re-parse a stored mail (``mailintake reprocess``); returns its new status. Commits on its own."""
    from mailintake.intake.cycle import reprocess_message

    return reprocess_message(settings, session_factory, message_pk, pool=pool, actor=actor)
