"""The directly written office mail reads exactly like the stdlib's (modern policy) rendering of it."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.headerregistry import Address
from email.utils import format_datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailintake.config.settings import load_settings
from mailintake.outbox.queue import build_mail, thread_id
from mailintake.outbox.recipients import header_text
from mailintake.outbox.wire import office_mail

NOW = datetime(2019, 12, 18, 9, 30, tzinfo=UTC)
SETTINGS = load_settings(environ={}, overrides={
    "smtp": {"sender": "office@example.gov.cn", "sender_name": "苏州市行政审批局办公室"}})
SKIP = {"message-id", "date", "content-type"}  # generated per call / boundary differs


def _read(raw: bytes) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    headers = [(k.lower(), str(v)) for k, v in mail.items() if k.lower() not in SKIP]
    parts = [(p.get_content_type(), p.get_content()) for p in mail.walk() if not p.is_multipart()]
    return headers, parts


def both(to: tuple[str, str], subject: str, text: str, html: str | None,
         cc: tuple[str, str] | None = None, reference: str | None = "<orig@example.cn>") -> tuple[bytes, bytes]:
    stdlib, direct = stdlib_and_direct(to, subject, text, html, cc, reference)
    assert direct is not None
    return stdlib, direct


def stdlib_and_direct(to: tuple[str, str], subject: str, text: str, html: str | None,
                      cc: tuple[str, str] | None = None,
                      reference: str | None = "<orig@example.cn>") -> tuple[bytes, bytes | None]:
    """The stdlib's rendering and the direct one (None: outside its shape, the stdlib's is sent)."""
    stdlib = build_mail(SETTINGS, to=[to], cc=[cc] if cc else [], subject=subject, text=text, html=html,
                        in_reply_to=reference, now=NOW).as_bytes(policy=email.policy.SMTP)
    direct = office_mail(
        sender=(header_text(SETTINGS.smtp.sender_name, 100), SETTINGS.smtp.sender),
        to=[(header_text(to[0], 100), to[1])], cc=[(header_text(cc[0], 100), cc[1])] if cc else [],
        subject=header_text(subject, 250), date=format_datetime(NOW), message_id="<1@example.gov.cn>",
        reference=thread_id(reference), auto_reply=True, text=text, html=html)
    return stdlib, direct


@pytest.mark.parametrize(("to", "subject", "html", "cc"), [
    (("张三, 科长", "zhang@example.com"),
     "Re: 表1申报材料 关于报送2019年度“双争双创”评选材料的通知 [申报回执 2019-0001]",
     "<p>收到 &amp; 谢谢</p>", ("", "li@x.cn")),
    (("", "a@b.cn"), "Re: question", None, None),
    (('Wang "Wu", Jr.', "w@b.cn"), "Re: " + "very long ascii subject words " * 8, "<b>x</b>", ("李四", "l@b.cn")),
    (("王" * 100, "w@b.cn"), "回" * 250, None, None),
])
def test_same_headers_and_parts_as_the_stdlib(to: tuple[str, str], subject: str, html: str | None,
                                              cc: tuple[str, str] | None) -> None:
    text = "您好：\n\n您的申报材料已收到，编号 2019-0001。\n" + "第二行较长的说明文字，" * 12 + "\n\n苏州市行政审批局"
    if html is None and cc is None and to[0] == "":  # mostly ASCII with a long line: quoted-printable
        text = "Dear applicant,\n" + "the forms were received and read; " * 6 + "\n表1"
    stdlib, direct = both(to, subject, text, html, cc)
    assert _read(direct) == _read(stdlib)
    assert all(len(line) <= 998 for line in direct.split(b"\r\n"))
    head = direct.split(b"\r\n\r\n", 1)[0]
    assert b"\n" not in head.replace(b"\r\n", b"")  # CRLF only


def test_a_long_name_with_a_space_at_an_encoded_word_boundary_goes_the_stdlib_way() -> None:
    """Found by the property test: the stdlib's parser doubles a space that ends an encoded word."""
    name = "0000\xa00\xa0¡\xa0¡\xa0ࠀ𐀀𐀀𐀀𐀀𐀀𐀀 0"
    stdlib, direct = stdlib_and_direct((name, "zhang@example.com"), "s", "0", None)
    assert direct is None
    assert dict(_read(stdlib)[0])["to"] == f"{header_text(name, 100)} <zhang@example.com>"
    assert office_mail(**{**shape(), "to": [("张三 李四", "a@b.cn")]}) is not None  # one word: written directly


def shape() -> dict[str, Any]:
    return {"sender": ("办公室", "office@example.gov.cn"), "to": [("", "a@b.cn")], "cc": [], "subject": "s",
            "date": format_datetime(NOW), "message_id": "<1@x.cn>", "reference": None, "auto_reply": True,
            "text": "x", "html": None}


def test_outside_its_shape_it_declines() -> None:
    common: dict[str, Any] = {"sender": ("办公室", "office@example.gov.cn"), "cc": [], "date": format_datetime(NOW),
              "message_id": "<1@x.cn>", "reference": None, "auto_reply": True, "text": "x", "html": None}
    assert office_mail(to=[("", "张@例子.中国")], subject="s", **common) is None
    assert office_mail(to=[("", "a@b.cn")], subject="=?utf-8?b?5byg?=", **common) is None
    assert office_mail(to=[("", "a@b.cn")], subject="ok", **common) is not None


@settings(max_examples=60, deadline=None)
@given(name=st.text(max_size=40), subject=st.text(max_size=120), text=st.text(min_size=1, max_size=400),
       html=st.none() | st.text(min_size=1, max_size=200))
def test_any_text_reads_back_as_written(name: str, subject: str, text: str, html: str | None) -> None:
    clean_subject, clean_name = header_text(subject, 250), header_text(name, 100)
    if "=?" in clean_subject or "=?" in clean_name:
        return
    stdlib, direct = stdlib_and_direct((name, "zhang@example.com"), subject, text, html)
    if direct is None:
        return  # outside the shape: the stdlib's rendering is what is sent
    (direct_headers, direct_parts), (stdlib_headers, stdlib_parts) = _read(direct), _read(stdlib)
    assert direct_parts == stdlib_parts
    intended = {"subject": clean_subject, "to": str(Address(clean_name, addr_spec="zhang@example.com"))}
    assert {key: value for key, value in direct_headers if key in intended} == intended
    # the stdlib itself drops a space that starts a folded encoded word: the intended text is the oracle
    assert [item for item in direct_headers if item[0] not in intended] == \
        [item for item in stdlib_headers if item[0] not in intended]
