"""read_mail on mails built the way QQ Mail, 163, Outlook, Foxmail, mutt and old Foxmail send them."""

from __future__ import annotations

import base64
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailintake.demo.samples.mails import (
    CLIENTS,
    MessageBuilder,
    builder,
    jpeg_image,
    minimal_docx,
    png_image,
    zip_archive,
)
from mailintake.mail.archives import ArchiveLimits
from mailintake.mail.reader import read_mail, synthetic_message_id
from parsers.records import Flag

NAME = "王珺（吴中区行政审批局·镕喆堃）"
SUBJECT = "【双争双创】吴中区行政审批局申报材料（表1、表2）——朱镕基 张喆 王堃"
FILE = "表1 改革创新标兵单位申报表（吴中区·镕喆）.docx"
BODY = "王老师：\n附件是我单位的申报表（表1），请查收。经办人：王珺"


def _client_mail(client: str) -> bytes:
    return (MessageBuilder(client).sender(NAME, "WangJun@WZ.gov.cn").subject(SUBJECT).text(BODY)
            .attach(FILE, minimal_docx()).build())


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_each_client_style_reads_exactly(client: str) -> None:
    """GIVEN a mail with GBK-only characters in name, subject and filename, written by each client
    WHEN read THEN every field comes out exactly, with no flags."""
    raw = _client_mail(client)
    mail = read_mail(raw)
    assert mail.from_addr == "wangjun@wz.gov.cn"
    assert mail.from_name == NAME
    assert mail.subject == SUBJECT
    assert mail.body_text == BODY
    assert [(a.path, a.format) for a in mail.attachments] == [(FILE, "docx")]
    assert mail.attachments[0].data == minimal_docx()
    assert mail.flags == []
    assert mail.automatic_reason is None
    assert mail.date_header == "Mon, 16 Dec 2019 10:12:05 +0800"
    assert mail.message_id.startswith("<") and mail.message_id.endswith(f".{client}@WZ.gov.cn>")


def test_the_samples_really_carry_each_clients_quirks() -> None:
    """The builder must produce the hard cases, or the test above proves nothing."""
    outlook = _client_mail("outlook")
    assert b"Subject: =?gb2312?B?" in outlook
    assert b'From: "=?gb2312?B?' in outlook
    assert b'charset="gb2312"' in outlook and b"Content-Transfer-Encoding: quoted-printable" in outlook
    assert "镕".encode("gbk") not in outlook  # it is inside base64 / QP, not raw
    qq = _client_mail("qq")
    assert b"=?gb18030?B?" in qq and b'filename="=?gb18030?B?' in qq
    assert b"=?GBK?B?" in _client_mail("163")
    foxmail = _client_mail("foxmail").split(b"\r\n")
    subject_words = [line for line in foxmail if b"=?utf-8?B?" in line][:2]
    first = base64.b64decode(subject_words[0].split(b"?")[3])
    with pytest.raises(UnicodeDecodeError):
        first.decode("utf-8")  # 13-byte words split characters
    mutt = _client_mail("mutt")
    assert b"filename*0*=utf-8''" in mutt and b"filename*1*=" in mutt and b"=?utf-8?Q?" in mutt
    old = _client_mail("foxmail-old")
    assert b"Subject: " + SUBJECT.encode("gbk") in old
    assert FILE.encode("gbk") in old
    assert b"Subject: " + SUBJECT.encode("utf-8") in _client_mail("raw-utf8")


def test_mutt_continuation_splits_a_character() -> None:
    raw = builder("mutt", rfc2231_bytes=2).attach("表1.docx", minimal_docx()).build()
    assert b"filename*0*=utf-8''%E8%A1;\r\n\tfilename*1*=%A81;" in raw
    mail = read_mail(raw)
    assert [a.path for a in mail.attachments] == ["表1.docx"]


def test_gb2312_body_with_gbk_only_characters_in_8bit_and_base64() -> None:
    for cte in ("8bit", "base64", "quoted-printable"):
        raw = builder("outlook", body_cte=cte, html_alternative=False).text("朱镕基、张喆、王堃、李珺").build()
        assert read_mail(raw).body_text == "朱镕基、张喆、王堃、李珺"


def test_html_only_body_is_stripped_to_text() -> None:
    raw = (MessageBuilder("163").text(None)
           .html("<html><head><style>p{color:red}</style></head><body><p>王老师：</p><p>请查收&nbsp;表1。</p>"
                 "<script>x()</script></body></html>").build())
    assert read_mail(raw).body_text == "王老师：\n请查收 表1。"


def test_inline_images_and_logos_are_not_candidates_but_attached_files_are() -> None:
    """GIVEN an Outlook mail with an inline logo (Content-ID), a pasted screenshot, a tiny attached icon,
    an explicitly attached scan and a PDF WHEN read THEN only the scan, the PDF and the form remain."""
    raw = (MessageBuilder("outlook")
           .inline_image(png_image(3000))
           .inline_image(png_image(80_000), "screenshot@local", "截图.png")
           .attach("logo.png", png_image(2000))
           .attach("image002.jpg", jpeg_image(40_000))
           .attach("扫描件.jpg", jpeg_image(60_000))
           .attach("盖章页.pdf", b"%PDF-1.4\n" + b"0" * 1000)
           .attach("表1.docx", minimal_docx())
           .build())
    mail = read_mail(raw)
    assert [(a.path, a.format, a.content_type) for a in mail.attachments] == [
        ("扫描件.jpg", "jpeg", "image/jpeg"),
        ("盖章页.pdf", "pdf", "application/pdf"),
        ("表1.docx", "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ]
    assert mail.flags == []


def test_forwarding_centre_zip_with_gbk_member_names() -> None:
    """GIVEN a 便民服务中心 forwarding several units' forms in one zip written by Windows (GBK names,
    no UTF-8 flag) WHEN read THEN each member is a candidate named by its path in the archive."""
    archive = zip_archive({
        "吴中区便民服务中心/表2 为民服务工作先进集体申报表.docx": minimal_docx("表2"),
        "相城区便民服务中心/表3 镕喆.docx": minimal_docx("表3"),
        "相城区便民服务中心/说明.txt": "请查收".encode("gbk"),
    })
    raw = MessageBuilder("qq").attach("各地申报材料汇总.zip", archive).build()
    mail = read_mail(raw)
    assert [(a.path, a.format) for a in mail.attachments] == [
        ("各地申报材料汇总.zip/吴中区便民服务中心/表2 为民服务工作先进集体申报表.docx", "docx"),
        ("各地申报材料汇总.zip/相城区便民服务中心/表3 镕喆.docx", "docx"),
        ("各地申报材料汇总.zip/相城区便民服务中心/说明.txt", "text"),
    ]
    assert mail.flags == []


def test_missing_message_id_gets_a_stable_synthetic_one() -> None:
    raw = MessageBuilder("foxmail-old").message_id(None).build()
    mail = read_mail(raw)
    assert mail.message_id == synthetic_message_id(raw)
    assert mail.message_id.endswith("@mailintake.invalid>") and len(mail.message_id) == 1 + 32 + 20
    assert read_mail(raw).message_id == mail.message_id


def test_message_id_without_brackets_and_reply_to_list() -> None:
    raw = (MessageBuilder("163").message_id("abc.123@163.com").reply_to("Boss@WZ.gov.cn", "clerk@wz.gov.cn")
           .header("Reply-To", "=?GBK?B?wfXA9g==?= <Boss@WZ.gov.cn>, clerk@wz.gov.cn, boss@wz.gov.cn").build())
    mail = read_mail(raw)
    assert mail.message_id == "<abc.123@163.com>"
    assert mail.reply_to == ["boss@wz.gov.cn", "clerk@wz.gov.cn"]


def test_sender_name_with_crlf_and_nul_is_sanitised() -> None:
    name = base64.b64encode("张三\r\nBcc: all@x.cn\x00".encode()).decode()
    raw = MessageBuilder("qq").header("From", f"=?utf-8?B?{name}?= <zs@qq.com>").subject("申报\x00表").build()
    mail = read_mail(raw)
    assert (mail.from_name, mail.from_addr, mail.subject) == ("张三 Bcc: all@x.cn", "zs@qq.com", "申报表")


def test_sender_without_display_name_and_garbled_from() -> None:
    assert read_mail(MessageBuilder("mutt").header("From", "zs@QQ.com").build()).from_name == ""
    mail = read_mail(MessageBuilder("mutt").header("From", "\"broken <zs@qq.com").build())
    assert mail.from_addr == "zs@qq.com"


# -- mail that is not a submission ---------------------------------------------------------------


def _reason(b: MessageBuilder, own: frozenset[str] = frozenset()) -> str | None:
    return read_mail(b.build(), own_addresses=own).automatic_reason


def test_automatic_reasons() -> None:
    assert _reason(MessageBuilder("qq").bounce()) == "退信（multipart/report）"
    assert _reason(MessageBuilder("qq").sender("", "postmaster@wz.gov.cn")) == "退信（发件人 postmaster@wz.gov.cn）"
    assert _reason(MessageBuilder("qq").sender("", "MAILER-DAEMON@163.com")) == "退信（发件人 mailer-daemon@163.com）"
    assert _reason(MessageBuilder("qq").header("Return-Path", "< >")) == "退信（Return-Path 为空）"
    assert _reason(MessageBuilder("qq").auto_reply()) == "自动发送（Auto-Submitted: auto-replied）"
    assert _reason(MessageBuilder("qq").header("Auto-Submitted", "auto-generated; x")) == \
        "自动发送（Auto-Submitted: auto-generated）"
    assert _reason(MessageBuilder("qq").header("Precedence", "Bulk")) == "群发邮件（Precedence: bulk）"
    assert _reason(MessageBuilder("qq").header("Precedence", "junk")) == "群发邮件（Precedence: junk）"
    assert _reason(MessageBuilder("qq").header("List-Id", "<x.lists.cn>")) == "邮件列表（含 List-Id 头）"
    assert _reason(MessageBuilder("qq").header("List-Unsubscribe", "<mailto:u@x>")) == \
        "邮件列表（含 List-Unsubscribe 头）"
    assert _reason(MessageBuilder("qq").header("X-Autorespond", "1")) == "自动回复（含 X-Autorespond 头）"
    assert _reason(MessageBuilder("163").sender("审批局", "840573720@QQ.com"), frozenset({"840573720@qq.com"})) == \
        "本邮箱自己发出的邮件"


def test_person_mail_is_not_automatic() -> None:
    assert _reason(MessageBuilder("qq").header("Auto-Submitted", "no")) is None
    assert _reason(MessageBuilder("qq").header("Precedence", "first-class")) is None
    assert _reason(MessageBuilder("qq").header("Return-Path", "<zhangsan@qq.com>")) is None
    assert _reason(MessageBuilder("qq"), frozenset({"840573720@qq.com"})) is None


def test_auto_reply_and_bounce_are_read_whole() -> None:
    bounce = read_mail(MessageBuilder("qq").to("nobody@wz.gov.cn").bounce().build())
    assert bounce.from_addr == "mailer-daemon@newxmesmtplogicsvrsza1.qq.com"
    assert bounce.attachments == [] and bounce.flags == []
    reply = read_mail(MessageBuilder("qq").subject("自动回复: 双争双创申报材料").text("您好，邮件已收到。").auto_reply()
                      .build())
    assert (reply.subject, reply.body_text) == ("自动回复: 双争双创申报材料", "您好，邮件已收到。")


# -- hostile input -------------------------------------------------------------------------------


def _nested(depth: int) -> bytes:
    head = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i) for i in range(depth))
    top = b"From: a@b.cn\r\nSubject: deep\r\nMessage-ID: <d@b.cn>\r\n"
    return top + head + b"Content-Type: text/plain\r\n\r\nhi\r\n"


def test_mime_nested_a_thousand_deep_is_flagged_not_raised() -> None:
    mail = read_mail(_nested(1000))
    assert (mail.subject, mail.from_addr, mail.message_id) == ("deep", "a@b.cn", "<d@b.cn>")
    assert mail.flags == [Flag("unreadable", "邮件结构嵌套过深，无法读取正文和附件，请重新发送。")]


def test_mime_nested_beyond_the_walk_limit_is_flagged() -> None:
    mail = read_mail(_nested(60))
    assert mail.flags == [Flag("unreadable", "邮件结构嵌套超过 40 层，深层内容未读取，请重新发送。")]


def test_three_thousand_attachments_are_capped_with_a_flag() -> None:
    b = MessageBuilder("mutt")
    for i in range(3000):
        b.attach(f"f{i}.txt", f"第{i}份说明".encode())
    raw = b.build()
    start = time.perf_counter()
    mail = read_mail(raw)
    assert time.perf_counter() - start < 5
    assert len(mail.attachments) == 200
    assert mail.attachments[-1].path == "f199.txt"
    assert mail.flags == [Flag("unreadable", "邮件中的附件超过 200 个，仅处理前 200 个，请精简后重新发送。")]


def test_one_file_attached_three_thousand_times_is_one_file_with_twenty_other_names_noted() -> None:
    b = MessageBuilder("mutt")
    docx = minimal_docx()
    for i in range(3000):
        b.attach(f"f{i}.docx", docx)
    mail = read_mail(b.build())
    assert [(a.path, a.other_names) for a in mail.attachments] == [("f0.docx", [f"f{i}.docx" for i in range(1, 21)])]
    assert mail.flags == []


def test_malformed_base64_decodes_leniently_or_is_flagged() -> None:
    good = base64.b64encode(minimal_docx()).decode()
    damaged = good[:40] + "!!**" + good[40:]
    raw = (b"From: a@b.cn\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
           b"Content-Type: text/plain\r\n\r\nbody\r\n--B\r\n"
           b"Content-Type: application/octet-stream; name=a.docx\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           + damaged.encode() + b"\r\n--B\r\n"
           b"Content-Type: application/octet-stream; name=b.docx\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           b"!!!!****\r\n--B--\r\n")
    mail = read_mail(raw)
    assert [(a.path, a.data == minimal_docx()) for a in mail.attachments] == [("a.docx", True)]
    assert mail.flags == [Flag("unreadable", "附件“b.docx”的编码已损坏，无法解码，请重新发送。")]


def test_nul_bytes_unknown_charset_and_huge_header_line() -> None:
    raw = (b"From: \x00a@b.cn\r\nSubject: " + b"A" * 1_000_000 + b"\r\nX-Junk: \x00\x01\x02\r\n"
           b"Content-Type: text/plain; charset=x-klingon\r\n\r\n" + "正文\x00内容".encode("gbk") + b"\r\n")
    start = time.perf_counter()
    mail = read_mail(raw)
    assert time.perf_counter() - start < 3
    assert mail.subject == "A" * 1000
    assert mail.body_text == "正文内容"
    assert mail.from_addr == "a@b.cn"


def test_empty_and_headerless_input() -> None:
    mail = read_mail(b"")
    assert (mail.message_id, mail.from_addr, mail.subject, mail.attachments, mail.flags) == \
        (synthetic_message_id(b""), "", "", [], [])
    assert read_mail(b"just some text\r\n").body_text == "just some text"


def test_limits_are_taken_from_the_caller() -> None:
    raw = MessageBuilder("qq").attach("a.docx", minimal_docx("表1")).attach("b.docx", minimal_docx("表2")).build()
    mail = read_mail(raw, limits=ArchiveLimits(max_attachments=1))
    assert [a.path for a in mail.attachments] == ["a.docx"]
    assert mail.flags == [Flag("unreadable", "邮件中的附件超过 1 个，仅处理前 1 个，请精简后重新发送。")]


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=3000))
def test_never_raises_on_random_bytes(raw: bytes) -> None:
    mail = read_mail(b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n" + raw)
    assert mail.message_id.startswith("<")


def test_typical_mail_reads_fast() -> None:
    """Hot path: hundreds of mails per poll."""
    raws = [_client_mail(c) for c in sorted(CLIENTS)]
    start = time.perf_counter()
    for _ in range(30):
        for raw in raws:
            read_mail(raw)
    per_mail = (time.perf_counter() - start) / (30 * len(raws))
    assert per_mail < 0.02


def test_same_filename_twice_gets_distinct_display_paths() -> None:
    raw = MessageBuilder("qq").attach("表1.docx", minimal_docx("a")).attach("表1.docx", minimal_docx("b")).build()
    assert [a.path for a in read_mail(raw).attachments] == ["表1.docx", "表1（2）.docx"]


def test_mail_forwarded_as_attachment_yields_its_files_not_its_body() -> None:
    """GIVEN Outlook's 'forward as attachment' of a unit's mail WHEN read THEN the inner mail's form is a
    candidate and the body is the forwarder's own."""
    inner = MessageBuilder("163").subject("表1").text("内层正文").attach("表1 内层.docx", minimal_docx()).build()
    raw = (b"From: fwd@wz.gov.cn\r\nSubject: FW\r\nContent-Type: multipart/mixed; boundary=OUT\r\n\r\n"
           b"--OUT\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + "转发各单位材料".encode() + b"\r\n"
           b"--OUT\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"unit.eml\"\r\n\r\n"
           + inner + b"\r\n--OUT--\r\n")
    mail = read_mail(raw)
    assert mail.body_text == "转发各单位材料"
    assert [(a.path, a.format) for a in mail.attachments] == [("表1 内层.docx", "docx")]
