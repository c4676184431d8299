"""Right answers, third pass (issue 24): a form table Word split in two, a photo iPhone Mail sends inline, one
file attached twice, an Outlook item (.msg) attached — each mail built the way the named client builds it,
through a real poll (pymap), a real database and a real SMTP sink.

Test .msg files are written with aspose-email-foss (a dev dependency: a maintained, MIT-licensed, pure-Python
MSG writer — extract-msg only reads); one real Outlook .msg of the foreign corpus is read where it lies.
"""

from __future__ import annotations

import email
import tempfile
from email import policy
from pathlib import Path

import olefile
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from mailintake.db.models import AttachmentRow, Message, Submission
from mailintake.db.storage import Storage
from mailintake.demo.samples.attachments import jpeg_image, png_image
from mailintake.demo.samples.forms import FormSpec, make_form_docx, make_multi_form_docx, split_form_table
from mailintake.demo.samples.mails import MessageBuilder
from mailintake.demo.servers.pymap_server import PymapServer
from mailintake.mail.reader import read_mail
from mailintake.report.build import build_report
from mailintake.report.sections import reading_failures
from mailintake.web.queries.files import attachment_file
from mailintake.web.queries.mails import mail_detail
from parsers import parse_document
from parsers.definitions import load_definitions
from parsers.docx_grid import Table, read_docx
from tests.scenarios.test_right_answers import CONTACT, SIGNATURE, body_lines, run_poll
from tests.support.fixtures.env import Env
from tests.support.helpers import at
from tests.support.servers import SmtpSink, append_mail

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "foreign-corpus"
OFFICE = "苏州市行政审批局办公室"
PROJECT_A = {"project": "“一窗通办、集成服务”改革", "unit": "苏州工业园区行政审批局"}
PROJECT_B = {"project": "“不见面审批”全程网办", "unit": "苏州工业园区行政审批局"}


def outlook_item(subject: str, files: dict[str, bytes], *, sender: str = "lijing@sipac.gov.cn") -> bytes:
    """An Outlook item (.msg) as Outlook saves a received mail: sender, subject, body and its attachments."""
    from aspose.email_foss import msg

    item = msg.MapiMessage.create(subject, "王老师：\n附件是我单位的申报表，请查收。")
    item.set_property(msg.PropertyId.SENDER_NAME, "李静")
    item.set_property(msg.PropertyId.SENDER_EMAIL_ADDRESS, sender)
    item.add_recipient("840573720@qq.com", display_name="王琰")
    for name, data in files.items():
        item.add_attachment(name, data)
    return bytes(msg.MsgWriter.to_bytes(item.to_msg_document()))


def stored_bytes(env: Env, row: AttachmentRow) -> bytes:
    """What the console's download of this attachment serves."""
    with env.session_factory() as session:
        found = attachment_file(session, row.id)
    assert found is not None
    return Storage(env.root / "storage").get(found[0])


# -- a table split by a page break --------------------------------------------------------------------


@pytest.mark.parametrize(("table", "before", "page_break"), [
    (3, "主", True),  # 表3 split before its 主要事迹 row by a page break (Ctrl+Enter in the table)
    (1, "该项目", False),  # 表1 split after its first row: two w:tbl back to back
])
def test_a_form_word_split_in_two_tables_is_one_complete_form(imap_server: PymapServer, smtp_sink: SmtpSink,
                                                             env: Env, table: int, before: str,
                                                             page_break: bool) -> None:
    """GIVEN a form whose table Word split in two (the second part starting with 主要事迹 for 表3, after the
    first row for 表1), sent from Outlook WHEN polled THEN it is one complete form, exactly as the unsplit
    file reads, and the sender gets a receipt — no phantom form, nothing asked for that is in the file."""
    whole = make_form_docx(table)
    split = split_form_table(whole, before, page_break=page_break)
    blocks = read_docx(split)
    tables = [index for index, block in enumerate(blocks) if isinstance(block, Table)]
    between = [block.text for block in blocks[tables[0] + 1 : tables[-1]]] if len(tables) == 2 else None
    assert between == (["\n"] if page_break else [])  # two w:tbl, with a page-break paragraph or back to back
    append_mail(imap_server, MessageBuilder("outlook").subject(f"表{table}申报").message_id("<split@x>")
                .attach(f"表{table}.docx", split).build(), at(16))
    factory, replies = run_poll(imap_server, smtp_sink, env)
    [expected] = parse_document(whole, f"表{table}.docx", soffice=None).forms
    with factory() as session:
        status = session.scalar(select(Message.status))
        forms = [(s.table_no, s.fields, s.flags) for s in session.scalars(select(Submission))]
    assert (status, forms) == ("accepted", [(table, expected.fields, [])])
    [text] = replies.values()
    who = {3: "表3《窗口服务明星申报表》：王晓雯，申报单位：苏州市行政审批局政务服务处",
           1: "表1《改革创新标兵单位申报表》：苏州工业园区行政审批局"}[table]
    assert body_lines(text)[2:6] == ["回执编号：2019-0001", "已识别的申报表：",
                                     f"1. {who}，字数 {expected.word_count}/1000",
                                     "请于2019年12月18日17:30前将上述申报表加盖公章的纸质材料一式两份寄送至："
                                     "苏州市平泷路251号城市生活广场A座27楼2702室。"]


def test_separate_forms_in_back_to_back_tables_stay_separate() -> None:
    """GIVEN two 表3 of two people, and a 表2 followed by a 表3, each pair of tables with only a page break
    between them (the title and date lines deleted) THEN four forms: a table that repeats the labels of the
    one before, or comes with a title of its own, is another form."""
    def strip_between(docx: bytes) -> bytes:
        import io

        from docx import Document
        from docx.oxml.ns import qn

        doc = Document(io.BytesIO(docx))
        body = doc.element.body
        tables = body.findall(qn("w:tbl"))
        node = tables[0].getnext()
        while node is not None and node is not tables[1]:
            following = node.getnext()
            if node.tag == qn("w:p") and "".join(node.itertext()).strip():
                body.remove(node)
            node = following
        out = io.BytesIO()
        doc.save(out)
        return out.getvalue()

    two_people = strip_between(make_multi_form_docx([FormSpec(3, {"name": "王晓雯"}, title=False),
                                                     FormSpec(3, {"name": "陈志远"}, title=False)]))
    assert [(f.table, f.fields["name"]) for f in parse_document(two_people, "f.docx", soffice=None).forms] == [
        (3, "王晓雯"), (3, "陈志远")]
    two_kinds = strip_between(make_multi_form_docx([FormSpec(2, None, title=False), FormSpec(3, None, title=False)]))
    assert [f.table for f in parse_document(two_kinds, "f.docx", soffice=None).forms] == [2, 3]


# -- a photo sent inline ---------------------------------------------------------------------------------


def test_iphone_inline_photo_is_an_attachment_and_an_html_logo_is_not(imap_server: PymapServer,
                                                                        smtp_sink: SmtpSink, env: Env) -> None:
    """GIVEN a 表3 and a 235 KB photo of its stamped page sent from iPhone Mail (the photo an inline image
    part without Content-ID beside the text body), and a 表2 from Outlook whose HTML body shows a 30 KB
    signature logo by cid: WHEN polled THEN the photo is kept, listed and downloadable beside the form, the
    logo is not a file, and both senders get receipts."""
    photo = jpeg_image(235_000)
    iphone = (MessageBuilder("iphone").sender("王晓雯", "wxw@example.cn").message_id("<iphone@x>")
              .text("王老师：表3见附件，盖章页拍照附上。\n\n发自我的iPhone")
              .attach("表3.docx", make_form_docx(3)).inline_photo("IMG_0423.JPG", photo).build())
    assert b"Content-Disposition: inline" in iphone and b"Content-ID" not in iphone
    outlook = (MessageBuilder("outlook").sender("吴江区便民服务中心", "wj@example.cn").message_id("<logo@x>")
               .inline_image(png_image(30_000), "image001.png@01D5B3F1.5A6B7C80", "logo.png")
               .attach("表2.docx", make_form_docx(2)).build())
    html = email.message_from_bytes(outlook, policy=policy.default).get_body(preferencelist=("html",))
    assert html is not None and '<img src="cid:image001.png@01D5B3F1.5A6B7C80">' in html.get_content()
    append_mail(imap_server, iphone, at(16))
    append_mail(imap_server, outlook, at(16, 11))
    factory, replies = run_poll(imap_server, smtp_sink, env)
    with factory() as session:
        files = {m.message_id: (m.status, [(a.path, a.format) for a in m.attachments])
                 for m in session.scalars(select(Message))}
        photo_row = session.scalars(select(AttachmentRow).where(AttachmentRow.path == "IMG_0423.JPG")).one()
    assert files == {"<iphone@x>": ("accepted", [("表3.docx", "docx"), ("IMG_0423.JPG", "jpeg")]),
                     "<logo@x>": ("accepted", [("表2.docx", "docx")])}
    assert stored_bytes(env, photo_row) == photo
    assert body_lines(replies["wxw@example.cn"])[2] == "回执编号：2019-0001"
    assert body_lines(replies["wj@example.cn"])[2] == "回执编号：2019-0002"


def test_a_photo_alone_goes_to_a_person_and_the_reply_asks_for_the_word_file(
        imap_server: PymapServer, smtp_sink: SmtpSink, env: Env, tmp_path: Path) -> None:
    """GIVEN only a photo of the stamped form, sent inline from iPhone Mail WHEN polled THEN the mail goes to
    需人工处理 with the photo listed there, and the reply asks for the Word file — not “邮件中没有附件”."""
    append_mail(imap_server, MessageBuilder("iphone").sender("张三", "zs@example.cn").message_id("<photo@x>")
                .text("王老师：盖章的申报表拍照发您。\n\n发自我的iPhone")
                .inline_photo("IMG_0424.JPG", jpeg_image(235_000)).build(), at(16))
    factory, replies = run_poll(imap_server, smtp_sink, env)
    with factory() as session:
        message = session.scalars(select(Message)).one()
        assert (message.status, [a.path for a in message.attachments]) == ("no_form", ["IMG_0424.JPG"])
        assert reading_failures(message.attachments[0]) == []  # not in the report's 无法识别的附件
        files = build_report(env.settings(), session, now=at(17, 8), out_dir=tmp_path / "reports")
        session.commit()
    assert body_lines(replies["zs@example.cn"]) == [
        "您好！",
        f"{OFFICE}已收到您于2019年12月16日10:00发送的邮件（回执编号：2019-0001），"
        "但未在邮件中发现可识别的申报表（通知附件1中的表1至表4）。",
        "- 附件“IMG_0424.JPG”为图片文件，无法读取表格内容，请发送 Word 格式（.docx）的申报表；扫描件可另行附上。",
        "您的邮件已转交办公室工作人员阅处；如您提出了问题，办公室将另行答复，无需重复发送。",
        "如需申报，请将通知附件1中的申报表（表1至表4，Word 文件）填写完整后作为邮件附件发送至本邮箱，"
        "截止时间为2019年12月18日17:30。",
        "空白申报表已随本邮件附上（附件1.“双争双创”活动先进荣誉申报表.docx），请只保留并填写拟申报的表格。",
        CONTACT, *SIGNATURE,
    ]
    manual = list(load_workbook(files.xlsx_path)["需人工处理"].iter_rows(values_only=True))
    assert [(row[2], row[5]) for row in manual if row[0] == 1] == [("张三 <zs@example.cn>", "IMG_0424.JPG")]


# -- one file attached twice -----------------------------------------------------------------------------


def test_a_form_attached_twice_under_two_names_is_one_record(imap_server: PymapServer, smtp_sink: SmtpSink,
                                                             env: Env) -> None:
    """GIVEN two 表1 projects from Foxmail, the first added twice (Foxmail names the copy “(1)”) WHEN polled
    THEN two records, none superseded, the file recorded once under its first name with the other noted,
    and the receipt lists two forms and never the copy's name."""
    first, second = make_form_docx(1, PROJECT_A), make_form_docx(1, PROJECT_B)
    append_mail(imap_server, MessageBuilder("foxmail").sender("李静", "lj@example.cn").message_id("<twice@x>")
                .attach("表1 一窗通办.docx", first).attach("表1 一窗通办(1).docx", first)
                .attach("表1 不见面审批.docx", second).build(), at(16))
    factory, replies = run_poll(imap_server, smtp_sink, env)
    with factory() as session:
        rows = [(a.path, a.other_names) for a in session.scalars(select(AttachmentRow).order_by(AttachmentRow.id))]
        forms = [(s.fields["project"], s.current, s.superseded_by) for s in session.scalars(select(Submission))]
        detail = mail_detail(session, session.scalars(select(Message.id)).one(), load_definitions())
    assert detail is not None  # the console's mail page lists the file once, with its other name
    assert [(name, others) for _id, name, _size, _fmt, _flags, _stored, others in detail.attachments] == [
        ("表1 一窗通办.docx", ["表1 一窗通办(1).docx"]), ("表1 不见面审批.docx", [])]
    assert rows == [("表1 一窗通办.docx", ["表1 一窗通办(1).docx"]), ("表1 不见面审批.docx", [])]
    assert forms == [(PROJECT_A["project"], True, None), (PROJECT_B["project"], True, None)]
    text = replies["lj@example.cn"]
    counts = [parse_document(data, "f.docx", soffice=None).forms[0].word_count for data in (first, second)]
    assert body_lines(text)[3:6] == [
        "已识别的申报表：",
        f"1. 表1《改革创新标兵单位申报表》：苏州工业园区行政审批局，字数 {counts[0]}/1000",
        f"2. 表1《改革创新标兵单位申报表》：苏州工业园区行政审批局，字数 {counts[1]}/1000"]
    assert "(1)" not in text and "一窗通办.docx" not in text


# -- an Outlook item attached ----------------------------------------------------------------------------


def test_an_outlook_item_carrying_a_form_is_read_and_kept(imap_server: PymapServer, smtp_sink: SmtpSink,
                                                          env: Env) -> None:
    """GIVEN a unit's mail saved in Outlook and dragged into a new Outlook mail as an item (.msg, carrying a
    表4) WHEN polled THEN the 表4 is recorded and receipted, and the .msg itself is kept and downloadable."""
    item = outlook_item("表4申报", {"表4 先进工作者申报表.docx": make_form_docx(4)})
    append_mail(imap_server, MessageBuilder("outlook").sender("昆山市政务服务中心", "ks@example.cn")
                .message_id("<item@x>").text("王老师：转发我单位的申报邮件，请查收。")
                .attach("表4申报.msg", item, "application/vnd.ms-outlook").build(), at(16))
    factory, replies = run_poll(imap_server, smtp_sink, env)
    with factory() as session:
        message = session.scalars(select(Message)).one()
        rows = [(a.path, a.format, bool(a.flags)) for a in message.attachments]
        forms = [(s.table_no, s.fields["name"], s.flags) for s in message.submissions]
        kept = message.attachments[0]
    assert (message.status, rows) == ("accepted", [("表4申报.msg", "msg", False),
                                                   ("表4申报.msg/表4 先进工作者申报表.docx", "docx", False)])
    assert forms == [(4, "陈志远", [])]
    assert stored_bytes(env, kept) == item
    [form] = parse_document(make_form_docx(4), "f.docx", soffice=None).forms
    assert body_lines(replies["ks@example.cn"])[2:5] == [
        "回执编号：2019-0001", "已识别的申报表：",
        f"1. 表4《先进工作者申报表》：陈志远，申报单位：昆山市行政审批局，字数 {form.word_count}/1000"]


def test_a_damaged_outlook_item_is_kept_and_flagged(imap_server: PymapServer, smtp_sink: SmtpSink,
                                                    env: Env) -> None:
    """GIVEN two Outlook mails with a damaged item each — one cut short (not even an OLE file any more), one
    whose message-class stream is overwritten — WHEN polled THEN no crash: each .msg is kept on the record
    and the correction names it."""
    item = outlook_item("表4申报", {"表4.docx": make_form_docx(4)})
    with tempfile.NamedTemporaryFile(suffix=".msg") as handle:
        handle.write(item)
        handle.flush()
        with olefile.OleFileIO(handle.name, write_mode=True) as ole:
            size = len(ole.openstream("__substg1.0_001A001F").read())
            ole.write_stream("__substg1.0_001A001F", b"\xff" * size)
        overwritten = Path(handle.name).read_bytes()
    for n, (sender, data) in enumerate([("a@example.cn", item[: len(item) // 2]), ("b@example.cn", overwritten)]):
        append_mail(imap_server, MessageBuilder("outlook").sender("某单位", sender).message_id(f"<bad{n}@x>")
                    .attach("申报邮件.msg", data, "application/vnd.ms-outlook").build(), at(16, 10 + n))
    factory, replies = run_poll(imap_server, smtp_sink, env)
    flag = "附件“申报邮件.msg”（Outlook 邮件项目）已损坏，无法读取，请将其中的附件直接添加到新邮件中发送。"
    with factory() as session:
        mails = {m.from_addr: (m.status, [(a.path, a.format) for a in m.attachments],
                               [f["message"] for f in m.flags]) for m in session.scalars(select(Message))}
    assert mails == {address: ("needs_correction", [("申报邮件.msg", "msg")], [flag])
                     for address in ("a@example.cn", "b@example.cn")}
    for address in ("a@example.cn", "b@example.cn"):
        assert f"- {flag}" in body_lines(replies[address])


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the foreign corpus is not at {CORPUS}")
def test_a_real_outlook_item_from_the_foreign_corpus_is_read() -> None:
    """GIVEN real Outlook .msg files (the foreign corpus, read where it lies): one carrying a Word 97 document
    and a text file, one carrying another item and a PDF THEN their files are candidates beside the kept .msg
    (an item inside named by its subject), and nothing is flagged."""
    wrapped = CORPUS / "mails" / "wrapped"
    mail = read_mail((wrapped / "wrap-041-testMSG_att_doc.msg.eml").read_bytes())
    assert [(a.path, a.format, a.container, len(a.data)) for a in mail.attachments] == [
        ("testMSG_att_doc.msg", "msg", True, 52224), ("testMSG_att_doc.msg/test-unicode.doc", "doc", False, 24064),
        ("testMSG_att_doc.msg/pj1.txt", "text", False, 89)]
    assert mail.flags == []
    nested = read_mail((wrapped / "wrap-042-testMSG_att_msg.msg.eml").read_bytes())
    assert [(a.path, a.format, a.container) for a in nested.attachments] == [
        ("testMSG_att_msg.msg", "msg", True), ("testMSG_att_msg.msg/Test Attachment.msg", "msg", True),
        ("testMSG_att_msg.msg/smbprn.00009008.KdcPjl.pdf", "pdf", False)]
    assert nested.flags == []
