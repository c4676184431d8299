"""Submissions per table (sortable, paginated), past reports and the audit trail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from mailintake.campaign.decisions import DecisionInfo, latest_decisions
from mailintake.campaign.roster import UNMATCHED, Roster
from mailintake.db.audit import list_actions
from mailintake.db.labels import STATUS_LABELS, flag_messages
from mailintake.db.models import AuditEntry, Message, Report, Submission
from mailintake.office.paper import received_dates

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
    receipt_no: str = ""


@dataclass(frozen=True)
class SubmissionFilter:
    """The 申报表 list's filters: the units' typed names (category, paper state), the mail's status, and the
    date range [start, end) the form's mail was received in."""

    units: tuple[str, ...] | None = None
    status: str = ""
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.units is not None:
            found.append(Submission.unit.in_(self.units))
        if self.status:
            found.append(Submission.message_pk.in_(select(Message.id).where(Message.status == self.status)))
        if self.start is not None:
            found.append(Submission.received_at >= self.start)
        if self.end is not None:
            found.append(Submission.received_at < self.end)
        return found


def unit_names(session: Session, roster: Roster, category: str, paper: str) -> tuple[str, ...] | None:
    """The typed unit names of current forms in ``category`` and with paper copies ``received``/``missing``."""
    if not category and paper not in ("received", "missing"):
        return None
    received = {(m.name if (m := roster.match(n)) else n) for n in received_dates(session)}
    names = []
    for typed in session.scalars(select(Submission.unit).where(Submission.current.is_(True)).distinct()):
        unit = roster.match(typed or "")
        canonical = unit.name if unit else (typed or "")
        if category and (unit.category if unit else UNMATCHED) != category:
            continue
        if paper and (canonical in received) != (paper == "received"):
            continue
        names.append(typed or "")
    return tuple(names)


def count_submissions(session: Session, table: int, where: SubmissionFilter = SubmissionFilter()) -> int:
    return int(session.scalar(select(func.count()).select_from(Submission)
                              .where(Submission.table_no == table, Submission.current.is_(True),
                                     *where.conditions())) or 0)


def list_submissions(session: Session, table: int, sort: str, descending: bool, offset: int,
                     limit: int, where: SubmissionFilter = SubmissionFilter()) -> list[SubmissionRow]:
    column = SORTS.get(sort, Message.received_at)
    order = column.desc() if descending else column.asc()
    rows = session.execute(
        select(Submission.id, Submission.unit, Submission.fields, Submission.word_count, Submission.flags,
               Message.received_at, Message.id.label("mid"), Message.from_addr, Message.status, Message.receipt_no)
        .join(Message, Message.id == Submission.message_pk)
        .where(Submission.table_no == table, Submission.current.is_(True), *where.conditions())
        .order_by(order, Submission.id).offset(offset).limit(limit)).all()
    decided = latest_decisions(session, [r.id for r in rows])
    return [SubmissionRow(r.id, r.unit or "", str((r.fields or {}).get("name") or ""), r.word_count,
                          flag_messages(r.flags), r.received_at, r.mid, r.from_addr or "",
                          STATUS_LABELS.get(r.status, r.status), decided.get(r.id), r.receipt_no or "")
            for r in rows]


def count_reports(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Report)) or 0)


def list_reports(session: Session, offset: int, limit: int) -> Sequence[Report]:
    return session.scalars(select(Report).order_by(Report.generated_at.desc(), Report.id.desc())
                           .offset(offset).limit(limit)).all()


@dataclass(frozen=True)
class AuditFilter:
    """The audit page's filters: one actor, one action, a date range [start, end) in UTC."""

    actor: str = ""
    action: str = ""
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.actor:
            found.append(AuditEntry.actor == self.actor)
        if self.action:
            found.append(AuditEntry.action == self.action)
        if self.start is not None:
            found.append(AuditEntry.at >= self.start)
        if self.end is not None:
            found.append(AuditEntry.at < self.end)
        return found


def count_actions(session: Session, where: AuditFilter = AuditFilter()) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEntry).where(*where.conditions())) or 0)


def audit_page(session: Session, offset: int, limit: int, where: AuditFilter = AuditFilter()) -> Sequence[AuditEntry]:
    return list_actions(session, limit=limit, offset=offset, where=where.conditions())


def receipts_of(session: Session, message_pks: list[int]) -> dict[int, str]:
    """The 回执编号 of each mail that has one (how the office names a mail)."""
    wanted = sorted({pk for pk in message_pks if pk})
    if not wanted:
        return {}
    rows = session.execute(select(Message.id, Message.receipt_no).where(Message.id.in_(wanted))).all()
    return {pk: receipt for pk, receipt in rows if receipt}


def audit_actors(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEntry.actor).distinct().order_by(AuditEntry.actor)))
