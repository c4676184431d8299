"""``mailintake parse`` as a user runs it: a real subprocess, real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mailintake.demo.samples.forms import convert_with_soffice, make_form_docx
from parsers.convert import find_soffice

ROOT = Path(__file__).resolve().parents[3]

TABLE2 = {
    "table": 2,
    "title": "为民服务工作先进集体申报表",
    "fields": {
        "date": "2019年12月16日",
        "unit": "吴江区便民服务中心",
        "deeds": "中心坚持“一站式”服务理念，推行帮办代办和延时服务，全年受理事项8.3万件，按时办结率100%。\n"
                 "设立“办不成事”反映窗口，群众满意度达99.6%。",
    },
    "word_count": 64,
    "flags": [],
}
TABLE3_NO_DEEDS = {
    "table": 3,
    "title": "窗口服务明星申报表",
    "fields": {
        "date": "2019年12月17日",
        "name": "王晓雯",
        "unit_and_title": "苏州市行政审批局政务服务大厅 综合窗口受理员",
        "deeds": "",
        "recommender": "苏州市行政审批局政务服务处",
    },
    "word_count": 0,
    "flags": [{"code": "incomplete", "field": "deeds",
               "message": "表3（窗口服务明星申报表）“主要事迹”未填写，请补充后重新发送。"}],
}


def run_parse(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mailintake", "parse", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


@pytest.mark.libreoffice
@pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) is not installed")
def test_parse_json_word97_doc_and_merged_docx(tmp_path: Path) -> None:
    """GIVEN a LibreOffice-made Word-97 .doc of 表2 and a python-docx 表3 with merged cells
    WHEN `mailintake parse --json` THEN exactly the issue's JSON shape with the right records."""
    doc = convert_with_soffice(make_form_docx(2), "doc")
    assert doc is not None and doc.startswith(b"\xd0\xcf\x11\xe0")
    (tmp_path / "表2.doc").write_bytes(doc)
    (tmp_path / "表3").write_bytes(make_form_docx(3, {"deeds": ""}))  # no extension: the bytes decide
    run = run_parse("--json", str(tmp_path / "表2.doc"), str(tmp_path / "表3"))
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {
        "files": [
            {"file": str(tmp_path / "表2.doc"), "format": "doc", "forms": [TABLE2], "flags": []},
            {"file": str(tmp_path / "表3"), "format": "docx", "forms": [TABLE3_NO_DEEDS], "flags": []},
        ]
    }


def test_parse_json_flags_for_pdf(tmp_path: Path) -> None:
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    run = run_parse("--json", str(pdf))
    assert run.returncode == 0
    assert json.loads(run.stdout) == {"files": [{"file": str(pdf), "format": "pdf", "forms": [], "flags": [
        {"code": "unsupported_format",
         "message": "附件“scan.pdf”为 PDF 文件，无法读取表格内容，"
                    "请发送 Word 格式（.docx）的申报表；扫描件可另行附上。"}]}]}


def test_parse_summary_is_readable(tmp_path: Path) -> None:
    path = tmp_path / "a.docx"
    path.write_bytes(make_form_docx(3, {"deeds": ""}))
    run = run_parse(str(path))
    assert run.returncode == 0
    for text in ("表3 窗口服务明星申报表", "王晓雯", "所在单位及职务", "“主要事迹”未填写"):
        assert text in run.stdout


def test_parse_missing_file_is_one_line_and_fails(tmp_path: Path) -> None:
    run = run_parse(str(tmp_path / "nowhere.docx"))
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr == f"mailintake parse: no such file: {tmp_path / 'nowhere.docx'}\n"
