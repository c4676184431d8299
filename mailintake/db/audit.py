"""The audit trail: one append-only row per office action (who, when, what, on what, from where).

Rows are only ever inserted: an ORM guard refuses any update or delete of an ``AuditEntry``.
"""

from __future__ import annotations

import datetime as dt
import getpass
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, event, select
from sqlalchemy.orm import Session

from mailintake.db.models import AuditEntry

#: where an action came from, for rows written by the command line
CLI_ORIGIN = "CLI"
#: the office's words for every action code written to the trail
ACTION_LABELS = {
    "login": "登录", "login_failed": "登录失败", "login_throttled": "登录受限", "logout": "退出",
    "paper_received": "纸质材料已收到", "paper_undo": "撤销纸质材料登记", "resend": "重新发送回复",
    "reprocess": "重新处理", "user_added": "新建账号", "user_disabled": "停用账号", "user_password": "修改密码",
    "decision": "办公室决定", "reminder_sent": "发送催报", "answer": "答复来信", "no_reply": "标记无需答复",
    "handled_undo": "撤销答复标记", "resend_failed": "重新发送失败的回复",
}


@dataclass(frozen=True)
class Actor:
    """Who acts and from where: a console user and its IP, or the OS user at the command line."""

    name: str
    origin: str

    @classmethod
    def cli(cls) -> Actor:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return cls(name=user, origin=CLI_ORIGIN)


def record_action(
    session: Session,
    actor: Actor,
    action: str,
    *,
    detail: str = "",
    message_pk: int | None = None,
    unit: str | None = None,
    submission_id: int | None = None,
) -> AuditEntry:
    """Append one row (committed with the caller's transaction, so it stands or falls with the action)."""
    entry = AuditEntry(
        actor=actor.name,
        origin=actor.origin,
        action=action,
        detail=detail,
        message_pk=message_pk,
        unit=unit,
        submission_id=submission_id,
    )
    session.add(entry)
    return entry


def list_actions(session: Session, *, since: dt.datetime | None = None, limit: int | None = None,
                 offset: int = 0, where: Sequence[ColumnElement[bool]] = ()) -> Sequence[AuditEntry]:
    """Newest first."""
    query = select(AuditEntry).where(*where).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return session.scalars(query).all()


@event.listens_for(Session, "before_flush")
def _append_only(session: Session, _context: object, _instances: object) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEntry):
            raise PermissionError("the audit trail is append-only: an audit row cannot be changed or deleted")
