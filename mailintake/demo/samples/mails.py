"""Build raw mails byte for byte the way real Chinese mail clients send them.

Used by the tests, the demo and the benchmarks::

    raw = (MessageBuilder("outlook")
           .sender("朱镕基办公室", "office@sz.gov.cn")
           .subject("双争双创申报材料（表1）")
           .text("王老师：附件是我单位的申报表，请查收。")
           .attach("表1 改革创新标兵单位申报表.docx", docx_bytes)
           .build())

Each client style (``CLIENTS``) fixes how headers, filenames and bodies are encoded — including
the habits that break naive readers: gb2312 labels on GBK text, encoded words split inside a
character, RFC 2231 continuations splitting a UTF-8 character, raw 8-bit GBK headers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import mimetypes
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from mailintake.demo.samples.attachments import (
    bomb_zip,
    jpeg_image,
    minimal_docx,
    png_image,
    symlink_zip,
    tnef_archive,
    zip_archive,
)
from mailintake.mail.headers import encode_words

__all__ = [
    "CLIENTS", "ClientStyle", "MessageBuilder", "bomb_zip", "builder", "jpeg_image", "minimal_docx", "png_image",
    "symlink_zip", "tnef_archive", "zip_archive",
]

CRLF = b"\r\n"
DEFAULT_DATE = "Mon, 16 Dec 2019 10:12:05 +0800"
OFFICE_ADDRESS = "840573720@qq.com"


@dataclass(frozen=True)
class ClientStyle:
    """How one mail client writes a message."""

    name: str
    #: charset label written in encoded words ("" with header_encoding "raw")
    header_charset: str
    #: "B", "Q" or "raw" (8-bit bytes straight in the header)
    header_encoding: str
    #: codec that really produces the header bytes (GBK under a gb2312 label, like the clients do)
    header_codec: str
    #: raw bytes per encoded word; small values split characters across words
    word_bytes: int
    #: From: "=?...?=" <addr> (quoted, as QQ Mail and Outlook do) or unquoted
    quote_name: bool
    #: "rfc2047" (encoded word in a quoted filename), "rfc2231" (continuations) or "raw"
    filename_style: str
    body_charset: str
    body_codec: str
    #: "base64", "quoted-printable" or "8bit"
    body_cte: str
    mailer: str
    #: raw bytes per RFC 2231 section (mutt splits long names; small values split a character)
    rfc2231_bytes: int = 30
    #: send text and HTML alternatives (webmail and Outlook do)
    html_alternative: bool = False
    #: declared type of attachments ("" -> guessed from the filename)
    attachment_type: str = ""


CLIENTS: dict[str, ClientStyle] = {
    "qq": ClientStyle("qq", "gb18030", "B", "gb18030", 60, True, "rfc2047", "gb18030", "gb18030", "base64",
                      "QQMail 2.x", html_alternative=True, attachment_type="application/octet-stream"),
    "163": ClientStyle("163", "GBK", "B", "gbk", 45, False, "rfc2047", "GBK", "gbk", "base64",
                       "Coremail Webmail Server Version XT5.0.10 build 20190226", html_alternative=True),
    "outlook": ClientStyle("outlook", "gb2312", "B", "gbk", 60, True, "rfc2047", "gb2312", "gbk", "quoted-printable",
                           "Microsoft Outlook 16.0", html_alternative=True),
    "foxmail": ClientStyle("foxmail", "utf-8", "B", "utf-8", 13, True, "rfc2047", "utf-8", "utf-8", "base64",
                           "Foxmail 7.2.13.365[cn]", html_alternative=True),
    "mutt": ClientStyle("mutt", "utf-8", "Q", "utf-8", 40, False, "rfc2231", "utf-8", "utf-8", "8bit",
                        "NeoMutt/20191207", rfc2231_bytes=7),
    "foxmail-old": ClientStyle("foxmail-old", "", "raw", "gbk", 0, True, "raw", "gb2312", "gbk", "8bit",
                               "Foxmail 6, 15, 201, 21 [cn]"),
    # iPhone Mail (iOS 13): a plain-text body, a photo as an inline image part without Content-ID
    "iphone": ClientStyle("iphone", "utf-8", "B", "utf-8", 45, False, "rfc2231", "utf-8", "utf-8",
                          "quoted-printable", "iPhone Mail (17C54)", attachment_type=""),
    "raw-utf8": ClientStyle("raw-utf8", "", "raw", "utf-8", 0, True, "raw", "utf-8", "utf-8", "8bit",
                            "Windows Live Mail 16.4.3528.331"),
}


def _b64_lines(data: bytes) -> bytes:
    encoded = base64.b64encode(data)
    return CRLF.join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


def _qp(data: bytes) -> bytes:
    lines = data.replace(b"\r\n", b"\n").split(b"\n")
    return CRLF.join(binascii.b2a_qp(line) for line in lines)


@dataclass
class _Part:
    filename: str
    data: bytes
    content_type: str
    disposition: str  # "attachment" or "inline"
    content_id: str | None = None


@dataclass
class MessageBuilder:
    """A fluent builder of one raw mail; every setter returns the builder."""

    client: str | ClientStyle = "qq"
    _from: tuple[str, str] = ("张三", "zhangsan@qq.com")
    _to: list[str] = field(default_factory=lambda: [OFFICE_ADDRESS])
    _reply_to: list[str] = field(default_factory=list)
    _subject: str = "双争双创申报材料"
    _date: str = DEFAULT_DATE
    _message_id: str | None = ""
    _text: str | None = "王老师：\n附件是我单位的申报材料，请查收。"
    _html: str | None = None
    _parts: list[_Part] = field(default_factory=list)
    _extra: list[tuple[str, bytes]] = field(default_factory=list)
    _bounce: bool = False

    def __post_init__(self) -> None:
        self.style: ClientStyle = CLIENTS[self.client] if isinstance(self.client, str) else self.client

    # -- setters -------------------------------------------------------------------------------

    def sender(self, name: str, address: str) -> MessageBuilder:
        self._from = (name, address)
        return self

    def to(self, *addresses: str) -> MessageBuilder:
        self._to = list(addresses)
        return self

    def reply_to(self, *addresses: str) -> MessageBuilder:
        self._reply_to = list(addresses)
        return self

    def subject(self, text: str) -> MessageBuilder:
        self._subject = text
        return self

    def date(self, value: str) -> MessageBuilder:
        self._date = value
        return self

    def message_id(self, value: str | None) -> MessageBuilder:
        """Set the Message-ID; None leaves the header out (some old clients send none)."""
        self._message_id = value
        return self

    def text(self, body: str | None) -> MessageBuilder:
        self._text = body
        return self

    def html(self, body: str | None) -> MessageBuilder:
        self._html = body
        return self

    def header(self, name: str, value: str | bytes) -> MessageBuilder:
        """Add a header as written (bytes go out unchanged); replaces a built-in header of that name."""
        self._extra.append((name, value if isinstance(value, bytes) else value.encode("utf-8")))
        return self

    def attach(self, filename: str, data: bytes, content_type: str | None = None) -> MessageBuilder:
        ctype = content_type or self.style.attachment_type or mimetypes.guess_type(filename)[0]
        self._parts.append(_Part(filename, data, ctype or "application/octet-stream", "attachment"))
        return self

    def inline_image(self, data: bytes, content_id: str = "image001.png@01D5B3F1.5A6B7C80",
                     filename: str = "image001.png", *, disposition: str = "inline") -> MessageBuilder:
        """An image shown in the HTML body (signature logo, pasted screenshot)."""
        self._parts.append(_Part(filename, data, mimetypes.guess_type(filename)[0] or "image/png", disposition,
                                 content_id))
        return self

    def inline_photo(self, filename: str, data: bytes) -> MessageBuilder:
        """A photo the way iPhone Mail sends one: ``Content-Disposition: inline`` with a file name, no
        Content-ID, beside the text body (not referenced by any HTML)."""
        self._parts.append(_Part(filename, data, mimetypes.guess_type(filename)[0] or "image/jpeg", "inline"))
        return self

    def auto_reply(self) -> MessageBuilder:
        """Mark as the auto-reply QQ Mail / Exchange send (Auto-Submitted and X-Autoreply)."""
        self.header("Auto-Submitted", "auto-replied")
        self.header("X-Autoreply", "yes")
        return self

    def bounce(self, reporting_mta: str = "newxmesmtplogicsvrsza1.qq.com") -> MessageBuilder:
        """Turn the mail into a delivery failure report (multipart/report) from MAILER-DAEMON."""
        self._bounce = True
        self._from = ("Mail Delivery System", f"MAILER-DAEMON@{reporting_mta}")
        self.header("Return-Path", "<>")
        return self

    # -- encoding ------------------------------------------------------------------------------

    def encode_text(self, text: str, *, fold: bool = True) -> bytes:
        """Header text the way this client writes it."""
        style = self.style
        if text.isascii():
            return text.encode("ascii")
        if style.header_encoding == "raw":
            return text.encode(style.header_codec)
        words = encode_words(text, style.header_charset, style.header_encoding, max_bytes=style.word_bytes,
                             codec=style.header_codec)
        return ("\r\n " if fold else " ").join(words).encode("ascii")

    def _address(self, name: str, address: str) -> bytes:
        if not name:
            return address.encode("ascii")
        encoded = self.encode_text(name, fold=False)
        if self.style.quote_name or (name.isascii() and not name.replace(" ", "").isalnum()):
            encoded = b'"' + encoded + b'"'
        return encoded + b" <" + address.encode("ascii") + b">"

    def _filename_params(self, filename: str) -> tuple[bytes, bytes]:
        """(Content-Type params, Content-Disposition params) naming the file."""
        style = self.style
        if filename.isascii():
            quoted = b'"' + filename.encode("ascii") + b'"'
            return b"; name=" + quoted, b"; filename=" + quoted
        if style.filename_style == "rfc2231":
            data = filename.encode("utf-8")
            size = style.rfc2231_bytes
            chunks = [data[i : i + size] for i in range(0, len(data), size)]
            sections = []
            for index, chunk in enumerate(chunks):
                text = urllib.parse.quote_from_bytes(chunk, safe="")
                prefix = "utf-8''" if index == 0 else ""
                sections.append(f";\r\n\tfilename*{index}*={prefix}{text}".encode("ascii"))
            return b"", b"".join(sections)
        if style.filename_style == "raw":
            quoted = b'"' + filename.encode(style.header_codec) + b'"'
            return b"; name=" + quoted, b"; filename=" + quoted
        quoted = b'"' + self.encode_text(filename, fold=False) + b'"'
        return b";\r\n\tname=" + quoted, b";\r\n\tfilename=" + quoted

    def _body_part(self, subtype: str, text: str) -> bytes:
        style = self.style
        data = text.replace("\r\n", "\n").encode(style.body_codec)
        if style.body_cte == "base64":
            payload = _b64_lines(data)
        elif style.body_cte == "quoted-printable":
            payload = _qp(data)
        else:
            payload = data.replace(b"\n", CRLF)
        head = f"Content-Type: text/{subtype};\r\n\tcharset=\"{style.body_charset}\"\r\n"
        head += f"Content-Transfer-Encoding: {style.body_cte}\r\n"
        return head.encode("ascii") + CRLF + payload

    def _file_part(self, part: _Part) -> bytes:
        type_params, disp_params = self._filename_params(part.filename)
        head = b"Content-Type: " + part.content_type.encode("ascii") + type_params + CRLF
        head += b"Content-Transfer-Encoding: base64" + CRLF
        head += b"Content-Disposition: " + part.disposition.encode("ascii") + disp_params + CRLF
        if part.content_id:
            head += b"Content-ID: <" + part.content_id.encode("ascii") + b">" + CRLF
        return head + CRLF + _b64_lines(part.data)

    def _boundary(self, level: str) -> str:
        digest = hashlib.sha1(repr((self._subject, self._from, level)).encode("utf-8")).hexdigest()[:24]
        return f"----=_{self.style.name}_{level}_{digest}"

    def _multipart(self, subtype: str, parts: Sequence[bytes], level: str, extra: str = "") -> bytes:
        boundary = self._boundary(level)
        head = f'Content-Type: multipart/{subtype};{extra}\r\n\tboundary="{boundary}"\r\n'.encode("ascii")
        body = CRLF
        if level == "mixed":
            body += b"This is a multi-part message in MIME format." + CRLF + CRLF
        for part in parts:
            body += f"--{boundary}".encode("ascii") + CRLF + part + CRLF
        body += f"--{boundary}--".encode("ascii") + CRLF
        return head + body

    def _html_text(self) -> str:
        if self._html is not None:
            return self._html
        paragraphs = "".join(f"<div>{line}</div>" for line in (self._text or "").split("\n"))
        # the images an HTML body shows (a signature logo, a pasted screenshot), as Outlook writes them
        paragraphs += "".join(f'<img src="cid:{p.content_id}">' for p in self._parts if p.content_id)
        return f"<html><head><meta charset=\"{self.style.body_charset}\"></head><body>{paragraphs}</body></html>"

    def _content(self) -> bytes:
        if self._bounce:
            return self._report()
        inline = [p for p in self._parts if p.content_id]
        files = [p for p in self._parts if p not in inline]
        wants_html = self._html is not None or bool(inline) or self.style.html_alternative
        if wants_html and self._text is not None:
            body = self._multipart("alternative", [self._body_part("plain", self._text),
                                                   self._body_part("html", self._html_text())], "alt")
        elif wants_html:
            body = self._body_part("html", self._html_text())
        else:
            body = self._body_part("plain", self._text or "")
        if inline:
            body = self._multipart("related", [body, *(self._file_part(p) for p in inline)], "rel",
                                   ' type="multipart/alternative";')
        if files:
            body = self._multipart("mixed", [body, *(self._file_part(p) for p in files)], "mixed")
        return body

    def _report(self) -> bytes:
        rcpt = self._to[0] if self._to else OFFICE_ADDRESS
        notice = self._body_part("plain", self._text or f"无法发送到 {rcpt}：收件人地址不存在。")
        status = (f"Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; localhost\r\n\r\n"
                  f"Final-Recipient: rfc822; {rcpt}\r\nAction: failed\r\nStatus: 5.1.1\r\n").encode("ascii")
        original = (f"Content-Type: message/rfc822-headers\r\n\r\nFrom: {OFFICE_ADDRESS}\r\nTo: {rcpt}\r\n"
                    f"Subject: =?utf-8?B?5Y+X55CG5Zue5omn?=\r\n").encode("ascii")
        return self._multipart("report", [notice, status, original], "report", " report-type=delivery-status;")

    def _message_id_value(self) -> str:
        if self._message_id:
            return self._message_id
        digest = hashlib.sha256(repr((self.style.name, self._from, self._subject, self._date,
                                      [(p.filename, len(p.data)) for p in self._parts])).encode()).hexdigest()
        domain = self._from[1].rsplit("@", 1)[-1]
        return f"<{digest[:20]}.{self.style.name}@{domain}>"

    def build(self) -> bytes:
        """The raw RFC 5322 bytes, CRLF line ends."""
        builtin: list[tuple[str, bytes]] = [
            ("From", self._address(*self._from)),
            ("To", b", ".join(a.encode("ascii") for a in self._to)),
            ("Subject", self.encode_text(self._subject)),
            ("Date", self._date.encode("ascii")),
        ]
        if self._reply_to:
            builtin.append(("Reply-To", b", ".join(a.encode("ascii") for a in self._reply_to)))
        if self._message_id is not None:
            builtin.append(("Message-ID", self._message_id_value().encode("ascii")))
        builtin += [("X-Mailer", self.style.mailer.encode("ascii")), ("MIME-Version", b"1.0")]
        overridden = {name.lower() for name, _ in self._extra}
        lines = [name.encode("ascii") + b": " + value for name, value in builtin if name.lower() not in overridden]
        lines += [name.encode("ascii") + b": " + value for name, value in self._extra]
        return CRLF.join(lines) + CRLF + self._content()


def builder(client: str = "qq", **changes: object) -> MessageBuilder:
    """A builder for a client style, optionally with style fields changed (``word_bytes=4``)."""
    style = CLIENTS[client]
    return MessageBuilder(replace(style, **changes) if changes else style)  # type: ignore[arg-type]
