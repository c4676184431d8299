"""Broken, hostile and non-Word files end as one clear flag, in bounded time and memory."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mailintake.demo.samples.forms import DEFAULTS, make_form_docx, make_letter_docx
from parsers import Flag, Limits, check_zip, is_form_format, parse_document

ROOT = Path(__file__).resolve().parents[2]
ASK_DOCX = "请重新保存为 Word 文档（.docx）后发送。"

_MEASURE = """
import json, resource, sys, time
from parsers import parse_path
start = time.perf_counter()
result = parse_path(sys.argv[1], soffice=None)
elapsed = time.perf_counter() - start
# VmHWM is this process image's own peak: ru_maxrss would carry over the forking pytest's size across exec
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"seconds": elapsed, "maxrss_kb": peak_kb,
                  "result": result.to_dict()}, ensure_ascii=False))
"""


def replace_member(docx: bytes, name: str, data: bytes) -> bytes:
    """The same package with one part replaced."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, data if info.filename == name else source.read(info))
    return out.getvalue()


def write_zip_bomb(path: Path, inflated_bytes: int) -> None:
    """A .docx whose document.xml inflates to ``inflated_bytes``, written streaming (1 MB at a time)."""
    template = make_form_docx(2)
    chunk = b" " * (1 << 20)
    with zipfile.ZipFile(io.BytesIO(template)) as source, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info in source.infolist():
            if info.filename != "word/document.xml":
                target.writestr(info.filename, source.read(info))
        with target.open("word/document.xml", "w", force_zip64=True) as member:
            member.write(source.read("word/document.xml")[:200])
            for _ in range(inflated_bytes // len(chunk) + 1):
                member.write(chunk)


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bomb") / "申报表.docx"
    write_zip_bomb(path, 1100 * (1 << 20))
    return path


def test_zip_bomb_rejected_fast_with_little_memory(zip_bomb: Path) -> None:
    """GIVEN a 1 MB .docx inflating to 1.1 GB WHEN parsed in a fresh process
    THEN unreadable in under 2 s with under 200 MB peak memory."""
    assert zip_bomb.stat().st_size < 3 * (1 << 20)
    run = subprocess.run([sys.executable, "-c", _MEASURE, str(zip_bomb)], capture_output=True, text=True,
                         cwd=ROOT, timeout=60, check=True)
    report = json.loads(run.stdout)
    assert report["seconds"] < 2.0
    assert report["maxrss_kb"] < 200 * 1024
    assert report["result"] == {
        "file": str(zip_bomb),
        "format": "docx",
        "forms": [],
        "flags": [{"code": "unreadable",
                   "message": f"附件“申报表.docx”无法读取（文件结构异常，解压后体积过大），{ASK_DOCX}"}],
    }


def test_check_zip_reasons() -> None:
    docx = make_form_docx(2)
    assert check_zip(docx, Limits()) is None
    assert check_zip(docx, Limits(max_members=3)) == "文件结构异常，包含的部件过多"
    assert check_zip(docx, Limits(max_uncompressed_bytes=1000)) == "文件结构异常，解压后体积过大"
    assert check_zip(docx[:500], Limits()) == "文件已损坏或不完整"
    ratio = io.BytesIO()
    with zipfile.ZipFile(ratio, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\x00" * (4 << 20))
    assert check_zip(ratio.getvalue(), Limits()) == "文件结构异常，压缩比异常"


def test_xml_entity_bomb() -> None:
    lol = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
           + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                      for i in range(1, 10))
           + b']><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
             b"<w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>")
    data = replace_member(make_form_docx(2), "word/document.xml", lol)
    result = parse_document(data, "lol.docx", soffice=None)
    assert (result.format, result.forms) == ("docx", [])
    assert result.flags == [
        Flag("unreadable", f"附件“lol.docx”无法读取（文档内容格式异常，含有不允许的 XML 声明），{ASK_DOCX}")
    ]


def test_truncated_zip() -> None:
    data = make_form_docx(3)
    result = parse_document(data[: len(data) // 2], "申报表.docx", soffice=None)
    assert (result.format, result.forms) == ("docx", [])
    assert result.flags == [Flag("unreadable", f"附件“申报表.docx”无法读取（文件已损坏或不完整），{ASK_DOCX}")]


def test_damaged_document_xml() -> None:
    data = replace_member(make_form_docx(3), "word/document.xml", b"<w:document><w:body><w:p>")
    result = parse_document(data, "a.docx", soffice=None)
    assert result.flags == [Flag("unreadable", f"附件“a.docx”无法读取（文档内容已损坏），{ASK_DOCX}")]


def test_encrypted_docx() -> None:
    """GIVEN a .docx with an opening password (an OLE container with EncryptedPackage) THEN unreadable."""
    from msoffcrypto.format.ooxml import OOXMLFile

    encrypted = io.BytesIO()
    OOXMLFile(io.BytesIO(make_form_docx(2))).encrypt("123456", encrypted)
    result = parse_document(encrypted.getvalue(), "申报表（加密）.docx", soffice=None)
    assert (result.format, result.forms) == ("encrypted", [])
    assert result.flags == [Flag("unreadable", "附件“申报表（加密）.docx”设有密码保护，无法读取，"
                                               "请取消密码后重新保存为 Word 文档（.docx）发送。")]


def test_pdf_is_unsupported() -> None:
    pdf = b"%PDF-1.7\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    result = parse_document(pdf, "申报表.docx", soffice=None)  # the name lies; the bytes decide
    assert (result.format, result.forms) == ("pdf", [])
    assert result.flags == [Flag("unsupported_format", "附件“申报表.docx”为 PDF 文件，无法读取表格内容，"
                                                       "请发送 Word 格式（.docx）的申报表；扫描件可另行附上。")]


def test_png_scan_is_unsupported() -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(17)
    result = parse_document(png, "扫描件.png", soffice=None)
    assert result.format == "png"
    assert result.flags == [Flag("unsupported_format", "附件“扫描件.png”为图片文件，无法读取表格内容，"
                                                       "请发送 Word 格式（.docx）的申报表；扫描件可另行附上。")]


def test_readable_document_without_form() -> None:
    result = parse_document(make_letter_docx(), "说明.docx", soffice=None)
    assert (result.format, result.forms) == ("docx", [])
    assert result.flags == [
        Flag("no_form", "附件“说明.docx”中未找到申报表（表1至表4），请使用通知附件1中的申报表填写后发送。")
    ]


def test_extensionless_docx_is_a_docx() -> None:
    result = parse_document(make_form_docx(2), "申报表", soffice=None)
    assert (result.file, result.format, result.flags) == ("申报表", "docx", [])
    assert [f.fields for f in result.forms] == [DEFAULTS[2]]


def test_rtf_without_libreoffice_asks_for_docx() -> None:
    result = parse_document(b"{\\rtf1\\ansi \\u30003?}", "申报表.rtf", soffice=None)
    assert (result.format, result.forms) == ("rtf", [])
    assert result.flags == [
        Flag("unsupported_format",
             "附件“申报表.rtf”为 RTF 文档（.rtf），暂无法读取，请另存为 Word 文档（.docx）后发送。")
    ]


def test_empty_and_garbage_files() -> None:
    assert parse_document(b"", "a.docx", soffice=None).flags == [
        Flag("unreadable", f"附件“a.docx”无法读取（文件为空），{ASK_DOCX}")]
    garbage = parse_document(bytes(range(256)) * 4, "b.doc", soffice=None)
    assert garbage.format == "unknown"
    assert garbage.flags == [Flag("unsupported_format", "附件“b.doc”不是 Word 文档，无法读取申报表内容，"
                                                        "请发送 Word 格式（.docx）的申报表。")]


def test_file_over_50_mb_is_refused_without_reading() -> None:
    big = make_form_docx(2) + bytes(50 * (1 << 20))
    result = parse_document(big, "大文件.docx", soffice=None)
    assert result.flags == [Flag("unreadable", f"附件“大文件.docx”无法读取（文件超过50MB），{ASK_DOCX}")]


def test_large_but_legitimate_document_is_read() -> None:
    """GIVEN a 45 MB .docx (a big photo stored in it) THEN the form is read."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(make_form_docx(3))) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        target.writestr("word/media/image1.jpeg", b"\xff\xd8\xff" + bytes(45 * (1 << 20)))
    result = parse_document(out.getvalue(), "照片.docx", soffice=None)
    assert (result.flags, [f.fields for f in result.forms]) == ([], [DEFAULTS[3]])


def test_is_form_format() -> None:
    assert [fmt for fmt in ("docx", "docm", "doc", "wps", "rtf", "odt", "pdf", "png", "zip", "xlsx")
            if is_form_format(fmt)] == ["docx", "docm", "doc", "wps", "rtf", "odt"]
