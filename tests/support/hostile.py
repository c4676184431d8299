"""Generators of crafted mails and files for the hostile-input suites (tests/test_hostile_*.py).

Everything is built in memory from code, byte for byte, so each case reads as what an attacker (or
a badly broken client) would send. ``TOKEN`` marks every file name that must never appear on disk.
"""

from __future__ import annotations

import base64
import io
import struct
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from mailintake.demo.samples.forms import make_form_docx
from mailintake.demo.samples.mails import bomb_zip, minimal_docx, symlink_zip, zip_archive

CRLF = b"\r\n"
#: appears in every path-traversal name; nothing containing it may be created anywhere
TOKEN = "mi-hostile-7f3a9c"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
UNIT = "苏州工业园区行政审批局"


# ------------------------------------------------------------------------------------- raw MIME


def b64(data: bytes) -> bytes:
    encoded = base64.b64encode(data)
    return CRLF.join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


def encoded_word(text: str, charset: str = "utf-8") -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset if charset != 'x-unknown' else 'utf-8')).decode()}?="


def headers(message_id: str, *, subject: bytes | str = "申报材料", sender: bytes | str = "申报人 <applicant@qq.com>",
            extra: Sequence[tuple[str, bytes | str]] = ()) -> list[tuple[str, bytes]]:
    """The usual top headers; str values are written as ASCII/UTF-8, bytes as given."""
    def enc(value: bytes | str) -> bytes:
        return value if isinstance(value, bytes) else value.encode("utf-8")

    items: list[tuple[str, bytes]] = [
        ("From", enc(sender)),
        ("To", b"office@example.gov.cn"),
        ("Subject", enc(subject)),
        ("Date", b"Mon, 16 Dec 2019 10:00:00 +0800"),
        ("Message-ID", enc(message_id)),
        ("MIME-Version", b"1.0"),
    ]
    return items + [(name, enc(value)) for name, value in extra]


def head_bytes(items: Iterable[tuple[str, bytes]]) -> bytes:
    return b"".join(name.encode("ascii") + b": " + value + CRLF for name, value in items)


def text_part(text: str = "您好，申报材料请查收。", subtype: str = "plain", charset: str = "utf-8") -> bytes:
    return (f"Content-Type: text/{subtype}; charset={charset}\r\nContent-Transfer-Encoding: base64\r\n\r\n".encode()
            + b64(text.encode("utf-8")) + CRLF)


def file_part(filename: str | bytes, data: bytes, content_type: str = DOCX_TYPE, *, encoded: bytes | None = None,
              cte: str = "base64") -> bytes:
    """An attachment part; a str filename is written as an RFC 2231 UTF-8 parameter, bytes raw."""
    if isinstance(filename, bytes):
        param = b'filename="' + filename + b'"'
    else:
        from urllib.parse import quote

        param = b"filename*=utf-8''" + quote(filename, safe="").encode("ascii")
    body = encoded if encoded is not None else b64(data)
    return (f"Content-Type: {content_type}\r\nContent-Transfer-Encoding: {cte}\r\n".encode()
            + b"Content-Disposition: attachment; " + param + CRLF + CRLF + body + CRLF)


def multipart(parts: Sequence[bytes], boundary: str = "==hostile==", subtype: str = "mixed") -> tuple[bytes, bytes]:
    """(Content-Type header value, body) of a multipart holding ``parts``."""
    body = b"".join(f"--{boundary}\r\n".encode() + part for part in parts) + f"--{boundary}--\r\n".encode()
    return f'multipart/{subtype}; boundary="{boundary}"'.encode(), body


def mail_with(message_id: str, parts: Sequence[bytes], **kw: object) -> bytes:
    """A multipart/mixed mail of a text body plus ``parts``."""
    ctype, body = multipart([text_part(), *parts])
    return head_bytes([*headers(message_id, **kw), ("Content-Type", ctype)]) + CRLF + body  # type: ignore[arg-type]


def attach_mail(message_id: str, filename: str | bytes, data: bytes, **kw: object) -> bytes:
    return mail_with(message_id, [file_part(filename, data)], **kw)


def nested_mime(message_id: str, depth: int) -> bytes:
    """A multipart nested ``depth`` levels deep with a form at the bottom."""
    inner = file_part("表2.docx", form2())
    for level in range(depth):
        boundary = f"b{level}"
        inner = (f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n--{boundary}\r\n'.encode() + inner
                 + f"--{boundary}--\r\n".encode())
    return head_bytes(headers(message_id)) + inner


def many_attachments(message_id: str, count: int) -> bytes:
    """``count`` different small files (the same bytes twice would be one file)."""
    return mail_with(message_id, [file_part(f"附件{n}.docx", minimal_docx(f"附件{n}")) for n in range(count)])


# ------------------------------------------------------------------------------------- documents


def form2(unit: str = UNIT, deeds: str = "推行“一件事一窗办”，办理时限压缩50%。") -> bytes:
    return make_form_docx(2, {"unit": unit, "deeds": deeds})


def replace_members(docx: bytes, replacements: dict[str, bytes], *, drop: Iterable[str] = (),
                    add: dict[str, bytes] | None = None) -> bytes:
    """A copy of a zip with some members replaced, dropped or added (order kept)."""
    out = io.BytesIO()
    dropped = set(drop)
    with zipfile.ZipFile(io.BytesIO(docx)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename in dropped:
                continue
            data = replacements.get(info.filename, source.read(info))
            target.writestr(info.filename, data)
        for name, data in (add or {}).items():
            target.writestr(name, data)
    return out.getvalue()


def document_xml(body_xml: str, *, prolog: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{prolog}'
            f'<w:document xmlns:w="{W_NS}"><w:body>{body_xml}</w:body></w:document>').encode()


def paragraph(text: str) -> str:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"


def billion_laughs_docx(encoding: str = "utf-8") -> bytes:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">' for n in range(1, 10)
    )
    prolog = f"<!DOCTYPE w:document [{entities}]>"
    xml = document_xml(paragraph("表2.为民服务工作先进集体申报表") + paragraph("&lol9;"), prolog=prolog)
    if encoding != "utf-8":
        xml = xml.decode("utf-8").replace('encoding="UTF-8"', f'encoding="{encoding.upper()}"').encode(encoding)
    return replace_members(minimal_docx(), {"word/document.xml": xml})


def xxe_docx(target: str = "file:///etc/passwd", encoding: str = "utf-8") -> bytes:
    prolog = f'<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "{target}">]>'
    xml = document_xml(paragraph("表2.为民服务工作先进集体申报表") + paragraph("&xxe;"), prolog=prolog)
    if encoding != "utf-8":
        xml = xml.decode("utf-8").replace('encoding="UTF-8"', f'encoding="{encoding.upper()}"').encode(encoding)
    return replace_members(minimal_docx(), {"word/document.xml": xml})


def xinclude_docx() -> bytes:
    body = paragraph("表2.为民服务工作先进集体申报表") + (
        '<w:p><w:r><w:t><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="/etc/passwd" parse="text"/>'
        "</w:t></w:r></w:p>")
    return replace_members(minimal_docx(), {"word/document.xml": document_xml(body)})


def external_rels_docx() -> bytes:
    """Relationships pointing at local files and outside the package (altChunk, header)."""
    rels = (b'<?xml version="1.0" encoding="UTF-8"?>'
            b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            b'officeDocument" Target="../../../../etc/passwd"/></Relationships>')
    return replace_members(minimal_docx(), {"_rels/.rels": rels})


def deep_xml_docx(depth: int = 5000) -> bytes:
    body = "<w:tbl><w:tr><w:tc>" * depth + paragraph("x") + "</w:tc></w:tr></w:tbl>" * depth
    return replace_members(minimal_docx(), {"word/document.xml": document_xml(body)})


def docx_bomb(size: int = 64 * 1024 * 1024) -> bytes:
    """A .docx whose document.xml inflates to ``size`` bytes (honest headers, ratio ~1000:1)."""
    base = minimal_docx()
    with zipfile.ZipFile(io.BytesIO(base)) as source:
        keep = {i.filename: source.read(i) for i in source.infolist() if i.filename != "word/document.xml"}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in keep.items():
            archive.writestr(name, data)
        head = document_xml("").split(b"</w:body>")[0]
        info = zipfile.ZipInfo("word/document.xml")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as stream:
            stream.write(head + b"<w:p><w:r><w:t>")
            chunk = b"A" * (1024 * 1024)
            for _ in range(size // len(chunk)):
                stream.write(chunk)
            stream.write(b"</w:t></w:r></w:p></w:body></w:document>")
    return out.getvalue()


def lying_zip(member: str = "word/document.xml", real_size: int = 64 * 1024 * 1024, declared: int = 4096,
              docx: bool = True) -> bytes:
    """A zip whose headers declare ``declared`` bytes for a member that really inflates to ``real_size``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        if docx:
            with zipfile.ZipFile(io.BytesIO(minimal_docx())) as source:
                for info in source.infolist():
                    if info.filename != member:
                        archive.writestr(info.filename, source.read(info))
        archive.writestr(member, b"<" + b"A" * (real_size - 1))
    data = bytearray(out.getvalue())
    encoded = member.encode()
    local = data.find(b"PK\x03\x04")
    while local != -1:
        name_len = struct.unpack_from("<H", data, local + 26)[0]
        if bytes(data[local + 30 : local + 30 + name_len]) == encoded:
            struct.pack_into("<I", data, local + 22, declared)
        local = data.find(b"PK\x03\x04", local + 4)
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_len = struct.unpack_from("<H", data, central + 28)[0]
        if bytes(data[central + 46 : central + 46 + name_len]) == encoded:
            struct.pack_into("<I", data, central + 24, declared)
        central = data.find(b"PK\x01\x02", central + 4)
    return bytes(data)


def nested_zip(depth: int, inner: bytes | None = None) -> bytes:
    data = inner if inner is not None else form2()
    name = "表2.docx"
    for level in range(depth):
        data = zip_archive({name: data}, names="utf-8")
        name = f"第{level + 1}层.zip"
    return data


def many_members_zip(count: int = 600) -> bytes:
    return zip_archive({f"f{n}.txt": b"x" for n in range(count)}, names="utf-8")


def traversal_zip() -> bytes:
    form = form2()
    return zip_archive([(f"../../../../tmp/{TOKEN}-a.docx", form), (f"/tmp/{TOKEN}-b.docx", b"x"),
                        (f"C:\\Windows\\{TOKEN}-c.docx", b"y"), (f"..\\..\\{TOKEN}-d.txt", b"z")], names="utf-8")


def symlink_archive() -> bytes:
    return symlink_zip(f"{TOKEN}-link.docx", "/etc/passwd", extra={"表2.docx": form2()})


def encrypted_docx(password: str = "123456") -> bytes:
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = io.BytesIO(form2())
    out = io.BytesIO()
    OOXMLFile(plain).encrypt(password, out)
    return out.getvalue()


def zip_encrypted_member() -> bytes:
    """A zip whose member is flagged encrypted (traditional PKWARE bit set, payload junk)."""
    data = bytearray(zip_archive({"表2.docx": form2()}, names="utf-8", compression=zipfile.ZIP_STORED))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = data.find(signature)
        flags = struct.unpack_from("<H", data, pos + offset)[0]
        struct.pack_into("<H", data, pos + offset, flags | 0x1)
    return bytes(data)


def docm(fields_docx: bytes | None = None) -> bytes:
    """A macro-enabled document: a real form plus vbaProject.bin and the macroEnabled content type."""
    source = fields_docx or form2()
    with zipfile.ZipFile(io.BytesIO(source)) as archive:
        types = archive.read("[Content_Types].xml").decode("utf-8")
    types = types.replace("wordprocessingml.document.main+xml", "ms-word.document.macroEnabled.main+xml")
    types = types.replace("</Types>", '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
                                      "</Types>")
    macro = b'Sub AutoOpen()\r\n Shell "touch /tmp/' + TOKEN.encode() + b'"\r\nEnd Sub'
    vba = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + macro
    return replace_members(source, {"[Content_Types].xml": types.encode("utf-8")}, add={"word/vbaProject.bin": vba})


@dataclass
class Case:
    """One hostile mail: how it is recognised afterwards and what must become of it."""

    key: str
    raw: bytes
    status: str
    #: flag codes of the message (sorted, duplicates kept)
    codes: list[str]
    notes: dict[str, object] = field(default_factory=dict)


def bomb_plain_zip() -> bytes:
    return bomb_zip(size=64 * 1024 * 1024, name="表1.docx")


def _mid(key: str) -> str:
    return f"<{key}@hostile.test>"


def hostile_mails() -> list[tuple[str, bytes]]:
    """(key, raw mail) for every crafted mail; the key is also the Message-ID's local part."""
    form = form2()
    return [*_file_attacks(form), *_mime_attacks(form)]


def _file_attacks(form: bytes) -> list[tuple[str, bytes]]:
    """Attachments built to hurt a reader: bombs, XML attacks, hostile archives, broken and disguised files."""
    return [
        ("docx-bomb", attach_mail(_mid("docx-bomb"), "表1.docx", docx_bomb())),
        ("docx-lying-sizes", attach_mail(_mid("docx-lying-sizes"), "表2.docx", lying_zip())),
        ("zip-bomb", attach_mail(_mid("zip-bomb"), "申报材料.zip", bomb_plain_zip())),
        ("zip-lying-sizes", attach_mail(_mid("zip-lying-sizes"), "申报材料.zip",
                                        lying_zip(member="表2.docx", docx=False))),
        ("billion-laughs", attach_mail(_mid("billion-laughs"), "表2.docx", billion_laughs_docx())),
        ("billion-laughs-utf16", attach_mail(_mid("billion-laughs-utf16"), "表2.docx", billion_laughs_docx("utf-16"))),
        ("xxe-passwd", attach_mail(_mid("xxe-passwd"), "表2.docx", xxe_docx())),
        ("xxe-passwd-utf16", attach_mail(_mid("xxe-passwd-utf16"), "表2.docx", xxe_docx(encoding="utf-16"))),
        ("xxe-http", attach_mail(_mid("xxe-http"), "表2.docx", xxe_docx("http://127.0.0.1:9/x"))),
        ("xinclude-passwd", attach_mail(_mid("xinclude-passwd"), "表2.docx", xinclude_docx())),
        ("rels-outside", attach_mail(_mid("rels-outside"), "表2.docx", external_rels_docx())),
        ("deep-xml", attach_mail(_mid("deep-xml"), "表2.docx", deep_xml_docx())),
        ("zip-nested-30", attach_mail(_mid("zip-nested-30"), "套娃.zip", nested_zip(30))),
        ("zip-many-members", attach_mail(_mid("zip-many-members"), "很多文件.zip", many_members_zip())),
        ("zip-traversal", attach_mail(_mid("zip-traversal"), "材料.zip", traversal_zip())),
        ("zip-symlink", attach_mail(_mid("zip-symlink"), "材料.zip", symlink_archive())),
        ("zip-encrypted-member", attach_mail(_mid("zip-encrypted-member"), "材料.zip", zip_encrypted_member())),
        ("7z-corrupt", attach_mail(_mid("7z-corrupt"), "材料.7z", b"7z\xbc\xaf\x27\x1c\x00\x04" + b"\xff" * 200)),
        ("rar-corrupt", attach_mail(_mid("rar-corrupt"), "材料.rar", b"Rar!\x1a\x07\x01\x00" + b"\x00" * 200)),
        ("tnef-corrupt", attach_mail(_mid("tnef-corrupt"), "winmail.dat", b"\x78\x9f\x3e\x22" + b"\xff" * 100,
                                     )),
        ("encrypted-docx", attach_mail(_mid("encrypted-docx"), "表2.docx", encrypted_docx())),
        ("docm-macro", attach_mail(_mid("docm-macro"), "表2.docm", docm())),
        ("truncated-docx", attach_mail(_mid("truncated-docx"), "表2.docx", form[: len(form) // 2])),
        ("missing-document-xml", attach_mail(_mid("missing-document-xml"), "表2.docx",
                                             replace_members(form, {}, drop=["word/document.xml"]))),
        ("exe-as-docx", attach_mail(_mid("exe-as-docx"), "表2.docx", b"MZ\x90\x00" + b"\x00" * 5000)),
        ("empty-attachment", attach_mail(_mid("empty-attachment"), "表2.docx", b"")),
    ]


def _mime_attacks(form: bytes) -> list[tuple[str, bytes]]:
    """Mails whose structure or headers are hostile: deep nesting, floods, bad encodings, injections."""
    passwd_subject = encoded_word("申报\r\nBcc: victim@evil.example\r\nX-Injected: yes")
    crlf_name = encoded_word("张三\r\nBcc: victim@evil.example")
    long_line = "X-Long: " + "a" * (1024 * 1024)
    return [
        ("mime-nested-1000", nested_mime(_mid("mime-nested-1000"), 1000)),
        ("attachments-3000", many_attachments(_mid("attachments-3000"), 3000)),
        ("bad-base64", mail_with(_mid("bad-base64"), [file_part("表2.docx", b"", encoded=b"!!!!@@@@####$$$$%%%%")])),
        ("truncated-base64", mail_with(_mid("truncated-base64"), [file_part("表2.docx", b"",
                                                                           encoded=b64(form)[:501])])),
        ("nul-bytes", mail_with(_mid("nul-bytes"), [file_part(b"\xe8\xa1\xa8\x00\x32.docx", form)],
                                subject=b"\xe7\x94\xb3\x00\xe6\x8a\xa5\x00", sender=b"N\x00ul <nul@qq.com>")),
        ("unknown-charset", mail_with(_mid("unknown-charset"),
                                      [text_part("未知字符集", charset="x-klingon"),
                                       file_part("表2.docx", form)],
                                      subject="=?x-unknown-42?B?" + base64.b64encode("申报".encode("gbk")).decode()
                                      + "?=")),
        ("header-1mb", head_bytes([*headers(_mid("header-1mb")), (long_line.split(": ")[0],
                                   long_line.split(": ", 1)[1].encode())]) + CRLF + b"body\r\n"),
        ("subject-1mb", attach_mail(_mid("subject-1mb"), "表2.docx", form, subject="申" * (350 * 1024))),
        ("crlf-injection", attach_mail(_mid("crlf-injection"), "表2\r\nBcc: victim@evil.example.docx", form,
                                       subject=passwd_subject,
                                       sender=f'"{crlf_name}" <crlf@qq.com>')),
        ("attachment-traversal", mail_with(_mid("attachment-traversal"), [
            file_part(f"../../../../tmp/{TOKEN}-e.docx", form),
            file_part(f"/etc/{TOKEN}-f.docx", b"x" * 100, "application/octet-stream"),
            file_part(f"C:\\Windows\\{TOKEN}-g.docx".encode(), b"y" * 100, "application/octet-stream"),
        ])),
        ("html-script", html_script_mail(_mid("html-script"))),
        ("no-headers-garbage", b"\x00\xff\xfe" + bytes(range(256)) * 20),
        ("no-from-no-id", b"Subject: =?utf-8?B?5Lit?=\r\n\r\nhello\r\n"),
        ("long-filename", attach_mail(_mid("long-filename"), "表" * 5000 + ".docx", form)),
        ("reply-to-flood", attach_mail(_mid("reply-to-flood"), "表2.docx", form,
                                       extra=[("Reply-To", ", ".join(f"r{n}@qq.com" for n in range(2000)))])),
    ]


def html_script_mail(message_id: str) -> bytes:
    """Markup everywhere the report shows text: subject, sender name, file names, flag messages, fields."""
    ctype, body = multipart([
        text_part("<script>alert('body')</script><p>申报</p>", subtype="html"),
        file_part("<script>alert('file')</script>.docx",
                  form2(unit="<script>alert('unit')</script>苏州市吴江区行政审批局",
                        deeds="<script>alert('deeds')</script>事迹")),
        file_part("<img src=x onerror=alert('img')>.docx", form2()[:500]),
    ], boundary="xss")
    head = headers(message_id, subject="<script>alert('subject')</script>",
                   sender='"<img src=x onerror=alert(1)>" <xss@qq.com>')
    return head_bytes([*head, ("Content-Type", ctype)]) + CRLF + body


def valid_mail(key: str = "normal-after") -> bytes:
    """An ordinary, correct submission (the worker must still accept it after the hostile ones)."""
    return attach_mail(_mid(key), "表2.docx", form2(unit="常熟市行政审批局"), sender="常熟 <cs@cs.gov.cn>")
