"""Automatic replies: kind, recipient, subject/headers, body content, suppression and sanitising.

Rows are built directly on a real SQLite database (migrated by open_database); the raw message
written to the outbox is parsed back with the standard library and checked header by header.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import itertools
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailintake.config.settings import Settings
from mailintake.db.models import AttachmentRow, Message, OutboxItem, Submission
from mailintake.outbox.compose import cn_datetime, reply_subject
from mailintake.outbox.queue import enqueue_reply
from mailintake.outbox.recipients import choose_recipient, email_in_text, header_text, machine_reason, parse_address
from tests.support.env import Env

ROOT = Path(__file__).resolve().parents[3]
RECEIVED = datetime(2019, 12, 10, 2, 5, tzinfo=UTC)  # 2019-12-10 10:05 in Shanghai
NOW = datetime(2019, 12, 10, 2, 6, tzinfo=UTC)
_uids = itertools.count(1)


def reply_settings(env: Env, smtp: dict[str, Any] | None = None, **campaign: Any) -> Settings:
    """The reply tests' settings: an SMTP server on 127.0.0.1, the shipped templates and forms."""
    return env.load(
        smtp={"host": "127.0.0.1", "port": 2525, "security": "none", "sender": "office@example.gov.cn",
              "timeout": 5.0, **(smtp or {})},
        mailbox={"username": "intake@example.gov.cn"},
        campaign={"templates": str(ROOT / "config" / "templates"), "forms": str(ROOT / "config" / "forms.toml"),
                  **campaign},
    )


@pytest.fixture
def settings(env: Env) -> Settings:
    return reply_settings(env)


@pytest.fixture
def db(db_env: Env) -> sessionmaker[Session]:
    """The reply tests' rows, on SQLite and on PostgreSQL."""
    return db_env.session_factory


def add_message(
    session: Session,
    *,
    status: str = "accepted",
    from_addr: str = "zhang@example.com",
    from_name: str = "张三",
    reply_to: list[Any] | None = None,
    subject: str = "表1申报材料",
    flags: list[dict[str, Any]] | None = None,
    receipt_no: str | None = "2019-0042",
    message_id: str = "<orig-1@example.com>",
    automatic_reason: str | None = None,
    received_at: datetime = RECEIVED,
) -> Message:
    uid = next(_uids)
    message = Message(
        message_id=message_id,
        sha256=hashlib.sha256(str(uid).encode()).hexdigest(),
        folder="INBOX",
        uidvalidity=1,
        uid=uid,
        from_addr=from_addr,
        from_name=from_name,
        reply_to=reply_to or [],
        subject=subject,
        received_at=received_at,
        status=status,
        flags=flags or [],
        receipt_no=receipt_no,
        automatic_reason=automatic_reason,
    )
    session.add(message)
    session.flush()
    return message


def add_attachment(session: Session, message: Message, path: str, flags: list[dict[str, Any]] | None = None,
                   fmt: str = "docx") -> AttachmentRow:
    row = AttachmentRow(message_pk=message.id, path=path, sha256=hashlib.sha256(path.encode()).hexdigest(),
                        size=1000, format=fmt, flags=flags or [])
    session.add(row)
    session.flush()
    return row


def add_form(session: Session, message: Message, attachment: AttachmentRow, table: int, fields: dict[str, str],
             word_count: int, flags: list[dict[str, Any]] | None = None) -> Submission:
    titles = {1: "改革创新标兵单位申报表", 2: "为民服务工作先进集体申报表",
              3: "窗口服务明星申报表", 4: "先进工作者申报表"}
    row = Submission(message_pk=message.id, attachment_id=attachment.id, table_no=table, title=titles[table],
                     fields=fields, word_count=word_count, flags=flags or [], identity_key=f"{table}:{fields}",
                     unit=fields.get("unit", ""), received_at=message.received_at)
    session.add(row)
    session.flush()
    return row


def queue(session: Session, settings: Settings, message: Message, now: datetime = NOW) -> OutboxItem | None:
    session.refresh(message, ["attachments", "submissions"])
    return enqueue_reply(session, settings, message, now=now)


def parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def body(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def header_names(raw: bytes) -> list[str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return [line.split(":", 1)[0] for line in head.split("\r\n") if line and not line[0].isspace()]


# ----------------------------------------------------------------------------------------- receipt


def test_receipt_headers_recipient_and_forms(settings: Settings, db: sessionmaker[Session]) -> None:
    """GIVEN an accepted mail with 表1 and 表3 WHEN queued THEN one receipt with every required header."""
    with db() as session:
        message = add_message(session)
        doc = add_attachment(session, message, "申报材料.docx")
        add_form(session, message, doc, 1, {"unit": "吴江区行政审批局", "contact": "李四 0512-63981234"}, 812)
        add_form(session, message, doc, 3, {"name": "王五", "recommender": "相城区行政审批局"}, 640)
        row = queue(session, settings, message)
        session.commit()
        assert row is not None
        assert (row.kind, row.status, row.recipients, row.cc) == ("receipt", "pending", ["zhang@example.com"], [])
        assert row.subject == "Re: 表1申报材料 [申报回执 2019-0042]"
        assert row.next_attempt_at == NOW and row.attempts == 0
        mail = parse(row.raw)
    assert mail["Subject"] == "Re: 表1申报材料 [申报回执 2019-0042]"
    assert mail["From"] == "苏州市行政审批局办公室 <office@example.gov.cn>"
    assert mail["To"] == "张三 <zhang@example.com>"
    assert mail["Cc"] is None and mail["Bcc"] is None
    assert mail["In-Reply-To"] == "<orig-1@example.com>"
    assert mail["References"] == "<orig-1@example.com>"
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["X-Auto-Response-Suppress"] == "All"
    assert mail["Message-ID"].endswith("@example.gov.cn>")
    assert mail["Date"] == "Tue, 10 Dec 2019 02:06:00 +0000"
    assert mail.get_content_charset() == "utf-8"
    text = body(mail)
    assert "回执编号：2019-0042" in text
    assert "已收到您于2019年12月10日10:05发送的“双争双创”活动先进荣誉申报材料" in text
    assert "1. 表1《改革创新标兵单位申报表》：吴江区行政审批局，字数 812/1000" in text
    assert "2. 表3《窗口服务明星申报表》：王五，申报单位：相城区行政审批局，字数 640/1000" in text
    assert ("请于2019年12月18日17:30前将上述申报表加盖公章的纸质材料一式两份寄送至："
            "苏州市平泷路251号城市生活广场A座27楼2702室。") in text
    assert "王琰，电话 69820106、13862103167" in text
    assert "{{" not in text and "{#" not in text


def test_reply_to_wins_over_from_and_only_its_first_address(settings: Settings, db: sessionmaker[Session]) -> None:
    with db() as session:
        message = add_message(session, reply_to=["Office Li <li@unit.example.cn>, other@evil.example.com"])
        add_form(session, message, add_attachment(session, message, "a.docx"), 2, {"unit": "姑苏区"}, 300)
        row = queue(session, settings, message)
        assert row is not None and row.recipients == ["li@unit.example.cn"]
        assert parse(row.raw)["To"] == "Office Li <li@unit.example.cn>"


def test_receipt_tag_not_doubled_and_empty_subject(settings: Settings) -> None:
    assert reply_subject("Re: 表1 [申报回执 2019-0001]", "2019-0042", settings) == "Re: 表1 [申报回执 2019-0042]"
    assert reply_subject("", "2019-0007", settings) == "Re: “双争双创”活动先进荣誉申报 [申报回执 2019-0007]"
    assert cn_datetime(settings.campaign.deadline, settings) == "2019年12月18日17:30"


# -------------------------------------------------------------------------------------- correction


def test_correction_names_every_defect(settings: Settings, db: sessionmaker[Session]) -> None:
    """GIVEN a mail with a broken file, an incomplete 表1, an overlong 表2 over quota, and a mail flag
    THEN the one correction lists each of them, by file and form, with field labels and 字数."""
    with db() as session:
        message = add_message(
            session, status="needs_correction",
            flags=[{"code": "archive_error", "message": "压缩包“材料.rar”已加密，无法解压，请直接附上 Word 文件。"}],
        )
        unreadable = "附件“表4.doc”无法读取（文件已损坏），请重新保存为 Word 文档（.docx）后发送。"
        add_attachment(session, message, "表4.doc", fmt="doc", flags=[{"code": "unreadable", "message": unreadable}])
        doc = add_attachment(session, message, "申报.docx")
        add_form(session, message, doc, 1, {"unit": "吴中区行政审批局", "contact": ""}, 700, flags=[
            {"code": "incomplete", "field": "contact", "message": "未填写，请补充。"},
            {"code": "incomplete", "field": "summary", "message": "“改革创新项目概述及成效简介”未填写，请补充。"},
        ])
        add_form(session, message, doc, 2, {"unit": "吴中区行政审批局"}, 1204, flags=[
            {"code": "overlong", "field": "deeds", "message": "主要事迹 1204 字，超过 1000 字的限制，请删减。"},
            {"code": "quota_exceeded", "message": "吴中区行政审批局已报送 3 个表1项目，超过每单位 2 个的限制。"},
        ])
        add_form(session, message, doc, 4, {"name": "赵六", "recommender": "吴中区行政审批局"}, 1001)
        row = queue(session, settings, message)
        assert row is not None and row.kind == "correction" and row.status == "pending"
        assert row.subject == "Re: 表1申报材料 [申报回执 2019-0042]"
        text = body(parse(row.raw))
    expected = [
        "- 压缩包“材料.rar”已加密，无法解压，请直接附上 Word 文件。",
        "- 附件“表4.doc”无法读取（文件已损坏），请重新保存为 Word 文档（.docx）后发送。",
        "附件“申报.docx”：",
        "  表1《改革创新标兵单位申报表》（吴中区行政审批局，字数 700/1000）：",
        "    - 联系方式：未填写，请补充。",
        "    - “改革创新项目概述及成效简介”未填写，请补充。",
        "  表2《为民服务工作先进集体申报表》（吴中区行政审批局，字数 1204/1000）：",
        "    - 主要事迹 1204 字，超过 1000 字的限制，请删减。",
        "    - 吴中区行政审批局已报送 3 个表1项目，超过每单位 2 个的限制。",
        "  表4《先进工作者申报表》（赵六，申报单位：吴中区行政审批局，字数 1001/1000）：",
        "    - 字数超出限制（1001/1000），请精简至1000字以内",
    ]
    lines = text.splitlines()
    positions = [lines.index(line) for line in expected]
    assert positions == sorted(positions)
    assert "并在2019年12月18日17:30前将修改后的完整申报表重新发送至本邮箱" in text


def test_correction_lists_forms_without_defects_as_fine(settings: Settings, db: sessionmaker[Session]) -> None:
    with db() as session:
        message = add_message(session, status="needs_correction")
        doc = add_attachment(session, message, "a.docx")
        add_form(session, message, doc, 2, {"unit": "姑苏区行政审批局"}, 900)
        add_form(session, message, doc, 3, {"name": "钱七", "recommender": ""}, 200,
                 flags=[{"code": "incomplete", "field": "recommender", "message": "未填写，请补充。"}])
        row = queue(session, settings, message)
        assert row is not None
        lines = body(parse(row.raw)).splitlines()
    assert "  表2《为民服务工作先进集体申报表》（姑苏区行政审批局，字数 900/1000）：无需修改。" in lines
    assert "  表3《窗口服务明星申报表》（钱七，字数 200/1000）：" in lines
    assert "    - 申报单位：未填写，请补充。" in lines


def test_too_large_mail_gets_a_correction_notice(settings: Settings, db: sessionmaker[Session]) -> None:
    with db() as session:
        message = add_message(session, status="too_large", flags=[
            {"code": "too_large", "message": "邮件大小 80MB 超过上限 50MB，未能读取。"}])
        row = queue(session, settings, message)
        assert row is not None and row.kind == "correction"
        text = body(parse(row.raw))
    assert "邮件大小超过系统可处理的上限（50MB），附件未能读取。" in text
    assert "更正方法：请压缩附件或分多封邮件，在2019年12月18日17:30前重新发送至本邮箱。" in text
    assert "- 邮件大小 80MB 超过上限 50MB，未能读取。" in text


# ------------------------------------------------------------------------------------ late, no_form


def test_late_notice(settings: Settings, db: sessionmaker[Session]) -> None:
    received = datetime(2019, 12, 18, 9, 45, tzinfo=UTC)  # 17:45 in Shanghai, 15 minutes late
    with db() as session:
        message = add_message(session, status="late", received_at=received, subject="迟到的申报")
        add_form(session, message, add_attachment(session, message, "a.docx"), 1, {"unit": "高新区"}, 500)
        row = queue(session, settings, message)
        assert row is not None and row.kind == "late" and row.subject == "Re: 迟到的申报 [申报回执 2019-0042]"
        text = body(parse(row.raw))
    assert "已收到您于2019年12月18日17:45发送的" in text
    assert "本次申报的截止时间为2019年12月18日17:30，您的材料在截止时间之后收到。" in text
    assert "逾期未反馈视作不申报" in text
    assert "敬请谅解" in text
    assert "如有疑问，请联系王琰，电话 69820106、13862103167。" in text


def test_no_form_reply(settings: Settings, db: sessionmaker[Session]) -> None:
    with db() as session:
        message = add_message(session, status="no_form", subject="咨询")
        add_attachment(session, message, "photo.jpg", fmt="jpeg", flags=[
            {"code": "unsupported_format", "message": "附件不是 Word 文档，未作为申报表读取。"}])
        row = queue(session, settings, message)
        assert row is not None and row.kind == "no_form" and row.subject == "Re: 咨询 [申报回执 2019-0042]"
        text = body(parse(row.raw))
    assert "但未在邮件中发现可识别的申报表（通知附件1中的表1至表4）。" in text
    assert "- 附件“photo.jpg”：附件不是 Word 文档，未作为申报表读取。" in text
    assert ("请将通知附件1中的申报表（表1至表4，Word 文件）填写完整后作为邮件附件发送至本邮箱，"
            "截止时间为2019年12月18日17:30。") in text
    assert "如有疑问，请联系王琰，电话 69820106、13862103167。" in text


# ------------------------------------------------------------------------------- never answered


@pytest.mark.parametrize(("status", "automatic"), [("ignored", None), ("failed", None), ("accepted", "auto-reply")])
def test_never_answered(settings: Settings, db: sessionmaker[Session], status: str, automatic: str | None) -> None:
    with db() as session:
        message = add_message(session, status=status, automatic_reason=automatic)
        assert queue(session, settings, message) is None
        assert session.scalars(select(OutboxItem)).all() == []


def test_second_enqueue_returns_none(settings: Settings, db: sessionmaker[Session]) -> None:
    with db() as session:
        message = add_message(session, status="no_form")
        first = queue(session, settings, message)
        assert first is not None
        assert queue(session, settings, message) is None
        message.status = "late"
        assert queue(session, settings, message) is None
        # reprocessing with a changed outcome may answer again, once per change
        again = enqueue_reply(session, settings, message, now=NOW, again=True)
        assert again is not None and again.kind == "late"
        assert enqueue_reply(session, settings, message, now=NOW, again=True) is None
        assert len(session.scalars(select(OutboxItem)).all()) == 2


@pytest.mark.parametrize(
    ("from_addr", "reason"),
    [
        ("noreply@example.com", "recipient noreply@example.com is an automatic address"),
        ("No-Reply@Example.com", "recipient no-reply@example.com is an automatic address"),
        ("do_not_reply@example.com", "recipient do_not_reply@example.com is an automatic address"),
        ("MAILER-DAEMON@mx.example.com", "recipient mailer-daemon@mx.example.com is an automatic address"),
        ("postmaster@example.com", "recipient postmaster@example.com is an automatic address"),
        ("office@example.gov.cn", "recipient office@example.gov.cn is our own address"),
        ("INTAKE@example.gov.cn", "recipient intake@example.gov.cn is our own address"),
        ("not an address", "no valid sender address (not an address)"),
    ],
)
def test_machine_and_own_addresses_are_suppressed(
    settings: Settings, db: sessionmaker[Session], from_addr: str, reason: str
) -> None:
    with db() as session:
        message = add_message(session, from_addr=from_addr)
        row = queue(session, settings, message)
        assert row is not None
        assert (row.status, row.last_error, row.raw) == ("suppressed", reason, b"")


def test_noreply_in_reply_to_is_not_bypassed_by_from(settings: Settings, db: sessionmaker[Session]) -> None:
    with db() as session:
        message = add_message(session, reply_to=["noreply@list.example.com"])
        row = queue(session, settings, message)
        assert row is not None and row.status == "suppressed"
        assert row.last_error == "recipient noreply@list.example.com is an automatic address"


def test_per_sender_cap(settings: Settings, db: sessionmaker[Session]) -> None:
    """GIVEN the cap of 5 an hour WHEN a 6th mail from one sender arrives within the hour THEN suppressed."""
    with db() as session:
        statuses = []
        row: OutboxItem | None = None
        for i in range(6):
            message = add_message(session, receipt_no=f"2019-{i:04d}", message_id=f"<m{i}@x.cn>")
            row = queue(session, settings, message, now=NOW + timedelta(minutes=i))
            assert row is not None
            statuses.append(row.status)
        assert statuses == ["pending"] * 5 + ["suppressed"]
        assert row is not None
        assert row.last_error == "more than 5 automatic replies to zhang@example.com within an hour (loop guard)"
        assert row.raw  # kept so that the office can resend it deliberately
        other = add_message(session, from_addr="li@example.com", receipt_no="2019-0100", message_id="<o@x.cn>")
        other_row = queue(session, settings, other, now=NOW + timedelta(minutes=6))
        assert other_row is not None and other_row.status == "pending"
        later = add_message(session, receipt_no="2019-0101", message_id="<late@x.cn>")
        later_row = queue(session, settings, later, now=NOW + timedelta(minutes=61))
        assert later_row is not None and later_row.status == "pending"


def test_cc_contact_from_form_1(env: Env) -> None:
    settings = reply_settings(env, smtp={"cc_contact": True})
    factory = env.session_factory
    with factory() as session:
        message = add_message(session)
        doc = add_attachment(session, message, "a.docx")
        add_form(session, message, doc, 1, {"unit": "园区", "contact": "李四 0512-1234 Li.Si@Unit.example.cn"}, 100)
        row = queue(session, settings, message)
        assert row is not None and row.cc == ["li.si@unit.example.cn"]
        assert parse(row.raw)["Cc"] == "li.si@unit.example.cn"
        same = add_message(session, from_addr="li.si@unit.example.cn", receipt_no="2019-0002", message_id="<b@x.cn>")
        add_form(session, same, add_attachment(session, same, "b.docx"), 1,
                 {"unit": "园区", "contact": "li.si@unit.example.cn"}, 100)
        row2 = queue(session, settings, same)
        assert row2 is not None and row2.cc == [] and parse(row2.raw)["Cc"] is None


# ---------------------------------------------------------------------------------- header injection


def test_header_injection_never_adds_headers_or_recipients(settings: Settings, db: sessionmaker[Session]) -> None:
    with db() as session:
        message = add_message(
            session,
            subject="申报\r\nBcc: victim@evil.example.com\r\nX-Evil: 1",
            from_name="Zhang\r\nBcc: victim2@evil.example.com",
            from_addr="zhang@example.com",
            message_id="<id@x.cn>\r\nBcc: victim3@evil.example.com",
        )
        add_form(session, message, add_attachment(session, message, "a\r\nb.docx"), 2,
                 {"unit": "单位\r\nBcc: x@evil.example.com"}, 10)
        row = queue(session, settings, message)
        assert row is not None and row.recipients == ["zhang@example.com"] and row.cc == []
        raw = row.raw
    assert header_names(raw) == [
        "From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted", "X-Auto-Response-Suppress",
        "Content-Type", "Content-Transfer-Encoding", "MIME-Version",
    ]
    mail = parse(raw)
    assert mail["Subject"] == "Re: 申报 Bcc: victim@evil.example.com X-Evil: 1 [申报回执 2019-0042]"
    assert mail["To"].addresses[0].addr_spec == "zhang@example.com"
    assert len(mail["To"].addresses) == 1
    assert mail["To"].addresses[0].display_name == "Zhang Bcc: victim2@evil.example.com"


def test_display_name_with_comma_cannot_add_recipient(settings: Settings, db: sessionmaker[Session]) -> None:
    with db() as session:
        message = add_message(session, from_name="Evil, victim@evil.example.com", from_addr="zhang@example.com")
        row = queue(session, settings, message)
        assert row is not None
        mail = parse(row.raw)
    assert [a.addr_spec for a in mail["To"].addresses] == ["zhang@example.com"]
    assert mail["To"].addresses[0].display_name == "Evil, victim@evil.example.com"


# --------------------------------------------------------------------------------------- templates


def test_office_templates_html_is_autoescaped_and_broken_falls_back(tmp_path: Path, env: Env) -> None:
    office = tmp_path / "templates"
    office.mkdir()
    (office / "reply_receipt.txt.j2").write_text("回执 {{ receipt_no }}：{% for f in forms %}{{ f.who }}{% endfor %}\n")
    (office / "reply_receipt.html.j2").write_text("<p>{% for f in forms %}{{ f.who }}{% endfor %}</p>\n")
    (office / "reply_late.txt.j2").write_text("{% for x in %}broken\n")
    settings = reply_settings(env, templates=str(office))
    factory = env.session_factory
    with factory() as session:
        message = add_message(session)
        add_form(session, message, add_attachment(session, message, "a.docx"), 2, {"unit": "<script>x</script>"}, 1)
        row = queue(session, settings, message)
        assert row is not None
        mail = parse(row.raw)
        assert body(mail) == "回执 2019-0042：<script>x</script>\n"
        html = mail.get_body(("html",))
        assert html is not None and html.get_content() == "<p>&lt;script&gt;x&lt;/script&gt;</p>\r\n"
        late = add_message(session, status="late", receipt_no="2019-0043", message_id="<l@x.cn>",
                           from_addr="wang@example.com")
        late_row = queue(session, settings, late)
        assert late_row is not None and "逾期未反馈视作不申报" in body(parse(late_row.raw))


# --------------------------------------------------------------------------------------- recipients


def test_parse_address_cases() -> None:
    assert parse_address("张三 <Zhang@Example.com>") == ("张三", "zhang@example.com")
    assert parse_address("a@x.cn, b@y.cn") == ("", "a@x.cn")
    assert parse_address("a@x.cn\r\nBcc: b@y.cn") is None
    assert parse_address("") is None
    assert parse_address("user@localhost") is None
    assert parse_address("us er@x.cn") is None
    assert parse_address("a..b@x.cn") is None


def test_machine_reason_and_helpers() -> None:
    assert machine_reason("zhang@example.com", []) is None
    assert machine_reason("noreply-x@a.cn", []) == "recipient noreply-x@a.cn is an automatic address"
    assert machine_reason("list-request@a.cn", []) == "recipient list-request@a.cn is a mailing-list address"
    assert machine_reason("Me@Ours.cn", ["me@ours.cn"]) == "recipient me@ours.cn is our own address"
    assert email_in_text("电话 0512-1234，邮箱 wang@sz.gov.cn。") == "wang@sz.gov.cn"
    assert email_in_text("电话 0512-1234") is None
    assert header_text("a\r\nb\x00c\u2028d", 200) == "a b c d"
    chosen = choose_recipient([], "Zhang@Example.com", "张三\n", ["office@example.gov.cn"])
    assert (chosen.name, chosen.address, chosen.refused) == ("张三", "zhang@example.com", None)
