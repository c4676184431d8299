"""The parent's cheap look at a file agrees with the full sniff: what it rules out is never converted."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from docx import Document

from parsers import Limits
from parsers.parse import DIRECT, conversion_source
from parsers.sniff import CONVERTIBLE, detect_format, never_converted

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "foreign-corpus"


def _docx() -> bytes:
    buffer = io.BytesIO()
    Document().save(buffer)
    return buffer.getvalue()


def _odt() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", "<office:document-content/>")
        archive.writestr("META-INF/manifest.xml", "<manifest:manifest/>")
    return buffer.getvalue()


def test_a_docx_is_ruled_out_by_its_first_bytes_and_an_odt_is_not() -> None:
    assert (never_converted(_docx()), conversion_source(_docx(), "表1.docx", Limits())) == (True, None)
    assert (never_converted(_odt()), conversion_source(_odt(), "表1.odt", Limits())) == (False, "odt")
    assert never_converted(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)) is False


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the foreign corpus is not at {CORPUS}")
def test_no_file_of_the_foreign_corpus_ruled_out_is_one_libreoffice_would_convert() -> None:
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file())
    ruled_out = [p for p in files if never_converted(p.read_bytes())]
    wrongly = [p.name for p in ruled_out if detect_format(p.read_bytes()) in CONVERTIBLE - DIRECT]
    assert (len(files), len(ruled_out), wrongly) == (1714, 574, [])
