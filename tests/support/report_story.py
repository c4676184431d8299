"""Rows for the report and export tests, built directly with SQLAlchemy on a real SQLite file; and a
configuration plus a CLI runner for the report commands over the same rows.

One campaign story (times in Asia/Shanghai):
- m1  张家港 accepted 12-16: 表1 ×2, 表2; paper copies received.
- m2  昆山 needs_correction 12-16: 表1 overlong; its correction reply failed with 550.
- m5  审改处 needs_correction 12-16: 表1 incomplete, superseded by m6 (same sender) 12-17 → not pending.
- ---- previous report 12-17 08:00 ----
- m3  吴江 late 12-18 19:05: 表3.
- m4  街道 needs_correction 12-17: 表3 张三 (unit not in the roster, a <script> in 主要事迹), 表4 李四 incomplete.
- m6  审改处 accepted 12-17: 表1 (supersedes m5's).
- m7  no_form; m8 ignored (bounce).
- m9  太仓 needs_correction 12-17: 表1 ×3, the third quota_exceeded.
- m10 吴中 needs_correction 12-17: an unreadable .wps, no form.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from click.testing import CliRunner
from sqlalchemy.orm import Session

from mailintake.cli import cli
from mailintake.config.settings import Settings
from mailintake.db.models import AttachmentRow, Message, OutboxItem, PaperCopy, Report, Submission
from tests.support.env import Env

TZ = ZoneInfo("Asia/Shanghai")
SCRIPT = "<script>alert('x')</script>"
FORMULA = "=HYPERLINK(\"http://evil.example\",\"点此\")"


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(2019, 12, day, hour, minute, second, tzinfo=TZ)


def report_settings(env: Env, **report: Any) -> Settings:
    """The report tests' settings: the office's sender, reports under the test's folder."""
    return env.load(report={"dir": str(env.root / "reports"), **report}, smtp={"sender": "office@example.cn"})


def unit_of(table: int, fields: dict[str, str]) -> str:
    return fields.get("unit", "") if table in (1, 2) else fields.get("recommender", "")


class Story:
    """Adds mails with their attachments, forms and replies."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.count = 0

    def mail(
        self,
        status: str,
        received: dt.datetime,
        sender: str,
        *,
        name: str = "",
        subject: str = "申报材料",
        forms: list[dict[str, Any]] | None = None,
        attachment_flags: list[dict[str, str]] | None = None,
        flags: list[dict[str, str]] | None = None,
        replies: list[dict[str, Any]] | None = None,
        receipt_no: str | None = None,
        n: int | None = None,
    ) -> Message:
        self.count += 1
        n = n or self.count + 100
        created = received + dt.timedelta(minutes=1)
        message = Message(
            message_id=f"<m{n}@example.cn>", sha256=f"{n:064x}", folder="INBOX", uidvalidity=1, uid=n,
            from_addr=sender, from_name=name, subject=subject, received_at=received, size=1000 + n,
            status=status, flags=flags or [], receipt_no=receipt_no, created_at=created,
        )
        self.session.add(message)
        attachment = AttachmentRow(message=message, path=f"申报表{n}.docx", sha256=f"{n:0>64}", size=20000 + n,
                                   format="docx", flags=attachment_flags or [])
        self.session.add(attachment)
        for form in forms or []:
            table = form["table"]
            self.session.add(Submission(
                message=message, attachment=attachment, table_no=table, title=form.get("title", f"表{table}"),
                fields=form["fields"], word_count=form.get("word_count", 500), flags=form.get("flags", []),
                identity_key=form.get("identity", f"{table}:{n}:{len(message.submissions)}"),
                unit=unit_of(table, form["fields"]), current=form.get("current", True),
                received_at=received, created_at=created,
            ))
        for reply in replies or []:
            self.session.add(OutboxItem(
                message=message, kind=reply["kind"], recipients=[sender], subject=f"Re: {subject}", raw=b"x",
                status=reply.get("status", "sent"), attempts=reply.get("attempts", 1),
                last_error=reply.get("last_error"), sent_at=reply.get("sent_at"),
            ))
        self.session.flush()
        return message


def t1(unit: str, project: str, **extra: Any) -> dict[str, Any]:
    return {"table": 1, "fields": {"unit": unit, "contact": "王五 0512-12345678", "project": project,
                                   "recognition": "获省级表彰", "summary": f"{project}的概述及成效。",
                                   "unit_opinion": "同意推荐", "date": "2019年12月16日"}, **extra}


def t2(unit: str, **extra: Any) -> dict[str, Any]:
    return {"table": 2, "fields": {"date": "2019年12月16日", "unit": unit, "deeds": "主要事迹若干。"}, **extra}


def t34(table: int, name: str, recommender: str, deeds: str = "服务热情。", **extra: Any) -> dict[str, Any]:
    return {"table": table, "fields": {"date": "2019年12月17日", "name": name, "unit_and_title": f"{recommender} 科员",
                                       "deeds": deeds, "recommender": recommender}, **extra}


OVERLONG = {"code": "overlong", "field": "summary",
            "message": "表1“改革创新项目概述及成效简介”等共1203字，超过1000字的限制。"}
INCOMPLETE_T1 = {"code": "incomplete", "field": "summary", "message": "表1“改革创新项目概述及成效简介”未填写。"}
INCOMPLETE_T4 = {"code": "incomplete", "field": "unit_and_title", "message": "表4“所在单位及职务”未填写。"}
QUOTA = {"code": "quota_exceeded", "message": "太仓市行政审批局已申报表1项目超过2个，本项目超出限额。"}
LATE = {"code": "late", "message": "本邮件于2019年12月18日19:05收到，已超过申报截止时间。"}
UNREADABLE = {"code": "unreadable", "message": "附件“申报表10.docx”无法读取：文件已损坏。"}


def build_story(session: Session) -> dict[str, Message]:
    s = Story(session)
    m: dict[str, Message] = {}

    def mk(n: int, *args: Any, **kwargs: Any) -> Message:
        return s.mail(*args, n=n, **kwargs)

    m["m1"] = mk(1, "accepted", at(16, 10, 12, 5), "zjg@example.cn", name="张家港审批局", receipt_no="2019-0001",
                     forms=[t1("张家港市行政审批局（盖章）", "一件事一窗办"), t1("张家港市行政审批局", "不见面审批"),
                            t2("张家港市行政审批局")],
                     replies=[{"kind": "receipt", "sent_at": at(16, 10, 14)}])
    m["m2"] = mk(2, "needs_correction", at(16, 15), "ks@example.cn", receipt_no="2019-0002",
                     forms=[t1("昆山市行政审批局", "全域通办", word_count=1203, flags=[OVERLONG])],
                     replies=[{"kind": "correction", "status": "failed", "attempts": 1,
                               "last_error": "550 5.1.1 mailbox unavailable"}])
    m["m5"] = mk(5, "needs_correction", at(16, 16), "sgc@example.cn", receipt_no="2019-0003",
                     forms=[t1("审批制度改革处", "一网通办", flags=[INCOMPLETE_T1], current=False,
                               identity="1:审改处:一网通办")],
                     replies=[{"kind": "correction", "sent_at": at(16, 16, 2)}])
    session.add(Report(for_date=dt.date(2019, 12, 17), generated_at=at(17, 8), since=None,
                       html_path="old.html", xlsx_path="old.xlsx", sent=True))
    m["m3"] = mk(3, "late", at(18, 19, 5), "wj@example.cn", flags=[LATE], receipt_no="2019-0004",
                     forms=[t34(3, "王六", "苏州市吴江区行政审批局", flags=[LATE])],
                     replies=[{"kind": "late", "sent_at": at(18, 19, 6)}])
    m["m4"] = mk(4, "needs_correction", at(17, 9), "jd@example.cn", name=SCRIPT, subject=f"申报 {SCRIPT}",
                     receipt_no="2019-0005",
                     forms=[t34(3, "张三", "某某街道便民服务站", deeds=f"事迹{SCRIPT}\n{FORMULA}"),
                            t34(4, "李四", "市公安局窗口", flags=[INCOMPLETE_T4])],
                     replies=[{"kind": "correction", "status": "pending", "attempts": 0}])
    m["m6"] = mk(6, "accepted", at(17, 10), "SGC@example.cn", receipt_no="2019-0006",
                     forms=[t1("审批制度改革处", "一网通办", identity="1:审改处:一网通办")],
                     replies=[{"kind": "receipt", "sent_at": at(17, 10, 2)}])
    old = m["m5"].submissions[0]
    old.superseded_by = m["m6"].submissions[0].id
    m["m7"] = mk(7, "no_form", at(17, 11), "q@example.cn", subject="请问申报表在哪里下载",
                     replies=[{"kind": "no_form", "sent_at": at(17, 11, 2)}])
    m["m8"] = mk(8, "ignored", at(17, 12), "MAILER-DAEMON@example.cn", subject="Undelivered Mail")
    m["m9"] = mk(9, "needs_correction", at(17, 14), "tc@example.cn", receipt_no="2019-0007",
                     forms=[t1("太仓市行政审批局", "项目甲"), t1("太仓市行政审批局", "项目乙"),
                            t1("太仓市行政审批局", "项目丙", flags=[QUOTA])],
                     replies=[{"kind": "correction", "sent_at": at(17, 14, 2)}])
    m["m10"] = mk(10, "needs_correction", at(17, 15), "wz@example.cn", attachment_flags=[UNREADABLE],
                      receipt_no="2019-0008", replies=[{"kind": "correction", "sent_at": at(17, 15, 2)}])
    session.add(PaperCopy(unit="张家港市行政审批局", received_on=dt.date(2019, 12, 18)))
    session.flush()
    return m


def write_config(env: Env, *, smtp_port: int = 9, recipients: tuple[str, ...] = ()) -> Path:
    config = env.root / "config" / "mailintake.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    listed = ", ".join(f'"{r}"' for r in recipients)
    config.write_text(
        f'[database]\nurl = "{env.url}"\n'
        f'[report]\ndir = "{env.root / "reports"}"\nrecipients = [{listed}]\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\nsender = "office@example.cn"\n',
        "utf-8",
    )
    return config


def run(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--config", str(config), *args], env={"MAILINTAKE_CONFIG": None})
    return result.exit_code, result.stdout, result.stderr


def seeded(env: Env, **kwargs: object) -> Path:
    config = write_config(env, **kwargs)  # type: ignore[arg-type]
    with env.session_factory() as session:
        build_story(session)
        session.commit()
    return config
