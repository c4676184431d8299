"""Replies that must not mislead or leak, through a real poll (pymap), a real database and a real SMTP
sink: each reply's text is checked exactly as the applicant reads it."""

from __future__ import annotations

import email
import io
import zipfile
from email import policy
from typing import Any

import pytest
from sqlalchemy import select

from mailintake.db.models import AttachmentRow, Message
from mailintake.demo.samples.forms import make_form_docx
from mailintake.demo.servers.pymap_server import PymapServer
from mailintake.intake.cycle import poll_once
from mailintake.outbox.sender import deliver_due
from tests.support.env import Env
from tests.support.helpers import at, mail
from tests.support.servers import SmtpSink, append_mail

CONTACT = "如有疑问，请联系王琰，电话 69820106、13862103167。"
SIGNATURE = ["苏州市行政审批局办公室", "（本邮件由系统自动发送）"]
_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


#: a Word file whose text is damaged: the parser flags it, naming the file
BROKEN_DOCX = zipped({
    "[Content_Types].xml": ('<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                            f'content-types"><Override PartName="/word/document.xml" ContentType="{_MAIN}"/></Types>'
                            ).encode(),
    "word/document.xml": b"<w:document broken",
})


def run_poll(server: PymapServer, sink: SmtpSink, env: Env) -> tuple[Any, dict[str, str]]:
    """Poll once, deliver every reply; return the session factory and {recipient: reply body}."""
    settings = env.settings(imap=server, smtp=sink)
    factory = env.session_factory
    poll_once(settings, factory)
    result = deliver_due(settings, factory)
    replies: dict[str, str] = {}
    if result.sent:
        for received in sink.wait_for(result.sent):
            message = email.message_from_bytes(received.raw, policy=policy.default)
            part = message.get_body(preferencelist=("plain",))
            assert part is not None
            replies[received.rcpt_tos[0]] = part.get_content()
    return factory, replies


def body_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_identical_bytes_each_flag_names_its_own_file(imap_server: PymapServer, smtp_sink: SmtpSink,
                                                       env: Env) -> None:
    """GIVEN 甲 and 乙 send the same broken bytes in one batch, 乙's inside a zip and a winmail-free folder
    THEN each correction names that sender's own file, never the other's."""
    append_mail(imap_server, mail("甲单位 <jia@example.cn>", "表2", message_id="<jia@x>",
                                  attachments={"甲单位表2.docx": BROKEN_DOCX}), at(16))
    append_mail(imap_server, mail("乙单位 <yi@example.cn>", "表2", message_id="<yi@x>",
                                  attachments={"乙单位.zip": zipped({"乙单位/乙单位表2.docx": BROKEN_DOCX})}),
                at(16, 11))
    append_mail(imap_server, mail("丙单位 <bing@example.cn>", "表2", message_id="<bing@x>",
                                  attachments={"丙单位表2.docx": BROKEN_DOCX}), at(16, 12))
    _factory, replies = run_poll(imap_server, smtp_sink, env)
    assert sorted(replies) == ["bing@example.cn", "jia@example.cn", "yi@example.cn"]
    for address, own, others in [("jia@example.cn", "甲单位表2.docx", ("乙单位", "丙单位")),
                                 ("yi@example.cn", "乙单位.zip/乙单位/乙单位表2.docx", ("甲单位", "丙单位")),
                                 ("bing@example.cn", "丙单位表2.docx", ("甲单位", "乙单位"))]:
        text = replies[address]
        assert all(other not in text for other in others), text
        bare = own.rsplit("/", 1)[-1]
        assert (f"- 附件“{bare}”无法读取（文档内容已损坏），请重新保存为 Word 文档（.docx）后发送。"
                in body_lines(text)), text
    with _factory() as session:
        paths = sorted(session.scalars(select(AttachmentRow.path)))
    assert paths == ["丙单位表2.docx", "乙单位.zip/乙单位/乙单位表2.docx", "甲单位表2.docx"]


def test_no_attachment_after_deadline_is_not_late_and_question_reaches_a_person(
        imap_server: PymapServer, smtp_sink: SmtpSink, env: Env) -> None:
    """GIVEN a thank-you after the deadline and a question before it THEN neither gets the late notice:
    each is told the office has the mail, and the body is kept for the 需人工处理 list."""
    append_mail(imap_server, mail("王 <wang@example.cn>", "Re: 申报材料 [申报回执 2019-0001]", message_id="<thx@x>",
                                  body="收到，谢谢！\n\n> 您好！苏州市行政审批局办公室已收到"), at(19, 9))
    append_mail(imap_server, mail("李 <li@example.cn>", "咨询", message_id="<ask@x>",
                                  body="请问表1可以申报几个项目？\n谢谢。"), at(16, 9))
    factory, replies = run_poll(imap_server, smtp_sink, env)
    with factory() as session:
        rows = {m.message_id: (m.status, m.body_excerpt) for m in session.scalars(select(Message))}
    assert rows == {"<thx@x>": ("no_form", "收到，谢谢！"), "<ask@x>": ("no_form", "请问表1可以申报几个项目？\n谢谢。")}
    assert body_lines(replies["wang@example.cn"]) == [
        "您好！",
        "苏州市行政审批局办公室已收到您于2019年12月19日09:00发送的邮件（回执编号：2019-0001）。"
        "邮件中没有附件，不属于申报材料。",
        "您的邮件已转交办公室工作人员阅处；如您提出了问题，办公室将另行答复，无需重复发送。",
        "本次申报已于2019年12月18日17:30截止。",
        CONTACT, *SIGNATURE,
    ]
    assert body_lines(replies["li@example.cn"]) == [
        "您好！",
        "苏州市行政审批局办公室已收到您于2019年12月16日09:00发送的邮件（回执编号：2019-0002）。"
        "邮件中没有附件，不属于申报材料。",
        "您的邮件已转交办公室工作人员阅处；如您提出了问题，办公室将另行答复，无需重复发送。",
        "如需申报，请将通知附件1中的申报表（表1至表4，Word 文件）填写完整后作为邮件附件发送至本邮箱，"
        "截止时间为2019年12月18日17:30。",
        "空白申报表已随本邮件附上（附件1.“双争双创”活动先进荣誉申报表.docx），请只保留并填写拟申报的表格。",
        CONTACT, *SIGNATURE,
    ]


AUTOMATIC = {
    "<apple@x>": ({"X-Apple-Action": "VACATION"}, "Auto reply: 表2申报", "自动回复（含 X-Apple-Action 头）"),
    "<subject@x>": ({}, "Auto reply: 表2申报", "自动回复（主题“Auto reply: 表2申报”）"),
    "<exchange@x>": ({"X-Auto-Response-Suppress": "All"}, "Automatic reply: 表2",
                     "自动回复（含 X-Auto-Response-Suppress 头）"),
    "<loop@x>": ({"X-MS-Exchange-Inbox-Rules-Loop": "a@example.cn"}, "表2",
                 "自动回复（含 X-Ms-Exchange-Inbox-Rules-Loop 头）"),
    "<163@x>": ({}, "自动回复:表2申报", "自动回复（主题“自动回复:表2申报”）"),
    "<qq@x>": ({}, "【自动回复】您好，我现在休假中", "自动回复（主题“【自动回复】您好，我现在休假中”）"),
    "<fml@x>": ({"X-MLServer": "fml [fml 4.0.3]"}, "Loop Alert: Duplicated Message-ID",
                "邮件列表（含 X-Mlserver 头）"),
}


def test_auto_replies_are_recorded_never_answered(imap_server: PymapServer, smtp_sink: SmtpSink,
                                                  env: Env) -> None:
    for message_id, (headers, subject, _reason) in AUTOMATIC.items():
        sender = "neko-admin@example.jp" if message_id == "<fml@x>" else "a@example.cn"
        append_mail(imap_server, mail(sender, subject, message_id=message_id, headers=headers), at(16))
    daemon = (b"From: MAILER-DAEMON <>\r\nTo: office@example.gov.cn\r\nSubject: Mail delivery failed\r\n"
              b"Message-ID: <daemon@x>\r\n\r\nThis message was created automatically.\r\n")
    append_mail(imap_server, daemon, at(16))
    factory, replies = run_poll(imap_server, smtp_sink, env)
    assert replies == {}
    with factory() as session:
        rows = {m.message_id: (m.status, m.automatic_reason) for m in session.scalars(select(Message))}
    assert rows == {**{k: ("ignored", v[2]) for k, v in AUTOMATIC.items()},
                    "<daemon@x>": ("ignored", "退信（发件人 MAILER-DAEMON，地址为空）")}


def test_a_person_writing_about_auto_replies_is_answered(imap_server: PymapServer, smtp_sink: SmtpSink,
                                                        env: Env) -> None:
    append_mail(imap_server, mail("a@example.cn", "关于自动回复：请问收到了吗", message_id="<p@x>"), at(16))
    _factory, replies = run_poll(imap_server, smtp_sink, env)
    assert list(replies) == ["a@example.cn"]


def test_archiver_junk_is_kept_silently(imap_server: PymapServer, smtp_sink: SmtpSink, env: Env) -> None:
    """GIVEN a Mac zip (``__MACOSX/``, ``._x``, ``.DS_Store``) made while Word had the form open (``~$x``)
    THEN the form is accepted, the junk is in the record and the receipt mentions none of it."""
    form = make_form_docx(2, {"unit": "苏州工业园区行政审批局"})
    archive = zipped({"表2/表2.docx": form, "__MACOSX/表2/._表2.docx": b"\x00\x05\x16\x07junk",
                      "表2/.DS_Store": b"\x00\x00\x00\x01Bud1", "表2/~$表2.docx": b"\x0cowner",
                      "表2/Thumbs.db": b"\xd0\xcf\x11\xe0", "表2/desktop.ini": b"[.ShellClassInfo]"})
    append_mail(imap_server, mail("园区 <yq@example.cn>", "表2", message_id="<mac@x>",
                                  attachments={"表2.zip": archive}), at(16))
    factory, replies = run_poll(imap_server, smtp_sink, env)
    with factory() as session:
        message = session.scalars(select(Message)).one()
        assert message.status == "accepted" and message.flags == []
        assert [(a.path, a.flags) for a in message.attachments] == [
            ("表2.zip/表2/表2.docx", []), ("表2.zip/__MACOSX/表2/._表2.docx", []), ("表2.zip/表2/.DS_Store", []),
            ("表2.zip/表2/~$表2.docx", []), ("表2.zip/表2/Thumbs.db", []), ("表2.zip/表2/desktop.ini", []),
        ]
    text = replies["yq@example.cn"]
    assert "1. 表2《为民服务工作先进集体申报表》：苏州工业园区行政审批局，字数 " in text
    assert "DS_Store" not in text and "~$" not in text and "MACOSX" not in text


def test_overlong_correction_names_each_box(imap_server: PymapServer, smtp_sink: SmtpSink, env: Env) -> None:
    fields = {"unit": "吴中区行政审批局", "contact": "王明 0512-66681234", "project": "甲" * 400,
              "recognition": "获省级表彰", "summary": "乙" * 640}
    append_mail(imap_server, mail("吴中 <wz@example.cn>", "表1", message_id="<long@x>",
                                  attachments={"表1.docx": make_form_docx(1, fields)}), at(16))
    _factory, replies = run_poll(imap_server, smtp_sink, env)
    lines = body_lines(replies["wz@example.cn"])
    assert lines[2:5] == [
        "附件“表1.docx”：",
        "  表1《改革创新标兵单位申报表》（吴中区行政审批局，字数 1045/1000）：",
        "    - 叙述内容合计1045字（“参评项目（单位）名称和简介”400字，“该项目获奖、领导批示或媒体报道情况”5字，"
        "“改革创新项目概述及成效简介”640字），超过1000字的限制，请精简后重新发送。",
    ]
    assert "）（" not in replies["wz@example.cn"]


@pytest.mark.parametrize("kind", ["receipt", "correction"])
def test_no_doubled_brackets_in_form_lines(kind: str, imap_server: PymapServer, smtp_sink: SmtpSink,
                                           env: Env) -> None:
    star = {"name": "张三", "unit_and_title": "窗口 科员", "deeds": "热情服务", "recommender": "吴江区行政审批局"}
    if kind == "correction":
        star["unit_and_title"] = ""
    append_mail(imap_server, mail("吴江 <wj@example.cn>", "表3", message_id="<s@x>",
                                  attachments={"表3.docx": make_form_docx(3, star)}), at(16))
    _factory, replies = run_poll(imap_server, smtp_sink, env)
    text = replies["wj@example.cn"]
    assert "）（" not in text and "）：表" not in text
    if kind == "receipt":
        assert "1. 表3《窗口服务明星申报表》：张三，申报单位：吴江区行政审批局，字数 4/1000" in body_lines(text)
    else:
        assert body_lines(text)[2:5] == [
            "附件“表3.docx”：",
            "  表3《窗口服务明星申报表》（张三，申报单位：吴江区行政审批局，字数 4/1000）：",
            "    - “所在单位及职务”未填写，请补充后重新发送。",
        ]


def page_docx(text: str) -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph("主要事迹（附页）")
    document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_a_separate_page_counts_for_its_box(imap_server: PymapServer, smtp_sink: SmtpSink, env: Env) -> None:
    """GIVEN 表2 saying 详见附页 with the page as a second Word file THEN the page is linked to 主要事迹,
    its 字数 (the page's heading included, as Word counts) count there — accepted at 808, overlong at
    1208 — the page is no “file without a form”, and a page announced but missing is asked for."""
    from mailintake.db.models import Submission

    short = make_form_docx(2, {"unit": "吴中区行政审批局", "deeds": "详见附页"})
    append_mail(imap_server, mail("吴中 <wz@example.cn>", "表2", message_id="<ok@x>",
                                  attachments={"表2.docx": short, "附页.docx": page_docx("事" * 800)}), at(16))
    append_mail(imap_server, mail("相城 <xc@example.cn>", "表2", message_id="<long@x>",
                                  attachments={"表2.docx": short, "附页.docx": page_docx("事" * 1200)}), at(16, 11))
    append_mail(imap_server, mail("姑苏 <gs@example.cn>", "表2", message_id="<none@x>",
                                  attachments={"表2.docx": short}), at(16, 12))
    factory, replies = run_poll(imap_server, smtp_sink, env)
    with factory() as session:
        rows = {s.message.message_id: (s.message.status, s.word_count, s.fields.get("附页"))
                for s in session.scalars(select(Submission))}
        pages = select(AttachmentRow).where(AttachmentRow.path == "附页.docx")
        page_flags = [a.flags for a in session.scalars(pages)]
    assert rows == {"<ok@x>": ("accepted", 808, "附页.docx（主要事迹，808字）"),
                    "<long@x>": ("needs_correction", 1208, "附页.docx（主要事迹，1208字）"),
                    "<none@x>": ("needs_correction", 4, None)}
    assert page_flags == [[], []]
    receipt = body_lines(replies["wz@example.cn"])
    assert "1. 表2《为民服务工作先进集体申报表》：吴中区行政审批局，字数 808/1000" in receipt
    assert body_lines(replies["xc@example.cn"])[2:5] == [
        "附件“表2.docx”：",
        "  表2《为民服务工作先进集体申报表》（吴中区行政审批局，字数 1208/1000）：",
        "    - “主要事迹”共1208字，超过1000字的限制，请精简后重新发送。",
    ]
    assert body_lines(replies["gs@example.cn"])[2:5] == [
        "附件“表2.docx”：",
        "  表2《为民服务工作先进集体申报表》（吴中区行政审批局，字数 4/1000）：",
        "    - “主要事迹”写明见附页，但本邮件中没有附页，请将附页与申报表一同发送。",
    ]


def form_with_pages_after(table: int, fields: dict[str, str], *paragraphs: str) -> bytes:
    """A form whose box says 详见附页, with the page written after the table in the same document."""
    import docx

    document = docx.Document(io.BytesIO(make_form_docx(table, fields)))
    for text in paragraphs:
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_pages_after_the_table_count_for_their_box(imap_server: PymapServer, smtp_sink: SmtpSink,
                                                   env: Env) -> None:
    """GIVEN 表2 saying 详见附页 with the page written after the table in the form's own document THEN
    the page is linked to 主要事迹 and counted there (accepted at 808, overlong at 1208); text after a
    table whose boxes point to no page changes nothing."""
    from mailintake.db.models import Submission

    fields = {"unit": "吴中区行政审批局", "deeds": "详见附页"}
    append_mail(imap_server, mail("吴中 <wz@example.cn>", "表2", message_id="<in-ok@x>", attachments={
        "表2.docx": form_with_pages_after(2, fields, "主要事迹（附页）", "事" * 800)}), at(16))
    append_mail(imap_server, mail("相城 <xc@example.cn>", "表2", message_id="<in-long@x>", attachments={
        "表2.docx": form_with_pages_after(2, fields, "主要事迹（附页）", "事" * 1200)}), at(16, 11))
    append_mail(imap_server, mail("姑苏 <gs@example.cn>", "表2", message_id="<in-plain@x>", attachments={
        "表2.docx": form_with_pages_after(2, {"unit": "姑苏区行政审批局", "deeds": "事迹" * 100},
                                          "苏州市姑苏区行政审批局", "2019年12月16日")}), at(16, 12))
    factory, replies = run_poll(imap_server, smtp_sink, env)
    with factory() as session:
        rows = {s.message.message_id: (s.message.status, s.word_count, s.fields.get("附页"))
                for s in session.scalars(select(Submission))}
    assert rows == {"<in-ok@x>": ("accepted", 808, "表2.docx表格后（主要事迹，808字）"),
                    "<in-long@x>": ("needs_correction", 1208, "表2.docx表格后（主要事迹，1208字）"),
                    "<in-plain@x>": ("accepted", 200, None)}
    receipt = body_lines(replies["wz@example.cn"])
    assert "1. 表2《为民服务工作先进集体申报表》：吴中区行政审批局，字数 808/1000" in receipt
    assert body_lines(replies["xc@example.cn"])[2:5] == [
        "附件“表2.docx”：",
        "  表2《为民服务工作先进集体申报表》（吴中区行政审批局，字数 1208/1000）：",
        "    - “主要事迹”共1208字，超过1000字的限制，请精简后重新发送。",
    ]


def test_the_templates_own_note_after_the_table_is_no_page() -> None:
    """The notice's “注：填写要简明扼要，如填写不下，可单独附页。” after 表1 is template text, not a page."""
    from parsers.parse import parse_document

    data = form_with_pages_after(1, {}, "注：填写要简明扼要，如填写不下，可单独附页。")
    result = parse_document(data, "表1.docx", soffice=None)
    assert (len(result.forms), result.page_text) == (1, "")
    data = form_with_pages_after(1, {}, "注：填写要简明扼要，如填写不下，可单独附页。", "附页：项目概述", "概述正文")
    assert parse_document(data, "表1.docx", soffice=None).page_text == "附页：项目概述\n概述正文"
