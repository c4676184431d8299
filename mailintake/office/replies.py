"""Replies the office asks for again: resend a reply, reprocess a stored mail — shared by CLI and console.

Each is one function, audited once in the same transaction as the action.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from mailintake.config import Settings
from mailintake.db.models import OutboxItem
from mailintake.office.audit import Actor, record_action
from mailintake.sandbox import ParserPool


def resend_reply(session: Session, settings: Settings, receipt_no: str, actor: Actor) -> OutboxItem:
    """Queue the latest reply of ``receipt_no`` again (``mailintake resend``); the caller commits."""
    from mailintake.outbox import queue_again

    row = queue_again(session, settings, receipt_no)
    record_action(session, actor, "resend", message_pk=row.message_pk,
                  detail=f"重新发送回复（回执号 {receipt_no.strip()}，发件队列 {row.id}）")
    return row


def reprocess(settings: Settings, session_factory: sessionmaker[Session], message_pk: int, actor: Actor, *,
              pool: ParserPool | None = None) -> str:
    """Re-parse a stored mail (``mailintake reprocess``); returns its new status. Commits on its own."""
    from mailintake.pipeline import reprocess_message

    return reprocess_message(settings, session_factory, message_pk, pool=pool, actor=actor)
