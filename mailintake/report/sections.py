"""The report's sections computed from its rows: counts, honours per table, issues, silent units, paper copies."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from mailintake.campaign.quotas import HonourQuota, Quotas
from mailintake.campaign.roster import UNMATCHED, Roster, Unit, normalise
from mailintake.db.labels import NO_UNIT, STATUS_LABELS, flag_messages
from mailintake.db.models import AttachmentRow, Message, PaperCopy, Submission
from mailintake.db.vocabulary import MailStatus
from mailintake.report.rows import (
    CategoryCount,
    Counts,
    HonourSummary,
    MailView,
    Matcher,
    PaperView,
    SubmissionView,
    UnitGap,
)
from parsers.definitions import FormDefinition, FormSet
from parsers.sniff import reading_failure


def _is_new(created: dt.datetime | None, since: dt.datetime | None) -> bool:
    return since is None or (created is not None and created > since)


def tally(messages: list[Message], since: dt.datetime | None) -> tuple[Counts, list[tuple[Submission, Message]]]:
    """Mails and forms in all and since the last report, by status; and every form with its mail."""
    counts = Counts()
    by_status: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    all_subs: list[tuple[Submission, Message]] = []
    for message in messages:
        new = _is_new(message.created_at, since)
        counts.mails_total += 1
        counts.mails_since += new
        by_status[message.status][0] += 1
        by_status[message.status][1] += new
        for sub in message.submissions:
            counts.forms_total += 1
            counts.forms_since += _is_new(sub.created_at, since)
            all_subs.append((sub, message))
    order = list(STATUS_LABELS)
    for status in sorted(by_status, key=lambda s: order.index(s) if s in order else len(order)):
        counts.by_status[status] = (by_status[status][0], by_status[status][1])
    return counts, all_subs


def honour_summaries(forms: FormSet, quotas: Quotas, counting: list[SubmissionView],
                     categories: tuple[str, ...]) -> list[HonourSummary]:
    """Per table of the forms: the forms that count, per 附件2 category, against the quota."""
    honours: list[HonourSummary] = []
    for definition in forms.tables:
        try:
            quota = quotas.get(definition.table)
        except KeyError:
            quota = None
        honours.append(_honour(definition, quota, [v for v in counting if v.table == definition.table], categories))
    return honours


def _honour(definition: FormDefinition, quota: HonourQuota | None, of_table: list[SubmissionView],
            categories_in_order: tuple[str, ...]) -> HonourSummary:
    per_category: dict[str, int] = defaultdict(int)
    correcting: dict[str, int] = defaultdict(int)
    for view in of_table:
        per_category[view.category] += 1
        correcting[view.category] += view.to_correct
    categories = []
    for category in (*categories_in_order, UNMATCHED):
        cq = quota.quota(category) if quota else None
        if category == UNMATCHED and not per_category.get(UNMATCHED):
            continue
        count = per_category.get(category, 0)
        categories.append(CategoryCount(category, cq.quota if cq else None, cq.text if cq else "—",
                                        count, count - correcting[category], correcting[category]))
    return HonourSummary(
        table=definition.table,
        name=quota.name if quota else definition.name,
        title=definition.title,
        total=quota.total if quota else None,
        total_text=quota.total_text if quota else "—",
        note=quota.note if quota else "",
        count=len(of_table),
        categories=categories,
        accepted=sum(not v.to_correct for v in of_table),
        to_correct=sum(v.to_correct for v in of_table),
    )


def reading_failures(attachment: AttachmentRow) -> list[dict[str, Any]]:
    """The stored flags saying a file tried as a form could not be read (a scan's or a photo's note is not one)."""
    return [flag for flag in attachment.flags or [] if isinstance(flag, dict)
            and reading_failure(str(flag.get("code")), attachment.format, attachment.path)]


def unreadable_files(messages: list[Message], views: dict[int, MailView]) -> list[tuple[MailView, str, str]]:
    """Each file of a mail (not ignored) that was tried as a form and could not be read: (its mail, its name,
    the flag's message). Scans, photos and other files beside a form (其他附件) are never listed here."""
    unreadable: list[tuple[MailView, str, str]] = []
    for message in messages:
        if message.status == MailStatus.ignored:
            continue
        for attachment in message.attachments:
            for text in flag_messages(reading_failures(attachment)):
                unreadable.append((views[message.id], attachment.path, text))
    return unreadable


def silent_units(roster: Roster, messages: list[Message], all_subs: list[tuple[Submission, Message]],
                 match: Matcher) -> list[Unit]:
    """Roster units that sent nothing: no form names them and their address wrote no mail."""
    sent_units: set[str] = set()
    senders = {(m.from_addr or "").lower() for m in messages if m.status != MailStatus.ignored}
    for sub, _message in all_subs:
        unit = match(sub.unit or "")
        if unit is not None:
            sent_units.add(unit.name)
    return [u for u in roster.units if u.name not in sent_units and not (u.email and u.email in senders)]


def unit_gaps(papers: list[PaperCopy], counting: list[SubmissionView], current: list[SubmissionView],
              match: Matcher) -> tuple[dict[str, UnitGap], dict[str, UnitGap]]:
    """Units that still owe paper copies, and typed unit names that match no roster unit."""
    paper_keys: set[str] = set()
    for paper in papers:
        unit = match(paper.unit)
        paper_keys.add(unit.name if unit else normalise(paper.unit))
    owed: dict[str, UnitGap] = {}
    unmatched: dict[str, UnitGap] = {}
    for view in counting:
        if not view.unit.strip():
            continue
        key = view.roster_unit or normalise(view.unit)
        if key not in paper_keys:
            gap = owed.setdefault(key, UnitGap(view.roster_unit or view.unit, view.category))
            _add(gap, view)
    for view in current:
        if not view.roster_unit:
            gap = unmatched.setdefault(normalise(view.unit), UnitGap(view.unit or NO_UNIT, UNMATCHED))
            _add(gap, view)
    return owed, unmatched


def pending_corrections(messages: list[Message], views: dict[int, MailView]) -> list[MailView]:
    """needs_correction mails with no later mail from the sender and a flagged form still current."""
    latest: dict[str, dt.datetime] = {}
    for message in messages:
        sender = (message.from_addr or "").lower()
        if sender and (sender not in latest or message.received_at > latest[sender]):
            latest[sender] = message.received_at
    pending: list[MailView] = []
    for message in messages:
        if message.status != MailStatus.needs_correction:
            continue
        sender = (message.from_addr or "").lower()
        if sender and latest.get(sender, message.received_at) > message.received_at:
            continue
        flagged = [s for s in message.submissions if s.flags]
        if flagged and not any(s.current for s in flagged):
            continue
        pending.append(views[message.id])
    return pending


def paper_register(papers: list[PaperCopy], match: Matcher, roster: Roster) -> list[PaperView]:
    """Every recorded arrival of paper copies, in 附件2 category and roster order."""
    order = unit_order(roster)
    views = []
    for paper in papers:
        unit = match(paper.unit)
        views.append(PaperView(unit.name if unit else paper.unit, unit.category if unit else UNMATCHED,
                               paper.received_on, paper.note or ""))
    return sorted(views, key=lambda v: (order(UnitGap(v.unit, v.category)), v.received_on))


def _add(gap: UnitGap, view: SubmissionView) -> None:
    gap.forms += 1
    if view.table not in gap.tables:
        gap.tables.append(view.table)
        gap.tables.sort()
    if view.sender and view.sender not in gap.senders:
        gap.senders.append(view.sender)


def unit_order(roster: Roster) -> Callable[[UnitGap], tuple[int, int, str]]:
    """Category order of 附件2, then roster order, then the name (for units outside the roster)."""
    order = (*roster.categories, UNMATCHED)
    position = {unit.name: i for i, unit in enumerate(roster.units)}

    def key(gap: UnitGap) -> tuple[int, int, str]:
        category = order.index(gap.category) if gap.category in order else len(order)
        return (category, position.get(gap.name, len(position)), gap.name)

    return key
