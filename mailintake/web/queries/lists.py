"""Submissions per table (sortable, paginated), past reports and the audit trail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailintake.campaign.decisions import DecisionInfo, latest_decisions
from mailintake.db.audit import list_actions
from mailintake.db.labels import STATUS_LABELS, flag_messages
from mailintake.db.models import AuditEntry, Message, Report, Submission

#: sort key -> column
SORTS: dict[str, Any] = {
    "received": Message.received_at,
    "unit": Submission.unit,
    "words": Submission.word_count,
    "id": Submission.id,
}


@dataclass
class SubmissionRow:
    id: int
    unit: str
    person: str
    word_count: int
    flags: list[str]
    received_at: dt.datetime
    message_pk: int
    sender: str
    status_label: str
    decision: DecisionInfo | None = None


def count_submissions(session: Session, table: int) -> int:
    return int(session.scalar(select(func.count()).select_from(Submission)
                              .where(Submission.table_no == table, Submission.current.is_(True))) or 0)


def list_submissions(session: Session, table: int, sort: str, descending: bool, offset: int,
                     limit: int) -> list[SubmissionRow]:
    column = SORTS.get(sort, Message.received_at)
    order = column.desc() if descending else column.asc()
    rows = session.execute(
        select(Submission.id, Submission.unit, Submission.fields, Submission.word_count, Submission.flags,
               Message.received_at, Message.id.label("mid"), Message.from_addr, Message.status)
        .join(Message, Message.id == Submission.message_pk)
        .where(Submission.table_no == table, Submission.current.is_(True))
        .order_by(order, Submission.id).offset(offset).limit(limit)).all()
    decided = latest_decisions(session, [r.id for r in rows])
    return [SubmissionRow(r.id, r.unit or "", str((r.fields or {}).get("name") or ""), r.word_count,
                          flag_messages(r.flags), r.received_at, r.mid, r.from_addr or "",
                          STATUS_LABELS.get(r.status, r.status), decided.get(r.id)) for r in rows]


def count_reports(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Report)) or 0)


def list_reports(session: Session, offset: int, limit: int) -> Sequence[Report]:
    return session.scalars(select(Report).order_by(Report.generated_at.desc(), Report.id.desc())
                           .offset(offset).limit(limit)).all()


def count_actions(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def audit_page(session: Session, offset: int, limit: int) -> Sequence[AuditEntry]:
    return list_actions(session, limit=limit, offset=offset)
