"""Gather the report's facts from the database into plain dataclasses (one pass, no N+1 queries).

Both the HTML and the workbook render from ``ReportData``; nothing here formats for a medium.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mailintake.db.models import Message, OutboxItem, PaperCopy, Submission
from mailintake.office.decisions import DecisionInfo, counts_for_quota, latest_decisions
from mailintake.quotas import Quotas
from mailintake.roster import CATEGORIES, UNMATCHED, Roster, Unit, normalise
from mailintake.vocabulary import MailStatus, OutboxStatus
from parsers.definitions import FormSet

STATUS_LABELS: dict[str, str] = {
    MailStatus.accepted: "已受理",
    MailStatus.needs_correction: "需更正",
    MailStatus.late: "逾期",
    MailStatus.no_form: "无申报表",
    MailStatus.ignored: "已忽略",
    MailStatus.too_large: "过大",
    MailStatus.failed: "处理失败",
}
REPLY_KIND_LABELS: dict[str, str] = {
    "receipt": "回执",
    "correction": "更正通知",
    "late": "逾期告知",
    "no_form": "无申报表提示",
    "report": "日报",
    "reminder": "催报",
    "decision": "办公室决定通知",
    "final_report": "截止报告",
}
OUTBOX_STATUS_LABELS: dict[str, str] = {
    OutboxStatus.pending: "待发送",
    OutboxStatus.sent: "已发送",
    OutboxStatus.failed: "发送失败",
    OutboxStatus.suppressed: "未发送（已拦截）",
}
#: the submission flags the report lists, with their section titles
ISSUE_CODES: dict[str, str] = {
    "overlong": "超过字数限制的申报",
    "incomplete": "填写不完整的申报",
    "quota_exceeded": "超出申报数量限制的申报",
}
NO_UNIT = "（未填写单位）"


def report_title(campaign: str) -> str:
    """“双争双创”活动先进荣誉申报 → “双争双创”活动先进荣誉申报情况日报 (no doubled 申报)."""
    return f"{campaign}情况日报" if campaign.endswith("申报") else f"{campaign}申报情况日报"


def local(value: dt.datetime | None, tz: ZoneInfo) -> dt.datetime | None:
    return value.astimezone(tz) if value is not None else None


def flag_messages(flags: list[Any]) -> list[str]:
    """The Chinese message of each stored flag (dicts as written by Flag.to_dict)."""
    out: list[str] = []
    for flag in flags or []:
        if isinstance(flag, dict):
            out.append(str(flag.get("message") or flag.get("code") or ""))
        else:
            out.append(str(flag))
    return [m for m in out if m]


def flag_codes(flags: list[Any]) -> set[str]:
    return {str(f.get("code")) for f in flags or [] if isinstance(f, dict)}


@dataclass
class ReplyView:
    id: int
    kind: str
    kind_label: str
    recipients: list[str]
    status: str
    status_label: str
    subject: str
    attempts: int
    last_error: str
    sent_at: dt.datetime | None
    created_at: dt.datetime | None
    mail_from: str = ""
    mail_subject: str = ""
    receipt_no: str = ""


@dataclass
class MailView:
    id: int
    message_id: str
    from_addr: str
    from_name: str
    subject: str
    received_at: dt.datetime
    status: str
    status_label: str
    receipt_no: str
    attachments: list[str]
    form_count: int
    flags: list[str]
    replies: list[ReplyView]
    created_at: dt.datetime | None = None
    #: the first lines of the body (what a question or a thank-you says)
    excerpt: str = ""

    @property
    def sender(self) -> str:
        return f"{self.from_name} <{self.from_addr}>" if self.from_name else self.from_addr


@dataclass
class SubmissionView:
    id: int
    table: int
    title: str
    unit: str
    roster_unit: str
    category: str
    fields: dict[str, str]
    word_count: int
    flags: list[dict[str, Any]]
    flag_texts: list[str]
    sender: str
    sender_name: str
    subject: str
    received_at: dt.datetime
    receipt_no: str
    attachment: str
    mail_status: str
    late: bool
    #: the office's newest decision on it (同意受理 / 撤回), if any
    decision: DecisionInfo | None = None

    @property
    def to_correct(self) -> bool:
        """The form has a defect the applicant was asked to correct (待更正), else it is 已受理."""
        return bool(flag_codes(self.flags) & CORRECTION_CODES)

    @property
    def display(self) -> str:
        """A short name for lists: the unit for 表1/表2, the person (and unit) for 表3/表4."""
        person = self.fields.get("name", "")
        base = self.unit or NO_UNIT
        return f"{person}（{base}）" if person else base

    def messages_of(self, code: str) -> list[str]:
        return [str(f.get("message", "")) for f in self.flags if isinstance(f, dict) and f.get("code") == code]


#: flag codes that leave a current form waiting for the applicant's correction
CORRECTION_CODES = frozenset({"incomplete", "overlong", "unreadable", "unsupported_format", "quota_exceeded"})


@dataclass
class CategoryCount:
    category: str
    quota: int | None
    quota_text: str
    count: int
    #: of ``count``: forms read without a defect (已受理) and forms waiting for a correction (待更正)
    accepted: int = 0
    to_correct: int = 0

    @property
    def over(self) -> int:
        return max(0, self.count - self.quota) if self.quota is not None else 0


@dataclass
class HonourSummary:
    table: int
    name: str
    title: str
    total: int | None
    total_text: str
    note: str
    count: int
    categories: list[CategoryCount]
    accepted: int = 0
    to_correct: int = 0


@dataclass
class Counts:
    mails_total: int = 0
    mails_since: int = 0
    forms_total: int = 0
    forms_since: int = 0
    current_forms: int = 0
    #: status -> (total, since)
    by_status: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass
class UnitGap:
    """A unit in a list (silent units, missing paper copies)."""

    name: str
    category: str
    tables: list[int] = field(default_factory=list)
    forms: int = 0
    senders: list[str] = field(default_factory=list)


@dataclass
class PaperView:
    """One entry of the paper-copy register."""

    unit: str
    category: str
    received_on: dt.date
    note: str = ""


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


class _Matcher:
    """Roster matching cached per distinct typed name (many forms share a unit)."""

    def __init__(self, roster: Roster) -> None:
        self.roster = roster
        self._cache: dict[str, Unit | None] = {}

    def __call__(self, name: str) -> Unit | None:
        if name not in self._cache:
            self._cache[name] = self.roster.match(name)
        return self._cache[name]


def _reply_view(item: OutboxItem, tz: ZoneInfo) -> ReplyView:
    message = item.message
    return ReplyView(
        id=item.id,
        kind=item.kind,
        kind_label=REPLY_KIND_LABELS.get(item.kind, item.kind),
        recipients=[str(r) for r in item.recipients or []],
        status=item.status,
        status_label=OUTBOX_STATUS_LABELS.get(item.status, item.status),
        subject=item.subject or "",
        attempts=item.attempts or 0,
        last_error=item.last_error or "",
        sent_at=local(item.sent_at, tz),
        created_at=local(item.created_at, tz),
        mail_from=message.from_addr if message else "",
        mail_subject=message.subject if message else "",
        receipt_no=(message.receipt_no or "") if message else "",
    )


def _mail_view(message: Message, tz: ZoneInfo) -> MailView:
    received = local(message.received_at, tz)
    assert received is not None
    return MailView(
        id=message.id,
        message_id=message.message_id,
        from_addr=message.from_addr or "",
        from_name=message.from_name or "",
        subject=message.subject or "",
        received_at=received,
        status=message.status,
        status_label=STATUS_LABELS.get(message.status, message.status),
        receipt_no=message.receipt_no or "",
        attachments=[a.path for a in message.attachments],
        form_count=len(message.submissions),
        flags=_mail_defects(message),
        replies=[_reply_view(r, tz) for r in message.replies],
        created_at=local(message.created_at, tz),
        excerpt=message.body_excerpt or "",
    )


def _mail_defects(message: Message) -> list[str]:
    """Every defect of a mail, once: its own flags, its files' flags, its current forms' flags."""
    texts = flag_messages(message.flags) + ([message.error] if message.error else [])
    for attachment in message.attachments:
        texts += flag_messages(attachment.flags)
    for sub in message.submissions:
        if sub.current:
            texts += flag_messages(sub.flags)
    return list(dict.fromkeys(texts))


def _submission_view(sub: Submission, message: Message, match: _Matcher, tz: ZoneInfo) -> SubmissionView:
    unit = match(sub.unit or "")
    received = local(sub.received_at or message.received_at, tz)
    assert received is not None
    codes = flag_codes(sub.flags)
    return SubmissionView(
        id=sub.id,
        table=sub.table_no,
        title=sub.title,
        unit=sub.unit or "",
        roster_unit=unit.name if unit else "",
        category=unit.category if unit else UNMATCHED,
        fields={str(k): "" if v is None else str(v) for k, v in (sub.fields or {}).items()},
        word_count=sub.word_count or 0,
        flags=[f for f in sub.flags or [] if isinstance(f, dict)],
        flag_texts=flag_messages(sub.flags),
        sender=message.from_addr or "",
        sender_name=message.from_name or "",
        subject=message.subject or "",
        received_at=received,
        receipt_no=message.receipt_no or "",
        attachment=sub.attachment.path if sub.attachment is not None else "",
        mail_status=message.status,
        late=message.status == MailStatus.late or "late" in codes,
    )


def _is_new(created: dt.datetime | None, since: dt.datetime | None) -> bool:
    return since is None or (created is not None and created > since)


def _pending_corrections(messages: list[Message], views: dict[int, MailView]) -> list[MailView]:
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
    match = _Matcher(roster)
    messages = list(session.scalars(
        select(Message)
        .options(
            selectinload(Message.attachments),
            selectinload(Message.submissions).selectinload(Submission.attachment),
            selectinload(Message.replies),
        )
        .order_by(Message.received_at, Message.id)
    ))
    views = {m.id: _mail_view(m, tz) for m in messages}
    failed = list(session.scalars(
        select(OutboxItem).options(selectinload(OutboxItem.message))
        .where(OutboxItem.status == OutboxStatus.failed).order_by(OutboxItem.id)
    ))
    papers = list(session.scalars(select(PaperCopy)))

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
    current = sorted(
        (_submission_view(s, m, match, tz) for s, m in all_subs if s.current),
        key=lambda v: (v.table, v.received_at, v.id),
    )
    counts.current_forms = len(current)
    decided = latest_decisions(session, [v.id for v in current])
    for view in current:
        view.decision = decided.get(view.id)
    counting = [v for v in current if counts_for_quota(v.late, v.decision)]

    honours: list[HonourSummary] = []
    for definition in forms.tables:
        try:
            quota = quotas.get(definition.table)
        except KeyError:
            quota = None
        of_table = [v for v in counting if v.table == definition.table]
        per_category: dict[str, int] = defaultdict(int)
        correcting: dict[str, int] = defaultdict(int)
        for view in of_table:
            per_category[view.category] += 1
            correcting[view.category] += view.to_correct
        categories = []
        for category in (*roster.categories, UNMATCHED):
            cq = quota.quota(category) if quota else None
            if category == UNMATCHED and not per_category.get(UNMATCHED):
                continue
            count = per_category.get(category, 0)
            categories.append(CategoryCount(category, cq.quota if cq else None, cq.text if cq else "—",
                                            count, count - correcting[category], correcting[category]))
        honours.append(HonourSummary(
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
        ))

    issues = {code: [v for v in current if code in flag_codes(v.flags)] for code in ISSUE_CODES}
    unreadable: list[tuple[MailView, str, str]] = []
    for message in messages:
        if message.status == MailStatus.ignored:
            continue
        for attachment in message.attachments:
            for text in flag_messages(attachment.flags):
                unreadable.append((views[message.id], attachment.path, text))

    # units: who sent anything, who still owes paper copies, which names match nothing
    sent_units: set[str] = set()
    senders = {(m.from_addr or "").lower() for m in messages if m.status != MailStatus.ignored}
    for sub, _message in all_subs:
        unit = match(sub.unit or "")
        if unit is not None:
            sent_units.add(unit.name)
    silent = [u for u in roster.units if u.name not in sent_units and not (u.email and u.email in senders)]

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

    return ReportData(
        campaign=campaign,
        office=office,
        for_date=for_date,
        generated_at=now.astimezone(tz),
        since=local(since, tz),
        deadline=(deadline or now).astimezone(tz),
        max_chars=max_chars,
        counts=counts,
        honours=honours,
        late_mails=[views[m.id] for m in messages if m.status == MailStatus.late],
        issues=issues,
        unreadable=unreadable,
        pending_corrections=_pending_corrections(messages, views),
        failed_replies=[_reply_view(r, tz) for r in failed],
        silent_units=silent,
        paper_missing=sorted(owed.values(), key=_unit_order(roster)),
        unmatched=sorted(unmatched.values(), key=lambda g: g.name),
        submissions=current,
        mails=list(views.values()),
        forms=forms,
        decisions=[v for v in current if v.decision is not None],
        reminders=[_reply_view(r, tz) for r in session.scalars(
            select(OutboxItem).where(OutboxItem.kind == "reminder").order_by(OutboxItem.id))],
        console_url=console_url.rstrip("/"),
        manual=[views[m.id] for m in messages if m.status == MailStatus.no_form],
        paper_received=_paper_register(papers, match, roster),
    )


def _paper_register(papers: list[PaperCopy], match: _Matcher, roster: Roster) -> list[PaperView]:
    """Every recorded arrival of paper copies, in 附件2 category and roster order."""
    order = _unit_order(roster)
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


def _unit_order(roster: Roster) -> Callable[[UnitGap], tuple[int, int, str]]:
    """Category order of 附件2, then roster order, then the name (for units outside the roster)."""
    order = (*roster.categories, UNMATCHED)
    position = {unit.name: i for i, unit in enumerate(roster.units)}

    def key(gap: UnitGap) -> tuple[int, int, str]:
        category = order.index(gap.category) if gap.category in order else len(order)
        return (category, position.get(gap.name, len(position)), gap.name)

    return key
