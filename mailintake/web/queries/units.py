"""Units: every roster unit's submissions per table, 表1 quota use and paper copies; one unit's history."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from mailintake.campaign.decisions import DecisionInfo, latest_decisions
from mailintake.campaign.roster import UNMATCHED, Roster
from mailintake.db.labels import STATUS_LABELS, flag_messages
from mailintake.db.models import Message, Submission
from mailintake.office.paper import received_dates
from mailintake.web.queries.forms import validity
from mailintake.web.queries.mails import MailRow, sender_of


@dataclass
class UnitRow:
    name: str
    category: str
    in_roster: bool
    tables: dict[int, int] = field(default_factory=dict)
    paper: dt.date | None = None

    @property
    def total(self) -> int:
        return sum(self.tables.values())


@dataclass
class UnitSubmission:
    id: int
    table: int
    title: str
    person: str
    word_count: int
    current: bool
    state: str
    flags: list[str]
    received_at: dt.datetime
    message_pk: int
    decision: DecisionInfo | None = None


@dataclass
class UnitDetail:
    name: str
    category: str
    in_roster: bool
    email: str
    paper: dt.date | None
    applied: bool
    submissions: list[UnitSubmission]
    mails: list[MailRow]


def _canonical(roster: Roster, typed: str) -> str:
    unit = roster.match(typed)
    return unit.name if unit is not None else typed


def units_overview(session: Session, roster: Roster) -> tuple[list[UnitRow], list[UnitRow]]:
    """(roster units with what they sent, applying units outside the roster)."""
    rows = {u.name: UnitRow(u.name, u.category, True) for u in roster}
    outside: dict[str, UnitRow] = {}
    counts: dict[tuple[str, int], int] = defaultdict(int)
    current = select(Submission.unit, Submission.table_no).where(Submission.current.is_(True))
    for unit, table in session.execute(current):
        counts[(_canonical(roster, unit or ""), table)] += 1
    for (name, table), count in counts.items():
        row = rows.get(name) or outside.setdefault(name, UnitRow(name, UNMATCHED, False))
        row.tables[table] = count
    for name, day in received_dates(session).items():
        key = _canonical(roster, name)
        if key in rows:
            rows[key].paper = day
        elif key in outside:
            outside[key].paper = day
    return list(rows.values()), sorted(outside.values(), key=lambda r: r.name)


def unit_detail(session: Session, roster: Roster, name: str) -> UnitDetail | None:
    unit = roster.get(name) or roster.match(name)
    typed = [u for u in session.scalars(select(Submission.unit).distinct()) if u is not None]
    names = [u for u in typed if u == name or (unit is not None and _canonical(roster, u) == unit.name)]
    if unit is None and not names:
        return None
    canonical = unit.name if unit is not None else name
    subs = session.execute(
        select(Submission, Message.received_at).join(Message, Message.id == Submission.message_pk)
        .where(Submission.unit.in_(names)).order_by(Message.received_at, Submission.id)).all()
    mail_ids = {s.message_pk for s, _ in subs}
    condition: ColumnElement[bool] = Message.id.in_(mail_ids)
    if unit is not None and unit.email:
        condition = or_(condition, Message.from_addr == unit.email.lower())
    mails = session.scalars(select(Message).where(condition).order_by(Message.received_at, Message.id)).all()
    decided = latest_decisions(session, [s.id for s, _ in subs])
    paper = {_canonical(roster, n): d for n, d in received_dates(session).items()}.get(canonical)
    return UnitDetail(
        name=canonical, category=unit.category if unit else UNMATCHED, in_roster=unit is not None,
        email=unit.email if unit else "", paper=paper, applied=any(s.current for s, _ in subs),
        submissions=[UnitSubmission(s.id, s.table_no, s.title, str((s.fields or {}).get("name") or ""),
                                    s.word_count, s.current, validity(s.current, s.superseded_by),
                                    flag_messages(s.flags), received, s.message_pk, decided.get(s.id))
                     for s, received in subs],
        mails=[MailRow(m.id, m.received_at, sender_of(m.from_name, m.from_addr), m.subject or "", m.status,
                       STATUS_LABELS.get(m.status, m.status), [], [], "") for m in mails])
