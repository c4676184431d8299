"""Where each unit stands: its mails, its current forms, its paper copies, and the addresses that bounced.

Read in a fixed number of queries for the reminders (催报) and the console. A mail belongs to the
unit its forms name (the roster's name where one matches), else to the roster unit whose address
sent it, else to its sender address.

Only the columns a state needs are read (``Mail``, ``Form``), not ORM objects: at 10,000 mails the
objects cost seconds. Whoever quotes a mail's flags or attachments loads that one ``Message`` by id.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailintake.campaign.decisions import counts_for_quota, latest_decisions
from mailintake.campaign.roster import Roster, Unit, normalise
from mailintake.config.settings import Settings
from mailintake.db.models import Message, OutboxItem, PaperCopy, Submission
from mailintake.db.storage import Storage
from mailintake.db.vocabulary import MailStatus, OutboxStatus
from mailintake.errors import StorageError

#: statuses of a mail that count as applying (forms sent, possibly needing correction)
APPLYING = frozenset({MailStatus.accepted, MailStatus.needs_correction, MailStatus.too_large})
NEEDS_CORRECTION = frozenset({MailStatus.needs_correction, MailStatus.too_large})
_FINAL_RECIPIENT = re.compile(rb"^(?:Final|Original)-Recipient:\s*rfc822;\s*<?([^\s<>;]+@[^\s<>;]+)>?", re.I | re.M)
#: bytes of a stored bounce searched for its recipients
_BOUNCE_SCAN = 256 * 1024


@dataclass(frozen=True, slots=True)
class Mail:
    """What a unit's state reads of one mail."""

    id: int
    received_at: dt.datetime
    status: str
    from_addr: str
    automatic_reason: str | None
    receipt_no: str | None


@dataclass(frozen=True, slots=True)
class Form:
    """What a unit's state reads of one submission, with its mail."""

    id: int
    message: Mail
    unit: str
    current: bool
    flags: list[Any]
    table_no: int
    received_at: dt.datetime


@dataclass
class UnitState:
    """One unit (a roster unit, a typed name outside the roster, or a bare sender address)."""

    name: str
    roster: Unit | None
    messages: list[Mail] = field(default_factory=list)
    #: current submissions counted for the quotas (on time or accepted by decision, not withdrawn)
    forms: list[Form] = field(default_factory=list)
    paper_on: dt.date | None = None

    @property
    def applied(self) -> bool:
        return any(m.status in APPLYING for m in self.messages)

    @property
    def latest(self) -> Mail | None:
        return self.messages[-1] if self.messages else None

    @property
    def first_form_at(self) -> dt.datetime | None:
        return min((s.received_at for s in self.forms), default=None)

    def sender(self) -> str:
        """The address the unit last wrote from (empty when it never wrote)."""
        return self.latest.from_addr if self.latest is not None else ""


def _person_mail(message: Mail) -> bool:
    return message.status != MailStatus.ignored and not message.automatic_reason


def unit_states(session: Session, roster: Roster, until: dt.datetime | None = None) -> dict[str, UnitState]:
    """Every roster unit, plus every other unit or sender that sent a person's mail (received by ``until``,
    when given), keyed by name."""
    states = {unit.name: UnitState(unit.name, unit) for unit in roster}
    by_email = {unit.email: unit for unit in roster if unit.email}
    messages = [Mail(*row) for row in session.execute(
        select(Message.id, Message.received_at, Message.status, Message.from_addr, Message.automatic_reason,
               Message.receipt_no).order_by(Message.received_at, Message.id))]
    by_id = {m.id: m for m in messages}
    forms: dict[int, list[Form]] = {}
    for pk, *row in session.execute(
            select(Submission.message_pk, Submission.id, Submission.unit, Submission.current, Submission.flags,
                   Submission.table_no, Submission.received_at).order_by(Submission.id)):
        sub_id, unit, is_current, flags, table_no, received_at = row
        forms.setdefault(pk, []).append(
            Form(sub_id, by_id[pk], unit, is_current, flags, table_no, received_at))
    current = [s for subs in forms.values() for s in subs if s.current]
    decided = latest_decisions(session, [s.id for s in current])
    for message in messages:
        if not _person_mail(message) or (until is not None and message.received_at > until):
            continue
        submissions = forms.get(message.id, [])
        names = {_unit_name(roster, s.unit) for s in submissions if (s.unit or "").strip()}
        if not names:
            owner = by_email.get((message.from_addr or "").lower())
            names = {owner.name if owner is not None else (message.from_addr or "").lower()}
        for name in names - {""}:
            state = states.setdefault(name, UnitState(name, roster.match(name)))
            state.messages.append(message)
        for sub in submissions:
            if sub.current and (sub.unit or "").strip():
                late = message.status == MailStatus.late or any(
                    isinstance(f, dict) and f.get("code") == "late" for f in sub.flags or [])
                if counts_for_quota(late, decided.get(sub.id)):
                    name = _unit_name(roster, sub.unit)
                    states.setdefault(name, UnitState(name, roster.match(name))).forms.append(sub)
    for paper in session.scalars(select(PaperCopy)):
        name = _unit_name(roster, paper.unit)
        if name in states:
            states[name].paper_on = paper.received_on
        else:
            for state in states.values():
                if normalise(state.name) == normalise(paper.unit):
                    state.paper_on = paper.received_on
    return states


def _unit_name(roster: Roster, typed: str) -> str:
    unit = roster.match(typed or "")
    return unit.name if unit is not None else (typed or "").strip()


def bounced_addresses(session: Session, settings: Settings) -> set[str]:
    """Addresses our mail could not reach: refused for good by SMTP, or named in a bounce we received."""
    found: set[str] = set()
    failed = session.scalars(select(OutboxItem.recipients).where(OutboxItem.status == OutboxStatus.failed))
    for recipients in failed:
        found.update(str(r).lower() for r in recipients or [])
    storage = Storage(settings.path(settings.storage.dir))
    bounces = session.scalars(select(Message.raw_path).where(
        Message.automatic_reason.like("退信%"), Message.raw_path.is_not(None)))
    for raw_path in bounces:
        try:
            raw = storage.get(str(raw_path))[:_BOUNCE_SCAN]
        except (OSError, StorageError):
            continue
        found.update(m.decode("ascii", "replace").lower() for m in _FINAL_RECIPIENT.findall(raw))
    return found
