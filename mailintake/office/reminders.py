"""催报: the reminders due now, previewed and then queued through the outbox.

Three kinds: ``not_applied`` (a roster unit with no forms yet, only before the deadline),
``correction_pending`` (the unit's latest mail needs correction and it has sent nothing newer for
``[reminders] correction_after_hours``, before the deadline) and ``paper_missing`` (forms in, paper
copies not recorded ``[reminders] paper_after_days`` after they arrived). At most one per unit, kind
and calendar day (the ``reminders`` ledger has that as a unique key); never to an address that
bounced. A unit without a usable address is listed as 需电话催报 with its phone number instead.

``send_reminders`` queues exactly the reminders of a preview that are still due, with their ledger
rows and one audit row each, in the caller's transaction: a crash before the commit leaves nothing,
so a second run sends each once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailintake.applicant.blank_forms import blank_forms_for
from mailintake.campaign.sources import Sources
from mailintake.config.settings import Settings
from mailintake.db.audit import Actor, record_action
from mailintake.db.labels import flag_messages
from mailintake.db.models import Message, ReminderSent
from mailintake.office.notices import queue_notice, usable_address
from mailintake.office.unit_state import NEEDS_CORRECTION, UnitState, bounced_addresses, unit_states
from mailintake.outbox import templates
from mailintake.outbox.compose import cn_datetime

REMINDER_LABELS: dict[str, str] = {
    "not_applied": "尚未报送",
    "correction_pending": "材料待更正",
    "paper_missing": "纸质材料未收到",
}
#: the actor of reminders the worker sends on schedule
WORKER = Actor(name="mailintake", origin="worker")


@dataclass(frozen=True)
class Reminder:
    """One reminder due now: to ``address``, or by phone when it is None."""

    unit: str
    kind: str
    address: str | None
    contact: str
    phone: str
    subject: str
    text: str
    #: why it cannot be mailed (no address, bounced); empty when it can
    no_mail_reason: str = ""

    @property
    def kind_label(self) -> str:
        return REMINDER_LABELS[self.kind]

    @property
    def key(self) -> tuple[str, str]:
        return (self.unit, self.kind)


@dataclass
class SendResult:
    queued: list[Reminder]
    #: outbox row ids, in the order of ``queued``
    outbox_ids: list[int]
    #: preview entries no longer due (sent meanwhile, or the unit acted) or only reachable by phone
    skipped: list[Reminder]


def _key(item: Reminder | tuple[str, str]) -> tuple[str, str]:
    return item.key if isinstance(item, Reminder) else (str(item[0]), str(item[1]))


def today(settings: Settings, now: dt.datetime) -> dt.date:
    return now.astimezone(settings.campaign.tz).date()


def preview_reminders(session: Session, settings: Settings, sources: Sources, now: dt.datetime) -> list[Reminder]:
    """Every reminder due at ``now`` and not yet sent today, roster order, kinds in label order."""
    day = today(settings, now)
    done = set(session.execute(select(ReminderSent.unit, ReminderSent.kind).where(ReminderSent.day == day)).all())
    bounced = bounced_addresses(session, settings)
    due: list[Reminder] = []
    for state in unit_states(session, sources.roster, until=now).values():
        for kind in _due_kinds(settings, state, now):
            if (state.name, kind) not in done:
                due.append(_reminder(session, settings, sources, state, kind, bounced))
    return due


def _due_kinds(settings: Settings, state: UnitState, now: dt.datetime) -> list[str]:
    rules = settings.reminders
    before_deadline = now < settings.campaign.deadline
    kinds: list[str] = []
    if before_deadline and state.roster is not None and not state.applied:
        kinds.append("not_applied")
    latest = state.latest
    if (before_deadline and latest is not None and latest.status in NEEDS_CORRECTION
            and latest.received_at <= now - dt.timedelta(hours=rules.correction_after_hours)):
        kinds.append("correction_pending")
    first = state.first_form_at
    if (state.forms and state.paper_on is None and first is not None
            and today(settings, now) >= today(settings, first) + dt.timedelta(days=rules.paper_after_days)):
        kinds.append("paper_missing")
    return kinds


def _address(settings: Settings, state: UnitState, kind: str, bounced: set[str]) -> tuple[str | None, str]:
    """The address to remind (roster first, then the unit's last sender) or None and why not."""
    roster_email = state.roster.email if state.roster is not None else ""
    candidates = [roster_email] + ([] if kind == "not_applied" else [state.sender()])
    candidates = [c for c in dict.fromkeys(candidates) if c]
    refused = [c for c in candidates if c.lower() in bounced]
    for candidate in candidates:
        address = usable_address(settings, candidate)
        if address is not None and address not in bounced:
            return address, ""
    if refused:
        return None, f"邮箱 {'、'.join(refused)} 曾退信"
    return None, "名录未登记邮箱" if not candidates else "邮箱地址无法使用"


def _reminder(session: Session, settings: Settings, sources: Sources, state: UnitState, kind: str,
              bounced: set[str]) -> Reminder:
    address, reason = _address(settings, state, kind, bounced)
    campaign = settings.campaign
    latest = state.latest
    attached = [name for name, _ in blank_forms_for(settings)] if kind == "not_applied" else []
    context = {
        "attached_files": attached,
        "unit": state.name, "campaign_name": campaign.name, "office_name": campaign.office_name,
        "office_contact": campaign.office_contact, "office_address": campaign.office_address,
        "deadline": cn_datetime(campaign.deadline, settings), "paper_copies": campaign.paper_copies,
        "tables": [f"表{d.table} {d.title}" for d in sources.forms.tables],
        "sent_tables": sorted({f"表{s.table_no}" for s in state.forms}),
        "receipts": sorted({s.message.receipt_no for s in state.forms if s.message.receipt_no}),
        "received_at": cn_datetime(latest.received_at, settings) if latest is not None else "",
        "receipt_no": (latest.receipt_no or "") if latest is not None else "",
        "defects": _defects(session.get_one(Message, latest.id))
        if kind == "correction_pending" and latest is not None else [],
    }
    text = templates.render(settings, f"reminder_{kind}.txt.j2", context) or ""
    subject = f"【催报】{campaign.name}：{REMINDER_LABELS[kind]}（{state.name}）"
    unit = state.roster
    return Reminder(unit=state.name, kind=kind, address=address, contact=unit.contact if unit else "",
                    phone=unit.phone if unit else "", subject=subject, text=text, no_mail_reason=reason)


def _defects(message: Message) -> list[str]:
    """Every defect of the mail still to correct, once."""
    texts = flag_messages(message.flags) + ([message.error] if message.error else [])
    for attachment in message.attachments:
        texts += [f"附件“{attachment.path}”：{t}" for t in flag_messages(attachment.flags)]
    for sub in message.submissions:
        if sub.current:
            texts += flag_messages(sub.flags)
    return list(dict.fromkeys(t for t in texts if t))


def send_reminders(session: Session, settings: Settings, sources: Sources, now: dt.datetime, actor: Actor,
                   only: Sequence[Reminder | tuple[str, str]] | None = None) -> SendResult:
    """Queue the reminders of ``only`` (a preview, or its (unit, kind) keys as a form posts them; default:
    everything due) that are still due and have an address; the caller commits."""
    due = preview_reminders(session, settings, sources, now)
    wanted = {_key(r) for r in only} if only is not None else {r.key for r in due}
    day = today(settings, now)
    result = SendResult(queued=[], outbox_ids=[], skipped=[])
    for reminder in due:
        if reminder.key not in wanted:
            continue
        if reminder.address is None:
            result.skipped.append(reminder)
            continue
        # a unit that has not applied gets the blank 附件1 to fill in
        files = blank_forms_for(settings) if reminder.kind == "not_applied" else ()
        row = queue_notice(session, settings, kind="reminder", to=reminder.address, name=reminder.unit,
                           subject=reminder.subject, text=reminder.text, now=now, attachments=files)
        session.add(ReminderSent(unit=reminder.unit, kind=reminder.kind, day=day, address=reminder.address,
                                 outbox_id=row.id, created_at=now))
        record_action(session, actor, "reminder_sent", unit=reminder.unit,
                      detail=f"催报（{reminder.kind_label}）→ {reminder.address}")
        result.queued.append(reminder)
        result.outbox_ids.append(row.id)
    still_due = {r.key for r in due}
    result.skipped += [r for r in (only or []) if isinstance(r, Reminder) and r.key not in still_due]
    session.flush()
    return result
