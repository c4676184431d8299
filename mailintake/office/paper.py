"""The paper-copy register: which applying unit's stamped paper copies arrived, and on what date.

One function per action (record, undo) shared by the CLI and the console; each is audited in the
same transaction. Only units that applied can be recorded, on a date not in the future.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailintake.campaign.roster import Roster
from mailintake.db.audit import Actor, record_action
from mailintake.db.models import PaperCopy, Submission
from mailintake.errors import MailintakeError

#: suggestions offered when a typed name matches no applying unit
MAX_SUGGESTIONS = 5


class PaperError(MailintakeError):
    """Raised when a paper-copy action names an unknown unit, a future date or nothing to undo."""

    exit_code = 1


@dataclass(frozen=True)
class PaperResult:
    unit: str
    received_on: dt.date | None
    #: the date recorded before this action, if any
    previous: dt.date | None


def applied_units(session: Session, roster: Roster) -> set[str]:
    """The comparable names (roster name where one matches) of every unit with a current submission."""
    typed = session.scalars(select(Submission.unit).where(Submission.current.is_(True)).distinct())
    return {_key(roster, name) for name in typed}


def _key(roster: Roster, name: str) -> str:
    unit = roster.match(name)
    return roster.normalise(unit.name if unit is not None else name)


def suggest_units(roster: Roster, typed: str) -> list[str]:
    """Roster units whose name or an alias contains, or is contained in, what was typed."""
    key = roster.normalise(typed)
    if not key:
        return []
    names = [unit.name for unit in roster if any(key in k or k in key for k in unit.keys(roster.rules))]
    return names[:MAX_SUGGESTIONS]


def resolve_applying_unit(session: Session, roster: Roster, typed: str) -> str:
    """The name the register keeps for ``typed``; PaperError naming the fix when it has not applied."""
    applied = applied_units(session, roster)
    unit = roster.match(typed)
    name = unit.name if unit is not None else typed.strip()
    if name and _key(roster, name) in applied:
        return name
    hints = [s for s in suggest_units(roster, typed) if _key(roster, s) in applied]
    if unit is not None:
        raise PaperError(f"单位“{name}”尚无有效申报材料，无需登记纸质材料；如确已申报，请核对申报单位名称。")
    if hints:
        raise PaperError(f"未找到单位“{typed}”：您是否指 {'、'.join(hints)}？请使用完整名称重试。")
    raise PaperError(f"未找到单位“{typed}”：名录中没有该单位或其别名，申报记录中也没有完全相同的单位名称；"
                     "请核对名称后重试，或在 config/units.csv 中补充。")


def record_received(session: Session, roster: Roster, typed: str, day: dt.date, today: dt.date,
                    actor: Actor, note: str = "") -> PaperResult:
    """Record (or re-date) a unit's paper copies; the caller commits."""
    if day > today:
        raise PaperError(f"收到日期 {day.isoformat()} 晚于今天（{today.isoformat()}），请填写实际收到的日期。")
    name = resolve_applying_unit(session, roster, typed)
    row = session.scalars(select(PaperCopy).where(PaperCopy.unit == name)).first()
    previous = row.received_on if row is not None else None
    if row is None:
        session.add(PaperCopy(unit=name, received_on=day, note=note))
    else:
        row.received_on = day
        row.note = note or row.note
    again = f"（原登记日期 {previous.isoformat()}）" if previous else ""
    record_action(session, actor, "paper_received", unit=name,
                  detail=f"登记纸质材料收到，日期 {day.isoformat()}{again}")
    return PaperResult(unit=name, received_on=day, previous=previous)


def undo_received(session: Session, roster: Roster, typed: str, actor: Actor) -> PaperResult:
    """Remove a unit's paper-copy record (a mistaken entry); the audit keeps what was undone."""
    unit = roster.match(typed)
    name = unit.name if unit is not None else typed.strip()
    row = session.scalars(select(PaperCopy).where(PaperCopy.unit == name)).first()
    if row is None:
        raise PaperError(f"单位“{name}”没有纸质材料收到的登记，无需撤销。")
    previous = row.received_on
    session.delete(row)
    record_action(session, actor, "paper_undo", unit=name,
                  detail=f"撤销纸质材料收到登记（原登记日期 {previous.isoformat()}）")
    return PaperResult(unit=name, received_on=None, previous=previous)


def received_dates(session: Session) -> dict[str, dt.date]:
    """Every recorded unit and the date its paper copies arrived."""
    return {row.unit: row.received_on for row in session.scalars(select(PaperCopy))}
