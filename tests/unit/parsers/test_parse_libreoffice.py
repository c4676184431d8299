"""Forms re-saved by LibreOffice (.doc, .odt, .rtf, .docx) read like the originals.

Each conversion takes a second or two, so every document is converted once per module.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from mailintake.demo.samples.forms import DEFAULTS, FormSpec, convert_with_soffice, make_multi_form_docx
from parsers import Flag, parse_document
from parsers.convert import find_soffice, guarded, office_pipe, remove_office_pipe

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


def test_a_killed_libreoffice_s_socket_is_found_by_its_profile_and_removed(tmp_path: Path) -> None:
    """LibreOffice leaves /tmp/OSL_PIPE_… behind when killed; ``office_pipe`` names it from the profile."""
    soffice = find_soffice()
    assert soffice is not None
    profile_url = (tmp_path / "profile").as_uri()
    pipe = office_pipe(profile_url)
    command = [soffice, f"-env:UserInstallation={profile_url}", "--headless", "--invisible", "--norestore",
               "--nologo", "--nodefault", "--nolockcheck"]
    process = subprocess.Popen(guarded(command), env={**os.environ, "HOME": str(tmp_path), "SAL_USE_VCLPLUGIN": "svp"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not pipe.is_socket() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
        assert pipe.is_socket()
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert pipe.is_socket()  # left behind by the kill
    remove_office_pipe(profile_url)
    assert not pipe.exists()
