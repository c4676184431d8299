"""The audit trail: one append-only row per office action (who, when, what, on what, from where).

Rows are only ever inserted: an ORM guard refuses any update or delete of an ``AuditEntry``.
"""

from __future__ import annotations

import datetime as dt
import getpass
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from mailintake.db.models import AuditEntry

#: where an action came from, for rows written by the command line
CLI_ORIGIN = "CLI"


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
                 offset: int = 0) -> Sequence[AuditEntry]:
    """Newest first."""
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
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
