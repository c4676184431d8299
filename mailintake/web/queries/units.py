"""Units: every roster unit's submissions per table, 表1 quota use and paper copies; one unit's history."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from mailintake.campaign.decisions import DecisionInfo, latest_decisions
from mailintake.campaign.roster import UNMATCHED, Roster
from mailintake.db.audit import ACTION_LABELS
from mailintake.db.labels import OUTBOX_STATUS_LABELS, REPLY_KIND_LABELS, STATUS_LABELS, flag_messages
from mailintake.db.models import AttachmentRow, AuditEntry, Message, OutboxItem, ReminderSent, Submission
from mailintake.db.vocabulary import MailStatus
from mailintake.office.paper import received_dates
from mailintake.office.reminders import REMINDER_LABELS
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
    receipt_no: str = ""
    attachment_id: int | None = None
    file_name: str = ""


#: the newest lines a unit's timeline shows (a unit's page must not grow without bound)
TIMELINE = 200


@dataclass(frozen=True)
class Event:
    """One line of a unit's timeline."""

    at: dt.datetime
    kind: str
    text: str
    message_pk: int | None = None


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
    contact: str = ""
    phone: str = ""
    timeline: list[Event] = field(default_factory=list)


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
    receipts = {m.id: m.receipt_no or "" for m in mails}
    statuses = {m.id: m.status for m in mails}
    files = {a.id: (a.path, a.storage_path is not None) for a in session.scalars(
        select(AttachmentRow).where(AttachmentRow.id.in_([s.attachment_id for s, _ in subs])))}
    return UnitDetail(
        name=canonical, category=unit.category if unit else UNMATCHED, in_roster=unit is not None,
        email=unit.email if unit else "", paper=paper, applied=any(s.current for s, _ in subs),
        submissions=[UnitSubmission(s.id, s.table_no, s.title, str((s.fields or {}).get("name") or ""),
                                    s.word_count, s.current,
                                    validity(s.current, s.superseded_by,
                                             d.kind if (d := decided.get(s.id)) else None,
                                             statuses.get(s.message_pk) == MailStatus.needs_correction),
                                    flag_messages(s.flags), received, s.message_pk, decided.get(s.id),
                                    receipts.get(s.message_pk, ""),
                                    s.attachment_id if files.get(s.attachment_id, ("", False))[1] else None,
                                    files.get(s.attachment_id, ("", False))[0])
                     for s, received in subs],
        mails=[MailRow(m.id, m.received_at, sender_of(m.from_name, m.from_addr), m.subject or "", m.status,
                       STATUS_LABELS.get(m.status, m.status), [], [], "", m.receipt_no or "") for m in mails],
        contact=unit.contact if unit else "", phone=unit.phone if unit else "",
        timeline=timeline(session, [*names, canonical], list(mails), [s.id for s, _ in subs]))


def timeline(session: Session, names: list[str], mails: list[Message], submission_ids: list[int]) -> list[Event]:
    """Mails received, replies sent, 催报, paper copies and decisions of one unit, oldest first."""
    events = [Event(m.received_at, "来信", f"收到邮件{f'（{m.receipt_no}）' if m.receipt_no else ''}："
                                         f"{m.subject or '（无主题）'}", m.id) for m in mails]
    for row in session.scalars(select(OutboxItem).where(OutboxItem.message_pk.in_([m.id for m in mails]))):
        label = REPLY_KIND_LABELS.get(row.kind, row.kind)
        state = OUTBOX_STATUS_LABELS.get(row.status, row.status)
        events.append(Event(row.sent_at or row.created_at, "回复", f"{label}·{state}（{'、'.join(row.recipients)}）",
                            row.message_pk))
    for reminder in session.scalars(select(ReminderSent).where(ReminderSent.unit.in_(names))):
        label = REMINDER_LABELS.get(reminder.kind, reminder.kind)
        events.append(Event(reminder.created_at, "催报", f"催报（{label}）→ {reminder.address or '电话催报'}"))
    audit = select(AuditEntry).where(or_(AuditEntry.unit.in_(names), AuditEntry.submission_id.in_(submission_ids)),
                                     AuditEntry.action.in_(("paper_received", "paper_undo", "decision")))
    for entry in session.scalars(audit):
        events.append(Event(entry.at, ACTION_LABELS.get(entry.action, entry.action),
                            f"{entry.detail}（{entry.actor}）", entry.message_pk))
    return sorted(events, key=lambda e: e.at)[-TIMELINE:]
