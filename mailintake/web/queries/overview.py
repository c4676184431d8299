"""The overview: deadline, mails by status, forms per table against 附件2, replies, the worker's pulse."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailintake.campaign.roster import UNMATCHED
from mailintake.campaign.sources import Sources
from mailintake.config.settings import Settings
from mailintake.db.health import MAILBOX, outage
from mailintake.db.labels import STATUS_LABELS
from mailintake.db.models import Message, OutboxItem, PollRun, Report, Submission
from mailintake.db.vocabulary import MailStatus, OutboxStatus
from mailintake.office.answers import count_waiting
from mailintake.outbox.health import smtp_outage
from mailintake.web.queries.units import units_overview


@dataclass
class TableUse:
    table: int
    name: str
    count: int
    total_text: str
    total: int | None
    #: (category, count, quota text)
    categories: list[tuple[str, int, str]] = field(default_factory=list)

    @property
    def over(self) -> bool:
        return self.total is not None and self.count > self.total


@dataclass
class Overview:
    deadline: dt.datetime
    left: str
    closed: bool
    statuses: list[tuple[str, str, int]]
    mails_total: int
    tables: list[TableUse]
    replies_pending: int
    replies_failed: int
    last_poll: dt.datetime | None
    last_poll_error: str | None
    stale: bool
    report_id: int | None
    report_date: dt.date | None
    #: the clerk's to-do list: (label, count, link)
    todo: list[tuple[str, int, str]] = field(default_factory=list)
    #: SMTP unreachable since (None: the last connection opened) and why
    smtp_down_since: dt.datetime | None = None
    smtp_cause: str = ""
    imap_down_since: dt.datetime | None = None
    imap_cause: str = ""


def time_left(deadline: dt.datetime, now: dt.datetime) -> tuple[str, bool]:
    if now >= deadline:
        return "已截止", True
    minutes = int((deadline - now).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    return (f"{days} 天 {hours} 小时" if days else f"{hours} 小时 {mins} 分钟"), False


def table_use(session: Session, sources: Sources) -> list[TableUse]:
    """Current, not-late forms per table and 附件2 category (the count the quotas apply to)."""
    rows = session.execute(
        select(Submission.table_no, Submission.unit, func.count())
        .join(Message, Message.id == Submission.message_pk)
        .where(Submission.current.is_(True), Message.status != MailStatus.late)
        .group_by(Submission.table_no, Submission.unit)
    ).all()
    per: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for table, unit, count in rows:
        match = sources.roster.match(unit or "")
        per[table][match.category if match else UNMATCHED] += count
    result = []
    for definition in sources.forms.tables:
        try:
            quota = sources.quotas.get(definition.table)
        except KeyError:
            quota = None
        counts = per.get(definition.table, {})
        use = TableUse(definition.table, quota.name if quota else definition.name, sum(counts.values()),
                       quota.total_text if quota else "—", quota.total if quota else None)
        for category in (*sources.roster.categories, UNMATCHED):
            cq = quota.quota(category) if quota else None
            if category != UNMATCHED or counts.get(UNMATCHED):
                use.categories.append((category, counts.get(category, 0), cq.text if cq else "—"))
        result.append(use)
    return result


def overview(session: Session, settings: Settings, sources: Sources, now: dt.datetime) -> Overview:
    by_status = dict(session.execute(select(Message.status, func.count()).group_by(Message.status)).all())
    order = list(STATUS_LABELS)
    statuses = [(s, STATUS_LABELS.get(s, s), int(by_status[s]))
                for s in sorted(by_status, key=lambda s: order.index(s) if s in order else len(order))]
    outbox = dict(session.execute(select(OutboxItem.status, func.count()).group_by(OutboxItem.status)).all())
    poll = session.scalars(select(PollRun).order_by(PollRun.id.desc()).limit(1)).first()
    report = session.scalars(select(Report).order_by(Report.generated_at.desc(), Report.id.desc()).limit(1)).first()
    last = (poll.finished_at or poll.started_at) if poll is not None else None
    stale = last is None or (now - last).total_seconds() > 2 * settings.schedule.poll_interval
    left, closed = time_left(settings.campaign.deadline, now)
    smtp_down = smtp_outage(session)
    imap_down = outage(session, MAILBOX)
    tables = table_use(session, sources)
    units, _ = units_overview(session, sources.roster)
    over = sum(1 for t in tables if t.over) + sum(
        1 for t in tables for _, count, quota in t.categories if quota.isdigit() and count > int(quota))
    todo = [
        ("待答复的来信", count_waiting(session), "/mails?waiting=1"),
        ("待更正的申报", int(by_status.get(MailStatus.needs_correction, 0)), "/mails?status=needs_correction"),
        ("尚未申报的单位", sum(1 for u in units if not u.total), "/units?applied=no"),
        ("纸质材料未收到", sum(1 for u in units if u.total and u.paper is None), "/units?paper=missing"),
        ("回复发送失败", int(outbox.get(OutboxStatus.failed, 0)), "/mails?reply=failed"),
        ("超出名额", over, "#quota"),
    ]
    return Overview(
        deadline=settings.campaign.deadline, left=left, closed=closed, statuses=statuses,
        mails_total=sum(int(v) for v in by_status.values()), tables=tables, todo=todo,
        replies_pending=int(outbox.get(OutboxStatus.pending, 0)),
        replies_failed=int(outbox.get(OutboxStatus.failed, 0)),
        last_poll=last, last_poll_error=poll.error if poll is not None else None, stale=stale,
        report_id=report.id if report else None, report_date=report.for_date if report else None,
        smtp_down_since=smtp_down.since if smtp_down else None, smtp_cause=smtp_down.cause if smtp_down else "",
        imap_down_since=imap_down.since if imap_down else None, imap_cause=imap_down.cause if imap_down else "",
    )
