"""The parser sandbox against pathological files: a child that runs out of memory or time is the only
casualty; the file is flagged ``unreadable`` and the next file in the same batch is parsed normally."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

from mailintake.intake.sandbox import ParseJob, ParserPool
from tests.support import hostile

MB = 1024 * 1024


def job(name: str, data: bytes, **limits: int) -> ParseJob:
    values: dict[str, int] = {"max_chars": 1000, "max_file_bytes": 50 * MB, "max_uncompressed_bytes": 200 * MB,
              "max_compression_ratio": 200, "max_members": 500}
    values.update(limits)
    return ParseJob(name=name, data=data, max_chars=values["max_chars"], max_file_bytes=values["max_file_bytes"],
                    max_uncompressed_bytes=values["max_uncompressed_bytes"],
                    max_compression_ratio=values["max_compression_ratio"], max_members=values["max_members"])


def huge_text_docx(megabytes: int) -> bytes:
    """A .docx whose document.xml is ``megabytes`` of text in many paragraphs (it compresses well)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(hostile.minimal_docx())) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename != "word/document.xml":
                target.writestr(info.filename, source.read(info))
        info = zipfile.ZipInfo("word/document.xml")
        info.compress_type = zipfile.ZIP_DEFLATED
        paragraph = ("<w:p><w:r><w:t>" + "苏州" * 200 + "</w:t></w:r></w:p>").encode()
        with target.open(info, "w", force_zip64=True) as stream:
            stream.write(hostile.document_xml("").split(b"</w:body>")[0])
            for _ in range(megabytes * MB // len(paragraph)):
                stream.write(paragraph)
            stream.write(b"</w:body></w:document>")
    return out.getvalue()


def test_a_file_over_the_memory_limit_kills_only_its_parse():
    """GIVEN limits loose enough to let a 120 MB document through the zip checks and a 300 MB address
    space per child THEN that file is flagged unreadable and the form after it is read."""
    loose = {"max_compression_ratio": 1_000_000, "max_uncompressed_bytes": 2048 * MB}
    big = huge_text_docx(120)
    with ParserPool(workers=1, memory_mb=300, timeout=60) as pool:
        started = time.monotonic()
        results = pool.parse_many([job("大文件.docx", big, **loose), job("表2.docx", hostile.form2())])
    assert time.monotonic() - started < 60
    assert [f.message for f in results[0].flags] == [
        "附件“大文件.docx”无法读取（文件解析所需内存超出限制），请重新保存为 Word 文档（.docx）后发送。"]
    assert results[0].forms == []
    assert [(f.table, f.fields["unit"]) for f in results[1].forms] == [(2, hostile.UNIT)]


def test_a_file_over_the_time_limit_kills_only_its_parse():
    """GIVEN a parse timeout shorter than a large document needs THEN that file is flagged unreadable
    (解析超时) and the pool, started afresh, parses the next file."""
    slow = huge_text_docx(120)  # about a second of parsing
    loose = {"max_compression_ratio": 1_000_000, "max_uncompressed_bytes": 2048 * MB}
    with ParserPool(workers=1, memory_mb=4096, timeout=0.3) as pool:
        results = pool.parse_many([job("慢文件.docx", slow, **loose)])
    assert [f.message for f in results[0].flags] == [
        "附件“慢文件.docx”无法读取（解析超时），请重新保存为 Word 文档（.docx）后发送。"]
    with ParserPool(workers=1, memory_mb=4096, timeout=30) as pool:
        after = pool.parse_many([job("慢文件.docx", slow, **loose), job("表2.docx", hostile.form2())])
    assert [f.code for f in after[0].flags] == ["no_form"]
    assert [f.code for f in after[1].flags] == [] and after[1].forms[0].table == 2


def test_hostile_documents_in_the_sandbox_end_as_flags():
    """Each crafted document, parsed in the sandbox with the default limits, ends as exactly one flag."""
    cases = {
        "bomb.docx": (hostile.docx_bomb(), "unreadable"),
        "lying.docx": (hostile.lying_zip(), "unreadable"),
        "laughs.docx": (hostile.billion_laughs_docx(), "unreadable"),
        "xxe.docx": (hostile.xxe_docx(), "unreadable"),
        "deep.docx": (hostile.deep_xml_docx(), "unreadable"),
        "locked.docx": (hostile.encrypted_docx(), "unreadable"),
        "macro.docm": (hostile.docm(), "macro_ignored"),
        "xinclude.docx": (hostile.xinclude_docx(), "no_form"),
    }
    with ParserPool(workers=2, memory_mb=1024, timeout=30) as pool:
        results = pool.parse_many([job(name, data) for name, (data, _) in cases.items()])
    assert {r.file: [f.code for f in r.flags] for r in results} == {
        name: [code] for name, (_, code) in cases.items()}
    passwd = Path("/etc/passwd").read_text("utf-8", "replace").splitlines()[0]
    assert all(passwd not in str(r.to_dict()) for r in results)
    assert [f.table for f in results[6].forms] == [2]
