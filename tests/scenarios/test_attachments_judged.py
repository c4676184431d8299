"""Attachments that were judged wrongly: password-protected .doc/.odt, Strict Open XML, LibreOffice's
own output refused as a bomb, a winmail.dat holding only the body, raw UTF-8 headers."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import olefile
import pytest

from mailintake.demo.samples.forms import convert_with_soffice, make_form_docx
from mailintake.mail.reader import read_mail
from parsers import parse_document
from parsers.convert import find_soffice
from parsers.docx_grid import read_docx
from parsers.parse import converted_limits
from parsers.safety import Limits, UnsafeFile
from parsers.sniff import detect_format

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "foreign-corpus"
PASSWORD = "附件“{}”设有密码保护，无法读取，请取消密码后重新保存为 Word 文档（.docx）发送。"


def rewrite(docx: bytes, member: str, change: dict[bytes, bytes], extra: dict[str, bytes] | None = None) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(docx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == member:
                for old, new in change.items():
                    data = data.replace(old, new)
            target.writestr(info, data)
        for name, data in (extra or {}).items():
            target.writestr(name, data)
    return out.getvalue()


def test_password_protected_odt_is_called_so() -> None:
    manifest = (b'<?xml version="1.0"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:'
                b'manifest:1.0"><manifest:file-entry manifest:full-path="content.xml"><manifest:encryption-data '
                b'manifest:checksum-type="SHA1/1K"/></manifest:file-entry></manifest:manifest>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("META-INF/manifest.xml", manifest)
        archive.writestr("content.xml", b"\x8f\x01encrypted bytes")
    assert detect_format(out.getvalue()) == "encrypted"
    result = parse_document(out.getvalue(), "表2.odt", soffice=None)
    assert [(f.code, f.message) for f in result.flags] == [("unreadable", PASSWORD.format("表2.odt"))]


@pytest.mark.libreoffice
@pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) is not installed")
def test_password_protected_doc_is_called_so() -> None:
    """GIVEN a Word 97 file whose FIB says “encrypted” (Word's password to open) THEN 设有密码保护."""
    doc = convert_with_soffice(make_form_docx(2), "doc")
    assert doc is not None
    assert detect_format(doc) == "doc"
    with tempfile.NamedTemporaryFile(suffix=".doc") as handle:
        handle.write(doc)
        handle.flush()
        with olefile.OleFileIO(handle.name, write_mode=True) as ole:
            stream = bytearray(ole.openstream("WordDocument").read())
            stream[11] |= 0x01  # FibBase.fEncrypted (bit 8 of the flags word at offset 0x0A)
            ole.write_stream("WordDocument", bytes(stream))
        locked = Path(handle.name).read_bytes()
    assert detect_format(locked) == "encrypted"
    result = parse_document(locked, "表2.doc", soffice=None)
    assert [(f.code, f.message) for f in result.flags] == [("unreadable", PASSWORD.format("表2.doc"))]


def test_strict_open_xml_is_read() -> None:
    transitional = b"http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    strict = rewrite(make_form_docx(2, {"unit": "苏州市吴中区行政审批局"}), "word/document.xml",
                     {transitional: b"http://purl.oclc.org/ooxml/wordprocessingml/main"})
    result = parse_document(strict, "表2.docx", soffice=None)
    assert result.flags == []
    assert [(f.table, f.fields["unit"]) for f in result.forms] == [(2, "苏州市吴中区行政审批局")]


def test_converter_output_is_not_refused_for_its_compression_ratio() -> None:
    """An embedded object LibreOffice writes compresses far better than 200:1: the applicant's bytes are
    limited, our converter's output only by its inflated size."""
    padded = rewrite(make_form_docx(2), "", {}, extra={"word/embeddings/oleObject1.bin": b"\x00" * (8 * 1024 * 1024)})
    with pytest.raises(UnsafeFile, match="压缩比异常"):
        read_docx(padded, Limits())
    assert read_docx(padded, converted_limits(Limits()))
    with pytest.raises(UnsafeFile, match="解压后体积过大"):
        read_docx(padded, converted_limits(Limits(max_uncompressed_bytes=4 * 1024 * 1024)))


def test_raw_utf8_headers_are_read_as_utf8() -> None:
    raw = ("From: Jöhn Doe <jdöe@mächine.example>\r\nTo: office@example.gov.cn\r\nSubject: Grüße\r\n"
           "Message-ID: <u8@x>\r\n\r\nHallo\r\n").encode()
    mail = read_mail(raw)
    assert (mail.from_name, mail.from_addr, mail.subject) == ("Jöhn Doe", "jdöe@mächine.example", "Grüße")
    gbk = "From: 张三 <zs@qq.com>\r\nSubject: 一\r\nMessage-ID: <g@x>\r\n\r\n.\r\n".encode("gbk")
    assert (read_mail(gbk).from_name, read_mail(gbk).subject) == ("张三", "一")


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the foreign corpus is not at {CORPUS}")
def test_winmail_dat_with_only_a_rich_text_body_is_not_an_empty_archive() -> None:
    mail = read_mail((CORPUS / "mails" / "wrapped" / "wrap-001-winmail.dat.eml").read_bytes())
    assert (mail.attachments, mail.flags) == ([], [])


@pytest.mark.parametrize("table", [3, 4])
def test_the_bureau_itself_as_applying_unit_is_typed_text(table: int) -> None:
    """GIVEN a 表3/表4 of one of the bureau's own departments (申报单位 苏州市行政审批局（盖章）) THEN that is
    the value, not the template's 领导小组意见 text, and nothing is incomplete."""
    docx = make_form_docx(table, {"recommender": "苏州市行政审批局（盖章）"})
    [form] = parse_document(docx, "f.docx", soffice=None).forms
    assert (form.fields["recommender"], form.flags) == ("苏州市行政审批局", [])
