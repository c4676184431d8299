"""Forms re-saved by LibreOffice (.doc, .odt, .rtf, .docx) read like the originals.

Each conversion takes a second or two, so every document is converted once per module.
"""

from __future__ import annotations

import pytest

from mailintake.demo.samples.forms import DEFAULTS, FormSpec, convert_with_soffice, make_multi_form_docx
from parsers import Flag, parse_document
from parsers.convert import find_soffice

pytestmark = [
    pytest.mark.libreoffice,
    pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) is not installed"),
]

ALL_FOUR = [(1, DEFAULTS[1]), (2, DEFAULTS[2]), (3, DEFAULTS[3]), (4, DEFAULTS[4])]


@pytest.fixture(scope="module")
def source() -> bytes:
    """All four tables; 表2 typed with track changes on, 表4 with re-typed labels."""
    return make_multi_form_docx([FormSpec(1), FormSpec(2, variant="tracked"), FormSpec(3),
                                 FormSpec(4, variant="broken_labels")])


@pytest.fixture(scope="module")
def converted(source: bytes) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for fmt in ("doc", "odt", "rtf", "docx"):
        data = convert_with_soffice(source, fmt)
        assert data is not None
        out[fmt] = data
    return out


@pytest.mark.parametrize("fmt", ["doc", "odt", "rtf"])
def test_legacy_formats_converted_and_read(converted: dict[str, bytes], fmt: str) -> None:
    """GIVEN the forms saved as .doc/.odt/.rtf by LibreOffice WHEN parsed THEN the same four records."""
    result = parse_document(converted[fmt], f"申报材料.{fmt}")
    assert (result.format, result.flags) == (fmt, [])
    assert [(f.table, f.fields, f.flags) for f in result.forms] == [(t, fields, []) for t, fields in ALL_FOUR]


def test_libreoffice_saved_docx(converted: dict[str, bytes]) -> None:
    """LibreOffice writes its own grid, merges and run splits into a .docx; read directly, no conversion."""
    result = parse_document(converted["docx"], "申报材料.docx", soffice=None)
    assert (result.format, result.flags) == ("docx", [])
    assert [(f.table, f.fields) for f in result.forms] == ALL_FOUR


def test_wps_named_word97_file(converted: dict[str, bytes]) -> None:
    """WPS saves .wps in Word 97's container; the name only tells which tool made it."""
    result = parse_document(converted["doc"], "申报材料.wps")
    assert result.format == "wps"
    assert [f.table for f in result.forms] == [1, 2, 3, 4]


def test_doc_without_libreoffice_asks_for_docx(converted: dict[str, bytes]) -> None:
    result = parse_document(converted["doc"], "申报材料.doc", soffice=None)
    assert (result.format, result.forms) == ("doc", [])
    assert result.flags == [Flag("unsupported_format", "附件“申报材料.doc”为 Word 97-2003 文档（.doc），暂无法读取，"
                                                       "请另存为 Word 文档（.docx）后发送。")]
