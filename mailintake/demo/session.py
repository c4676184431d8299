"""The one-command demo: the whole job against local servers with realistic sample mail.

``run_demo`` starts pymap (IMAP) and an aiosmtpd sink on free loopback ports, writes a config
pointing at them (SQLite database and storage inside the demo directory), appends the sample
mails with INTERNALDATEs around the deadline, runs the worker's cycle (poll + deliver) and the
daily report, and returns what happened. No credentials, no network. The CLI prints it
(``mailintake demo``) or leaves the servers and the worker running (``--keep-running``).
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailintake.config.shipped import shipped
from mailintake.demo.samples.demo_mailbox import TZ_OFFSET, SampleMail, sample_mails

if TYPE_CHECKING:
    from mailintake.config.settings import Settings
    from mailintake.demo.servers.pymap_server import PymapServer
    from mailintake.demo.servers.smtp_sink import SmtpSink
    from mailintake.worker.service import Worker

MARKER = ".mailintake-demo"
OFFICE = "840573720@qq.com"
DEMO_PASSWORD = "demo-password"
REPORT_RECIPIENT = "office-report@example.gov.cn"
#: the demo's report is the one the office would read the morning after the deadline
REPORT_DATE = dt.date(2019, 12, 19)
#: the reminder preview is the one the office would see on the afternoon of the deadline
REMINDER_AT = dt.datetime(2019, 12, 18, 15, 0, tzinfo=TZ_OFFSET)


@dataclass
class DemoResult:
    """What the demo did: the sample, the worker's cycle, the replies and the report."""

    directory: Path
    config_path: Path
    samples: list[SampleMail]
    mails: list[dict[str, Any]] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)
    report_html: Path | None = None
    report_xlsx: Path | None = None
    report_summary: dict[str, Any] = field(default_factory=dict)
    poll: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    duration: float = 0.0
    libreoffice: bool = False
    #: the 催报 preview at REMINDER_AT (nothing is sent) and the hand-off files written
    reminders: list[dict[str, Any]] = field(default_factory=list)
    handoff: list[str] = field(default_factory=list)
    #: the console's address (``[web] base_url``); started by the CLI on this port
    console_url: str = ""

    def counts(self) -> dict[str, int]:
        result: dict[str, int] = {}
        for mail in self.mails:
            result[mail["status"]] = result.get(mail["status"], 0) + 1
        return dict(sorted(result.items()))

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (``mailintake demo --json``)."""
        return {
            "directory": str(self.directory),
            "config": str(self.config_path),
            "libreoffice": self.libreoffice,
            "counts": self.counts(),
            "mails": self.mails,
            "replies": self.replies,
            "report": {"html": str(self.report_html) if self.report_html else None,
                       "xlsx": str(self.report_xlsx) if self.report_xlsx else None,
                       "summary": self.report_summary},
            "poll": self.poll,
            "reminders": self.reminders,
            "handoff": self.handoff,
            "errors": self.errors,
            "duration": round(self.duration, 2),
        }



# ---------------------------------------------------------------------------------- the config


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


#: the campaign and office as the demo's replies show them (the shipped 双争双创 campaign)
DEMO_CAMPAIGN = {"name": "“双争双创”活动先进荣誉申报", "deadline": "2019-12-18T17:30:00+08:00",
                 "office_name": "苏州市行政审批局办公室", "office_contact": "王琰，电话 69820106、13862103167",
                 "office_address": "苏州市平泷路251号城市生活广场A座27楼2702室"}


def write_config(
    directory: Path,
    *,
    imap_host: str,
    imap_port: int,
    username: str,
    password: str,
    smtp_host: str,
    smtp_port: int,
    database_url: str | None = None,
    extra: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """A config file for local plaintext servers, database and storage under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    sections: dict[str, dict[str, Any]] = {
        "mailbox": {"host": imap_host, "port": imap_port, "security": "none", "username": username,
                    "password": password, "verify_tls": False, "timeout": 10.0},
        "smtp": {"host": smtp_host, "port": smtp_port, "security": "none", "sender": username,
                 "verify_tls": False, "timeout": 10.0, "max_replies_per_hour": 20},
        "database": {"url": database_url or f"sqlite:///{directory / 'mailintake.db'}"},
        "storage": {"dir": str(directory / "storage")},
        "campaign": {"forms": str(shipped("forms.toml")), "roster": str(shipped("units.csv")),
                     "templates": str(shipped("templates")), **DEMO_CAMPAIGN},
        "report": {"recipients": [REPORT_RECIPIENT], "dir": str(directory / "reports")},
        "schedule": {"poll_interval": 300},
    }
    for section, values in (extra or {}).items():
        sections.setdefault(section, {}).update(values)
    lines = ["# written by mailintake's demo: local servers on loopback, no TLS, throwaway password", ""]
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {_toml(value)}" for key, value in values.items()]
        lines.append("")
    path = directory / "mailintake.toml"
    path.write_text("\n".join(lines), "utf-8")
    path.chmod(0o600)
    return path


def prepare_directory(directory: Path) -> None:
    """Start from an empty demo directory; refuse to wipe one the demo did not create."""
    if directory.exists() and any(directory.iterdir()):
        if not (directory / MARKER).exists():
            from mailintake.errors import MailintakeError

            raise MailintakeError(f"demo: {directory} is not empty and was not made by the demo; "
                                  "pass --dir with a new or empty directory")
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MARKER).write_text("made by `mailintake demo`; safe to delete\n", "utf-8")


# ------------------------------------------------------------------------------------ the run


@dataclass
class DemoServers:
    imap: PymapServer
    sink: SmtpSink

    def stop(self) -> None:
        self.imap.stop()
        self.sink.stop()


def start_servers() -> DemoServers:
    from mailintake.demo.servers.pymap_server import start_imap_server
    from mailintake.demo.servers.smtp_sink import start_smtp_sink

    imap = start_imap_server({OFFICE: DEMO_PASSWORD})
    try:
        sink = start_smtp_sink()
    except BaseException:
        imap.stop()
        raise
    return DemoServers(imap, sink)


def sent_replies(sink: SmtpSink, head_lines: int = 4) -> list[dict[str, Any]]:
    """What the SMTP sink received: recipients, subject, kind, first lines of the body."""
    from mailintake.mail.body import text_body

    replies = []
    for item in sink.messages:
        message = email.message_from_bytes(item.raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        body = text_body(message)
        # the greeting (您好！) says nothing: show the lines after it
        lines = [line.strip() for line in body.splitlines() if len(line.strip()) > 4][:head_lines]
        attachments = [part.get_filename() or "" for part in message.iter_attachments()]
        replies.append({
            "to": list(item.rcpt_tos),
            "subject": str(message.get("Subject", "")),
            "in_reply_to": str(message.get("In-Reply-To", "")) or None,
            "auto_submitted": str(message.get("Auto-Submitted", "")) or None,
            "first_lines": lines,
            "attachments": attachments,
        })
    return replies


def stored_mails(settings: Settings, session_factory: Any) -> list[dict[str, Any]]:
    """Every stored mail in arrival order with its status, forms and flags."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from mailintake.db.models import Message, OutboxItem

    tz = settings.campaign.tz
    with session_factory() as session:
        messages = session.scalars(
            select(Message).options(selectinload(Message.submissions), selectinload(Message.attachments))
            .order_by(Message.received_at, Message.id)
        ).all()
        kinds = {pk: kind for pk, kind in session.execute(select(OutboxItem.message_pk, OutboxItem.kind))}
        result = []
        for message in messages:
            forms = [{"table": s.table_no, "title": s.title, "unit": s.unit, "word_count": s.word_count,
                      "attachment": s.attachment.path if s.attachment else None,
                      "flags": [f.get("code") for f in (s.flags or []) if isinstance(f, dict)]}
                     for s in message.submissions]
            result.append({
                "id": message.id,
                "received_at": message.received_at.astimezone(tz).isoformat(timespec="minutes"),
                "from": message.from_addr,
                "from_name": message.from_name,
                "subject": message.subject,
                "status": message.status,
                "receipt_no": message.receipt_no,
                "forms": forms,
                "flags": [f.get("code") for f in (message.flags or []) if isinstance(f, dict)],
                "reply": kinds.get(message.id),
            })
    return result


def calendar_steps(settings: Settings, session_factory: Any, out_dir: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The 催报 preview at REMINDER_AT (nothing sent) and the hand-off files (公示名单, 测评票, originals)."""
    from mailintake.campaign.sources import load_sources
    from mailintake.office.handoff import write_handoff
    from mailintake.office.reminders import preview_reminders

    sources = load_sources(settings)
    with session_factory() as session:
        due = preview_reminders(session, settings, sources, REMINDER_AT)
        paths = write_handoff(session, settings, sources, out_dir)
    reminders = [{"unit": r.unit, "kind": r.kind, "label": r.kind_label, "to": r.address, "phone": r.phone,
                  "no_mail_reason": r.no_mail_reason} for r in due]
    return reminders, [str(p) for p in paths]


def _poll(worker: Worker, result: DemoResult) -> None:
    """The worker's cycle (poll + deliver), its summary or its error kept in ``result``."""
    outcome = worker.poll_cycle()
    if outcome is not None and outcome.poll is not None:
        result.poll = outcome.poll.summary() if hasattr(outcome.poll, "summary") else {}
    if outcome is None or outcome.error:
        result.errors.append(f"poll: {outcome.error if outcome else 'skipped'}")


def _report(worker: Worker, result: DemoResult) -> None:
    """The daily report of REPORT_DATE, written and mailed to the office; its files kept in ``result``."""
    files = worker.daily_report(for_date=REPORT_DATE)
    if files is None:
        result.errors.append("report: failed; run with --verbose for the log")
    else:
        result.report_html, result.report_xlsx = Path(files.html_path), Path(files.xlsx_path)
        result.report_summary = dict(files.summary)


def run_demo(
    directory: Path,
    *,
    servers: DemoServers | None = None,
    with_doc: bool = True,
    progress: Callable[[str], None] | None = None,
) -> tuple[DemoResult, DemoServers, Worker]:
    """Run the demo in ``directory``; returns the result, the (running) servers and the worker.

    The caller stops the servers (or keeps them for ``--keep-running``).
    """
    from mailintake.config.settings import load_settings
    from mailintake.db.engine import open_database
    from mailintake.demo.servers.imap import append_mail
    from mailintake.worker.service import Worker

    def step(text: str) -> None:
        if progress is not None:
            progress(text)

    started = time.monotonic()
    prepare_directory(directory)
    step("starting the local IMAP server and SMTP sink")
    servers = servers or start_servers()
    try:
        from mailintake.demo.console import web_section

        web = web_section()
        config_path = write_config(directory, imap_host=servers.imap.host, imap_port=servers.imap.port,
                                   username=OFFICE, password=DEMO_PASSWORD, smtp_host=servers.sink.host,
                                   smtp_port=servers.sink.port, extra={"web": web})
        settings = load_settings(config_path, environ={})
        step("making the sample mails (forms of 表1–表4, a zip, a .doc when LibreOffice is installed)")
        samples = sample_mails(with_doc=with_doc)
        for sample in samples:
            append_mail(servers.imap, sample.raw, sample.internaldate)
        result = DemoResult(directory=directory, config_path=config_path, samples=samples,
                            libreoffice=any(s.key == "doc" for s in samples), console_url=web["base_url"])
        session_factory = open_database(settings.database.url, settings.base_dir)
        worker = Worker(settings, session_factory)
        step(f"polling {len(samples)} mails, parsing the forms, applying the rules, replying")
        _poll(worker, result)
        step("writing the daily report and mailing it to the office")
        _report(worker, result)
        step("previewing the reminders (催报) and writing the hand-off files")
        result.reminders, result.handoff = calendar_steps(settings, session_factory, directory / "handoff")
        result.mails = stored_mails(settings, session_factory)
        result.replies = sent_replies(servers.sink)
        result.duration = time.monotonic() - started
        return result, servers, worker
    except BaseException:
        servers.stop()
        raise
