"""催报: the reminders due now, split into those that go by mail and those the office phones."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from mailintake.campaign.sources import Sources
from mailintake.config.settings import Settings
from mailintake.office.reminders import Reminder, preview_reminders


@dataclass(frozen=True)
class ReminderPreview:
    by_mail: list[Reminder]
    #: 需电话催报: no usable address (none in the roster, or it bounced)
    by_phone: list[Reminder]

    @property
    def keys(self) -> list[str]:
        """The previewed (unit, kind) pairs as the send form posts them."""
        return [form_key(r) for r in self.by_mail]


def form_key(reminder: Reminder) -> str:
    """``kind|unit``: the kind is a fixed identifier, so the first ``|`` separates the two."""
    return f"{reminder.kind}|{reminder.unit}"


def parse_keys(values: list[str]) -> list[tuple[str, str]]:
    """(unit, kind) pairs from posted ``kind|unit`` values; malformed ones are dropped."""
    pairs = []
    for value in values:
        kind, sep, unit = value.partition("|")
        if sep and kind and unit:
            pairs.append((unit, kind))
    return pairs


def reminder_preview(session: Session, settings: Settings, sources: Sources, now: dt.datetime) -> ReminderPreview:
    due = preview_reminders(session, settings, sources, now)
    return ReminderPreview(by_mail=[r for r in due if r.address is not None],
                           by_phone=[r for r in due if r.address is None])
