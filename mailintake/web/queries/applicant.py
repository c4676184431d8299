"""What one sender address may see about itself: its mails, the forms read from them, what to fix, the
office's notified decisions, the paper copies of its units and the deadline. Nothing else is queried:
every row read here is selected by that address (or by the forms its mails carried).

The wording of forms and defects is the replies' (``outbox.compose.Composer``), so the page and the
mails never disagree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from mailintake.config.settings import Settings
from mailintake.db.models import Decision, Message, PaperCopy, Submission
from mailintake.db.vocabulary import MailStatus
from mailintake.mail.model import is_junk_path
from mailintake.office.decisions import DECISION_LABELS
from mailintake.outbox.compose import AttachmentView, Composer
from mailintake.report.sections import reading_failures
from mailintake.util.text import cn_datetime
from parsers.rules import box_counts

#: a mail's status as the applicant reads it
STATUS_TEXT: dict[str, str] = {
    MailStatus.accepted: "已受理",
    MailStatus.needs_correction: "需修改后重新发送",
    MailStatus.too_large: "邮件过大，未能读取",
    MailStatus.late: "截止后收到（逾期）",
    MailStatus.no_form: "未发现申报表，已转办公室阅处",
    MailStatus.ignored: "自动邮件，无需处理",
    MailStatus.failed: "正在处理",
}


@dataclass
class FileLine:
    path: str
    #: 申报表 | 其他附件 | 无法读取
    kind: str
    note: str = ""


@dataclass
class FormLine:
    heading: str
    who: str
    project: str
    boxes: list[tuple[str, int]]
    total: int
    limit: int
    current: bool
    defects: list[str] = field(default_factory=list)
    decision: str = ""

    @property
    def overlong(self) -> bool:
        return self.total > self.limit


@dataclass
class MailLine:
    received_at: str
    receipt_no: str
    status: str
    subject: str
    files: list[FileLine] = field(default_factory=list)
    forms: list[FormLine] = field(default_factory=list)
    #: problems of the mail itself and of its files (not of a form), while the mail awaits a correction
    problems: list[str] = field(default_factory=list)
    #: the mail's own problems (its files' are shown beside each file)
    mail_problems: list[str] = field(default_factory=list)


@dataclass
class ApplicantStatus:
    address: str
    campaign: str
    office_name: str
    office_contact: str
    office_address: str
    deadline: str
    time_left: str
    closed: bool
    paper_copies: int
    mails: list[MailLine]
    #: what is still to fix: the defects of current forms and of the latest mail
    to_fix: list[str]
    #: (unit, 已收到 date text or "")
    paper: list[tuple[str, str]]


def time_left(deadline: dt.datetime, now: dt.datetime) -> str:
    """``还剩 2 天 5 小时 30 分`` or ``已截止``."""
    seconds = int((deadline - now).total_seconds())
    if seconds <= 0:
        return "已截止"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = ([f"{days} 天"] if days else []) + ([f"{hours} 小时"] if days or hours else []) + [f"{minutes} 分"]
    return "还剩 " + " ".join(parts)


def _notified_decisions(session: Session, submission_ids: list[int], settings: Settings) -> dict[int, str]:
    """The newest decision of each submission, when the applicant was told of it (else nothing)."""
    if not submission_ids:
        return {}
    rows = session.scalars(select(Decision).where(Decision.submission_id.in_(submission_ids))
                           .order_by(Decision.at, Decision.id))
    newest = {row.submission_id: row for row in rows}
    tz = settings.campaign.tz
    return {sid: f"{DECISION_LABELS.get(row.kind, row.kind)}（{cn_datetime(row.at, tz)}）：{row.reason}"
            for sid, row in newest.items() if row.notified}


def _files(message: Message, composer: Composer) -> list[FileLine]:
    with_forms = {s.attachment_id for s in message.submissions}
    lines: list[FileLine] = []
    for attachment in message.attachments:
        if is_junk_path(attachment.path):
            continue
        failures = reading_failures(attachment)
        if attachment.id in with_forms:
            lines.append(FileLine(attachment.path, "申报表"))
        elif failures:
            lines.append(FileLine(attachment.path, "无法读取", composer.flag_line(failures[0])))
        else:
            lines.append(FileLine(attachment.path, "其他附件"))
    return lines


def _form(submission: Submission, composer: Composer, decisions: dict[int, str]) -> FormLine:
    view = composer.form_view(submission)
    fields = {str(k): str(v) for k, v in (submission.fields or {}).items()}
    boxes: list[tuple[str, int]] = []
    if composer.forms is not None:
        try:
            boxes = box_counts(composer.forms.get(submission.table_no), fields)
        except KeyError:
            boxes = []
    return FormLine(heading=view.heading, who=view.who, project=fields.get("project", "").strip()[:200],
                    boxes=boxes, total=submission.word_count, limit=view.max_chars, current=submission.current,
                    defects=view.defects, decision=decisions.get(submission.id, ""))


def applicant_status(session: Session, settings: Settings, address: str, now: dt.datetime) -> ApplicantStatus:
    """The page of ``address`` (already normalised): only its own mails, oldest first."""
    messages = list(session.scalars(
        select(Message).where(func.lower(Message.from_addr) == address)
        .options(selectinload(Message.attachments), selectinload(Message.submissions))
        .order_by(Message.received_at, Message.id)))
    composer = Composer(settings)
    submissions = [s for m in messages for s in m.submissions]
    decisions = _notified_decisions(session, [s.id for s in submissions], settings)
    tz = settings.campaign.tz
    mails: list[MailLine] = []
    for message in messages:
        own = [composer.flag_line(flag) for flag in message.flags or []]
        problems = list(own)
        for attachment in message.attachments:
            failures = [composer.flag_line(f) for f in reading_failures(attachment)]
            problems += AttachmentView(path=attachment.path, defects=failures).lines
        mails.append(MailLine(
            received_at=cn_datetime(message.received_at, tz), receipt_no=message.receipt_no or "",
            status=STATUS_TEXT.get(message.status, message.status), subject=message.subject[:150],
            files=_files(message, composer),
            forms=[_form(s, composer, decisions) for s in message.submissions],
            problems=list(dict.fromkeys(p for p in problems if p)) if message.status in (
                MailStatus.needs_correction, MailStatus.too_large) else [],
            mail_problems=list(dict.fromkeys(p for p in own if p)),
        ))
    to_fix = [f"{form.heading}（{form.who}）：{line}" for mail in mails for form in mail.forms if form.current
              for line in form.defects]
    if mails and messages[-1].status in (MailStatus.needs_correction, MailStatus.too_large):
        to_fix += mails[-1].problems
    units = sorted({s.unit for s in submissions if s.current and s.unit})
    received = {row.unit: row.received_on for row in session.scalars(
        select(PaperCopy).where(PaperCopy.unit.in_(units)))} if units else {}
    campaign = settings.campaign
    return ApplicantStatus(
        address=address, campaign=campaign.name, office_name=campaign.office_name,
        office_contact=campaign.office_contact, office_address=campaign.office_address,
        deadline=cn_datetime(campaign.deadline, tz), time_left=time_left(campaign.deadline, now),
        closed=now >= campaign.deadline, paper_copies=campaign.paper_copies, mails=mails,
        to_fix=list(dict.fromkeys(to_fix)),
        paper=[(unit, f"{received[unit].year}年{received[unit].month}月{received[unit].day}日"
                if unit in received else "") for unit in units],
    )
