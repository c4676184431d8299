"""Gather the report's facts from the database into plain dataclasses (one pass, no N+1 queries).

Both the HTML and the workbook render from ``ReportData``; nothing here formats for a medium. The rows
are in :mod:`mailintake.report.rows`, the sections computed from them in :mod:`mailintake.report.sections`,
the labels in :mod:`mailintake.db.labels`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mailintake.campaign.decisions import counts_for_quota, latest_decisions
from mailintake.campaign.quotas import Quotas
from mailintake.campaign.roster import CATEGORIES, Roster, Unit
from mailintake.db.labels import ISSUE_CODES, flag_codes, local, report_title
from mailintake.db.models import Message, OutboxItem, PaperCopy, Submission
from mailintake.db.vocabulary import MailStatus, OutboxStatus
from mailintake.report.rows import (
    Counts,
    HonourSummary,
    MailView,
    Matcher,
    PaperView,
    ReplyView,
    SubmissionView,
    UnitGap,
    mail_view,
    reply_view,
    submission_view,
)
from mailintake.report.sections import (
    honour_summaries,
    paper_register,
    pending_corrections,
    silent_units,
    tally,
    unit_gaps,
    unit_order,
    unreadable_files,
)
from parsers.definitions import FormSet


@dataclass
class ReportFiles:
    html_path: Path
    xlsx_path: Path
    summary: dict[str, Any] = field(default_factory=dict)
    report_id: int | None = None
    for_date: dt.date = dt.date(1970, 1, 1)


@dataclass
class ReportData:
    campaign: str
    office: str
    for_date: dt.date
    generated_at: dt.datetime
    since: dt.datetime | None
    deadline: dt.datetime
    max_chars: int
    counts: Counts
    honours: list[HonourSummary]
    late_mails: list[MailView]
    issues: dict[str, list[SubmissionView]]
    unreadable: list[tuple[MailView, str, str]]
    pending_corrections: list[MailView]
    failed_replies: list[ReplyView]
    silent_units: list[Unit]
    paper_missing: list[UnitGap]
    unmatched: list[UnitGap]
    submissions: list[SubmissionView]
    mails: list[MailView]
    forms: FormSet
    categories: tuple[str, ...] = CATEGORIES
    #: current submissions with an office decision
    decisions: list[SubmissionView] = field(default_factory=list)
    #: reminders (催报) queued, and the units to remind by phone (filled in by ``report.collect``)
    reminders: list[ReplyView] = field(default_factory=list)
    phone_reminders: list[Any] = field(default_factory=list)
    #: the console's address ([web] base_url, no trailing slash): mails and units link to their pages
    console_url: str = ""
    #: mails with no form (questions, thanks, chatter, stray files): a person reads and answers them
    manual: list[MailView] = field(default_factory=list)
    #: the paper-copy register: units whose stamped copies arrived, with the date
    paper_received: list[PaperView] = field(default_factory=list)

    @property
    def roster_has_email(self) -> bool:
        """Whether the roster's e-mail column holds anything worth a column in the lists."""
        return any(unit.email for unit in self.silent_units)

    @property
    def title(self) -> str:
        return report_title(self.campaign)

    def summary(self) -> dict[str, Any]:
        """Counts for logs and the command line."""
        return {
            "for_date": self.for_date.isoformat(),
            "mails_total": self.counts.mails_total,
            "mails_since": self.counts.mails_since,
            "forms_total": self.counts.forms_total,
            "forms_since": self.counts.forms_since,
            "current_forms": self.counts.current_forms,
            "by_table": {h.table: h.count for h in self.honours},
            "late": len(self.late_mails),
            **{code: len(items) for code, items in self.issues.items()},
            "pending_corrections": len(self.pending_corrections),
            "failed_replies": len(self.failed_replies),
            "silent_units": len(self.silent_units),
            "paper_missing": len(self.paper_missing),
            "paper_received": len(self.paper_received),
            "manual": len(self.manual),
            "unmatched": len(self.unmatched),
        }


def _messages(session: Session) -> list[Message]:
    return list(session.scalars(
        select(Message)
        .options(
            selectinload(Message.attachments),
            selectinload(Message.submissions).selectinload(Submission.attachment),
            selectinload(Message.replies),
        )
        .order_by(Message.received_at, Message.id)
    ))


def _failed_replies(session: Session) -> list[OutboxItem]:
    return list(session.scalars(
        select(OutboxItem).options(selectinload(OutboxItem.message))
        .where(OutboxItem.status == OutboxStatus.failed).order_by(OutboxItem.id)
    ))


def gather(
    session: Session,
    *,
    roster: Roster,
    quotas: Quotas,
    forms: FormSet,
    tz: ZoneInfo,
    for_date: dt.date,
    now: dt.datetime,
    since: dt.datetime | None,
    campaign: str = "",
    office: str = "",
    deadline: dt.datetime | None = None,
    max_chars: int = 1000,
    console_url: str = "",
) -> ReportData:
    """Read everything the report shows with a fixed number of queries."""
    match = Matcher(roster)
    messages = _messages(session)
    views = {m.id: mail_view(m, tz) for m in messages}
    papers = list(session.scalars(select(PaperCopy)))
    counts, all_subs = tally(messages, since)
    current = sorted(
        (submission_view(s, m, match, tz) for s, m in all_subs if s.current),
        key=lambda v: (v.table, v.received_at, v.id),
    )
    counts.current_forms = len(current)
    decided = latest_decisions(session, [v.id for v in current])
    for view in current:
        view.decision = decided.get(view.id)
    counting = [v for v in current if counts_for_quota(v.late, v.decision)]
    owed, unmatched = unit_gaps(papers, counting, current, match)
    return ReportData(
        campaign=campaign,
        office=office,
        for_date=for_date,
        generated_at=now.astimezone(tz),
        since=local(since, tz),
        deadline=(deadline or now).astimezone(tz),
        max_chars=max_chars,
        counts=counts,
        honours=honour_summaries(forms, quotas, counting, roster.categories),
        late_mails=[views[m.id] for m in messages if m.status == MailStatus.late],
        issues={code: [v for v in current if code in flag_codes(v.flags)] for code in ISSUE_CODES},
        unreadable=unreadable_files(messages, views),
        pending_corrections=pending_corrections(messages, views),
        failed_replies=[reply_view(r, tz) for r in _failed_replies(session)],
        silent_units=silent_units(roster, messages, all_subs, match),
        paper_missing=sorted(owed.values(), key=unit_order(roster)),
        unmatched=sorted(unmatched.values(), key=lambda g: g.name),
        submissions=current,
        mails=list(views.values()),
        forms=forms,
        decisions=[v for v in current if v.decision is not None],
        reminders=[reply_view(r, tz) for r in session.scalars(
            select(OutboxItem).where(OutboxItem.kind == "reminder").order_by(OutboxItem.id))],
        console_url=console_url.rstrip("/"),
        manual=[views[m.id] for m in messages if m.status == MailStatus.no_form],
        paper_received=paper_register(papers, match, roster),
    )
