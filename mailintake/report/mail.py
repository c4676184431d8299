"""The report mail: HTML body (with a plain-text part) and the workbook attached, queued in the outbox."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailintake.config.settings import Settings
from mailintake.db.labels import report_title
from mailintake.db.models import OutboxItem, Report
from mailintake.db.vocabulary import OutboxStatus
from mailintake.errors import ConfigError
from mailintake.util.text import one_line

if TYPE_CHECKING:
    from mailintake.report.data import ReportFiles

XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def report_subject(settings: Settings, for_date: dt.date) -> str:
    return one_line(f"{report_title(settings.campaign.name)}（{for_date.isoformat()}）")


def attachment_name(settings: Settings, for_date: dt.date) -> str:
    """``双争双创申报汇总表-2019-12-19.xlsx``: [campaign] report_file and the date."""
    return f"{settings.campaign.report_file}-{for_date.isoformat()}.xlsx"


def _plain_text(settings: Settings, files: ReportFiles) -> str:
    s = files.summary
    return (
        f"{report_subject(settings, files.for_date)}\n\n"
        f"新收邮件 {s.get('mails_since', 0)} 封、申报表 {s.get('forms_since', 0)} 份；"
        f"累计邮件 {s.get('mails_total', 0)} 封、申报表 {s.get('forms_total', 0)} 份，"
        f"当前有效 {s.get('current_forms', 0)} 份。\n"
        "详细情况请查看本邮件的网页正文及所附汇总表。\n"
    )


def build_report_message(settings: Settings, files: ReportFiles, *, now: dt.datetime | None = None) -> EmailMessage:
    sender = settings.smtp.sender or settings.smtp.username or settings.mailbox.username
    if "@" not in sender:
        raise ConfigError("config: [smtp] sender is empty; set the address the report is sent from")
    recipients = [one_line(r) for r in settings.report.recipients if "@" in r]
    if not recipients:
        raise ConfigError("config: [report] recipients is empty; list the office's addresses to mail the report to")
    message = EmailMessage(policy=SMTP)
    message["From"] = formataddr((one_line(settings.smtp.sender_name), one_line(sender)))
    message["To"] = ", ".join(recipients)
    message["Subject"] = report_subject(settings, files.for_date)
    message["Date"] = format_datetime(now or dt.datetime.now(dt.UTC))
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(_plain_text(settings, files))
    message.add_alternative(files.html_path.read_text("utf-8"), subtype="html")
    message.add_attachment(files.xlsx_path.read_bytes(), maintype=XLSX_TYPE[0], subtype=XLSX_TYPE[1],
                           filename=attachment_name(settings, files.for_date))
    return message


def queue_report_mail(settings: Settings, session: Session, files: ReportFiles) -> OutboxItem:
    """Queue the report for ``[report] recipients``; the sender module delivers it."""
    message = build_report_message(settings, files)
    item = OutboxItem(
        message_pk=None,
        kind="report",
        recipients=list(settings.report.recipients),
        cc=[],
        subject=str(message["Subject"]),
        raw=message.as_bytes(policy=SMTP),
        status=OutboxStatus.pending,
    )
    session.add(item)
    if files.report_id is not None:
        report = session.scalars(select(Report).where(Report.id == files.report_id)).first()
        if report is not None:
            report.sent = True
    session.flush()
    return item
