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

from mailintake.resources import shipped

if TYPE_CHECKING:
    from mailintake.config import Settings
    from mailintake.devservers import PymapServer, SmtpSink

MARKER = ".mailintake-demo"
OFFICE = "840573720@qq.com"
DEMO_PASSWORD = "demo-password"
REPORT_RECIPIENT = "office-report@example.gov.cn"
TZ_OFFSET = dt.timezone(dt.timedelta(hours=8))
#: the demo's report is the one the office would read the morning after the deadline
REPORT_DATE = dt.date(2019, 12, 19)
#: the reminder preview is the one the office would see on the afternoon of the deadline
REMINDER_AT = dt.datetime(2019, 12, 18, 15, 0, tzinfo=TZ_OFFSET)


@dataclass(frozen=True)
class SampleMail:
    """One mail of the sample and what the notice's rules make of it."""

    key: str
    description: str
    raw: bytes
    internaldate: dt.datetime
    expected_status: str


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


# ----------------------------------------------------------------------------------- the sample


def _at(day: int, hour: int, minute: int) -> dt.datetime:
    return dt.datetime(2019, 12, day, hour, minute, 5, tzinfo=TZ_OFFSET)


def _date_header(when: dt.datetime) -> str:
    return email.utils.format_datetime(when)


def sample_mails(*, with_doc: bool = True) -> list[SampleMail]:
    """The demo's mailbox: every table, every rule, the awkward encodings, in arrival order.

    ``with_doc`` adds a legacy .doc (needs LibreOffice to make and to read).
    """
    from mailintake.samples.forms import convert_with_soffice, filler, make_form_docx
    from mailintake.samples.mails import MessageBuilder, zip_archive

    samples: list[SampleMail] = []

    def add(key: str, description: str, builder: MessageBuilder, when: dt.datetime, status: str) -> None:
        raw = builder.date(_date_header(when)).build()
        samples.append(SampleMail(key, description, raw, when, status))

    add("table1", "表1 from a district bureau (QQ Mail)",
        MessageBuilder("qq").sender("吴中区审批局 李静", "lijing_wz@qq.com")
        .subject("双争双创申报材料-改革创新标兵单位（吴中区行政审批局）")
        .text("王老师：\n您好！附件是我局《改革创新标兵单位申报表》，请查收。纸质材料已寄出。\n吴中区行政审批局 李静")
        .attach("表1 改革创新标兵单位申报表（吴中区）.docx", make_form_docx(1, {
            "unit": "苏州市吴中区行政审批局", "contact": "李静 0512-65251234"})),
        _at(16, 10, 12), "accepted")
    add("table2", "表2 from a service centre (Outlook, gb2312 label on GBK text)",
        MessageBuilder("outlook").sender("吴中区便民服务中心", "wzbmzx@szwz.gov.cn")
        .subject("【双争双创】为民服务工作先进集体申报表——吴中区便民服务中心")
        .text("王老师好，附件为我中心申报表，请审核。")
        .attach("表2 为民服务工作先进集体申报表.docx", make_form_docx(2, {"unit": "苏州市吴中区便民服务中心"})),
        _at(16, 15, 40), "accepted")
    add("table3", "表3 (窗口服务明星) from 163 Mail",
        MessageBuilder("163").sender("政务服务处", "zwfwc_sz@163.com")
        .subject("窗口服务明星申报表（王晓雯）")
        .text("附件：窗口服务明星申报表，请查收。")
        .attach("表3 窗口服务明星申报表-王晓雯.docx", make_form_docx(3, variant="sdt")),
        _at(17, 9, 3), "accepted")
    add("table4", "表4 (先进工作者) from Foxmail, Word track changes left on",
        MessageBuilder("foxmail").sender("昆山市行政审批局", "ksxzspj@ks.gov.cn")
        .subject("先进工作者申报表-陈志远（昆山）")
        .text("王老师：附件为先进工作者申报表，请查收，谢谢！")
        .attach("表4 先进工作者申报表（陈志远）.docx", make_form_docx(4, variant="tracked")),
        _at(17, 11, 26), "accepted")
    add("incomplete", "表2 with 主要事迹 left empty",
        MessageBuilder("qq").sender("常熟市便民服务中心", "csbmfw@qq.com")
        .subject("双争双创申报-为民服务工作先进集体")
        .text("您好，申报表见附件。")
        .attach("为民服务先进集体申报表.docx", make_form_docx(2, {"unit": "常熟市便民服务中心", "deeds": ""})),
        _at(17, 14, 50), "needs_correction")
    add("overlong", "表1 over the 1,000 字 limit",
        MessageBuilder("outlook").sender("张家港市行政审批局", "zjgspj@zjg.gov.cn")
        .subject("张家港市行政审批局 改革创新标兵单位申报")
        .text("王老师：申报表已按要求填写，请查收。")
        .attach("表1-张家港市行政审批局.docx", make_form_docx(1, {
            "unit": "张家港市行政审批局", "contact": "周敏 0512-58671234", "summary": filler(1260)})),
        _at(18, 9, 15), "needs_correction")
    archive = zip_archive({
        "双争双创申报材料/表3 窗口服务明星申报表（刘芳）.docx": make_form_docx(3, {
            "name": "刘芳", "unit_and_title": "苏州市公共资源交易中心 交易服务窗口", "deeds": filler(420),
            "recommender": "苏州市公共资源交易中心"}),
        "双争双创申报材料/表4 先进工作者申报表（赵磊）.docx": make_form_docx(4, {
            "name": "赵磊", "unit_and_title": "苏州市公共资源交易中心 综合科", "deeds": filler(380, start=5),
            "recommender": "苏州市公共资源交易中心"}),
    }, names="gbk")
    add("zip", "a zip from a forwarding centre, member names in GBK (表3 + 表4)",
        MessageBuilder("foxmail-old").sender("苏州市公共资源交易中心", "szggzy@szggzy.gov.cn")
        .subject("转发：交易中心双争双创申报材料")
        .text("王老师：\n交易中心两份申报材料打包发送，请查收。")
        .attach("双争双创申报材料.zip", archive, "application/zip"),
        _at(18, 10, 2), "accepted")
    if with_doc:
        doc = convert_with_soffice(make_form_docx(2, {"unit": "苏州市相城区行政审批局",
                                                      "deeds": filler(300, start=9)}), "doc")
        if doc is not None:
            add("doc", "表2 as a legacy Word 97-2003 .doc (read through LibreOffice)",
                MessageBuilder("163").sender("相城区行政审批局", "xcspj@163.com")
                .subject("为民服务工作先进集体申报表（相城区行政审批局）")
                .text("附件为申报表（doc格式），请查收。")
                .attach("表2 为民服务工作先进集体申报表.doc", doc, "application/msword"),
                _at(18, 11, 30), "accepted")
    add("auto_reply", "an out-of-office auto-reply",
        MessageBuilder("qq").sender("太仓市行政审批局", "tcspj@qq.com").auto_reply()
        .subject("自动回复: 关于报送双争双创申报材料的通知")
        .text("您好，我已休假，12月20日返回，期间邮件将延迟回复。"),
        _at(18, 13, 45), "ignored")
    add("question", "a question without attachment",
        MessageBuilder("163").sender("盛泽镇行政审批局", "szzspj@163.com")
        .subject("请问表1可以申报几个项目？")
        .text("王老师您好：\n请问我镇审批局表1最多可以申报几个项目？纸质材料需要几份？谢谢！"),
        _at(18, 15, 20), "no_form")
    add("late", "表1 arriving at 19:05 on 18 December, after the deadline",
        MessageBuilder("qq").sender("太仓市行政审批局 吴倩", "tcspj_wq@qq.com")
        .subject("双争双创申报表（太仓市行政审批局）")
        .text("王老师，不好意思，申报表晚了一些，请查收。")
        .attach("表1 改革创新标兵单位申报表.docx", make_form_docx(1, {
            "unit": "太仓市行政审批局", "contact": "吴倩 0512-53571234"})),
        _at(18, 19, 5), "late")
    return samples


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
    from mailintake.devservers import start_imap_server, start_smtp_sink

    imap = start_imap_server({OFFICE: DEMO_PASSWORD})
    try:
        sink = start_smtp_sink()
    except BaseException:
        imap.stop()
        raise
    return DemoServers(imap, sink)


def sent_replies(sink: SmtpSink, head_lines: int = 4) -> list[dict[str, Any]]:
    """What the SMTP sink received: recipients, subject, kind, first lines of the body."""
    from mailintake.mail.text import text_body

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
    from mailintake.office.handoff import write_handoff
    from mailintake.office.reminders import preview_reminders
    from mailintake.report.sources import load_sources

    sources = load_sources(settings)
    with session_factory() as session:
        due = preview_reminders(session, settings, sources, REMINDER_AT)
        paths = write_handoff(session, settings, sources, out_dir)
    reminders = [{"unit": r.unit, "kind": r.kind, "label": r.kind_label, "to": r.address, "phone": r.phone,
                  "no_mail_reason": r.no_mail_reason} for r in due]
    return reminders, [str(p) for p in paths]


def run_demo(
    directory: Path,
    *,
    servers: DemoServers | None = None,
    with_doc: bool = True,
    progress: Callable[[str], None] | None = None,
) -> tuple[DemoResult, DemoServers, Any]:
    """Run the demo in ``directory``; returns the result, the (running) servers and the worker.

    The caller stops the servers (or keeps them for ``--keep-running``).
    """
    from mailintake.config import load_settings
    from mailintake.db.engine import open_database
    from mailintake.devservers import append_mail
    from mailintake.worker import Worker

    def step(text: str) -> None:
        if progress is not None:
            progress(text)

    started = time.monotonic()
    prepare_directory(directory)
    step("starting the local IMAP server and SMTP sink")
    servers = servers or start_servers()
    try:
        from mailintake.web.demo import web_section

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
        outcome = worker.poll_cycle()
        if outcome is not None and outcome.poll is not None:
            result.poll = outcome.poll.summary() if hasattr(outcome.poll, "summary") else {}
        if outcome is None or outcome.error:
            result.errors.append(f"poll: {outcome.error if outcome else 'skipped'}")
        step("writing the daily report and mailing it to the office")
        files = worker.daily_report(for_date=REPORT_DATE)
        if files is None:
            result.errors.append("report: failed; run with --verbose for the log")
        else:
            result.report_html, result.report_xlsx = Path(files.html_path), Path(files.xlsx_path)
            result.report_summary = dict(files.summary)
        step("previewing the reminders (催报) and writing the hand-off files")
        result.reminders, result.handoff = calendar_steps(settings, session_factory, directory / "handoff")
        result.mails = stored_mails(settings, session_factory)
        result.replies = sent_replies(servers.sink)
        result.duration = time.monotonic() - started
        return result, servers, worker
    except BaseException:
        servers.stop()
        raise
