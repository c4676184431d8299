"""Mails are read and files parsed in sandboxed children; a child that stalls costs only its input."""

from __future__ import annotations

from mailintake.demo.samples.forms import make_form_docx
from mailintake.intake.read import read_job, unreadable_mail
from mailintake.intake.sandbox import ParserPool
from tests.support.helpers import mail


def test_a_mail_whose_reading_stalls_keeps_its_header_and_is_flagged(env):
    """GIVEN a child that does not answer in time WHEN reading a mail THEN the worker keeps the
    mail's header (to answer it) with one unreadable flag, and the next read works again."""
    settings = env.settings()
    raw = mail("吴江区审批局 <wj@163.com>", "表2申报", message_id="<stall@wj>",
               attachments={"表2.docx": make_form_docx(2)})
    job = read_job(raw, settings)
    with ParserPool(timeout=0.0001) as impatient:  # no child can even start that fast
        [stalled] = impatient.read_many([job], lambda _i, reason: unreadable_mail(raw, reason, settings))
    assert (stalled.message_id, stalled.from_addr, stalled.subject) == ("<stall@wj>", "wj@163.com", "表2申报")
    assert stalled.attachments == []
    assert [(f.code, f.message) for f in stalled.flags] == [
        ("unreadable", "邮件结构异常，未能读取其内容（解析超时），请检查邮件及附件后重新发送。")]
    with ParserPool(timeout=60) as patient:
        [read] = patient.read_many([job], lambda _i, reason: unreadable_mail(raw, reason, settings))
    assert [a.path for a in read.attachments] == ["表2.docx"]
    assert read.flags == []
