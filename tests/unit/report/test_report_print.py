"""The workbook prints: each sheet converted to PDF by LibreOffice, then measured with poppler.

A4 landscape pages, readable type (≥ 9 pt), the page header with the campaign and the date, page numbers
in the footer, the header row on every page; no Message-ID or record id on the printed 表 sheets.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from parsers.convert import ConversionError, find_soffice
from tests.support.env import Env
from tests.support.fixtures.office import Convert
from tests.support.report_story import build_story, report_settings

pytestmark = [
    pytest.mark.libreoffice,
    pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) is not installed"),
    pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) is not installed"),
]

_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>')
_PAGE = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">')


def to_pdf(xlsx: Path, sheet: str, workdir: Path, office: Convert) -> Path | None:
    """One sheet of the workbook as PDF (the others removed), or None when LibreOffice has no Calc."""
    book = load_workbook(xlsx)
    for name in book.sheetnames:
        if name != sheet:
            del book[name]
    single = io.BytesIO()
    book.save(single)
    try:
        data = office(single.getvalue(), "xlsx", "pdf")
    except ConversionError:
        return None
    pdf = workdir / "sheet.pdf"
    pdf.write_bytes(data)
    return pdf


def words(pdf: Path) -> tuple[list[tuple[float, float]], list[list[tuple[float, str]]]]:
    """Page sizes and, per page, (height, text) of every word."""
    html = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    sizes = [(float(w), float(h)) for w, h in _PAGE.findall(html)]
    pages = []
    for chunk in html.split("<page ")[1:]:
        pages.append([(float(y2) - float(y1), text) for _x1, y1, _x2, y2, text in _WORD.findall(chunk)])
    return sizes, pages


@pytest.fixture(scope="module")
def workbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mailintake.report.build import build_report
    from tests.support.report_story import at

    tmp = tmp_path_factory.mktemp("print")
    env = Env.sqlite(tmp)
    settings = report_settings(env)
    with env.session_factory() as session:
        build_story(session)
        session.commit()
        files = build_report(settings, session, now=at(19, 8), out_dir=tmp / "out")
        session.commit()
    env.close()
    return files.xlsx_path


@pytest.mark.parametrize("sheet", ["表1 改革创新标兵单位", "需人工处理", "纸质材料"])
def test_sheet_prints_on_a4_landscape_readably(workbook: Path, sheet: str, tmp_path: Path,
                                               office: Convert) -> None:
    pdf = to_pdf(workbook, sheet, tmp_path, office)
    if pdf is None:
        pytest.skip("LibreOffice Calc is not installed (libreoffice-calc-nogui)")
    sizes, pages = words(pdf)
    assert sizes and all(abs(w - 841.9) < 2 and abs(h - 595.3) < 2 for w, h in sizes)  # A4 landscape, points
    for page_number, page in enumerate(pages, start=1):
        text = "".join(t for _, t in page)
        assert "“双争双创”活动先进荣誉申报" in text and "2019-12-19" in text  # the page header
        assert f"第{page_number}页，共{len(pages)}页" in text.replace(" ", "")  # the footer
    body: list[Any] = [h for page in pages for h, t in page if t and not t.isascii()]
    # a word box is a little taller than its type; 9 pt type gives boxes of about 11 pt
    assert min(body) >= 9 * 1.1, sorted(body)[:5]
    if sheet.startswith("表"):
        for page in pages:  # the header row repeats on every page
            assert "序号" in "".join(t for _, t in page)
        everything = "".join(t for page in pages for _, t in page)
        assert "@example.cn>" not in everything and "Message-ID" not in everything


def test_summary_sheet_prints_one_page_wide(workbook: Path, tmp_path: Path, office: Convert) -> None:
    """GIVEN the daily workbook WHEN its 汇总 sheet is printed on A4 THEN it is one page wide: every page
    holds the first column (荣誉) and the last (待更正) under the repeated header row — before, 待更正 and
    说明 spilled onto pages of their own (4 pages for this story, 2 now) — and the type stays readable."""
    pdf = to_pdf(workbook, "汇总", tmp_path, office)
    if pdf is None:
        pytest.skip("LibreOffice Calc is not installed (libreoffice-calc-nogui)")
    sizes, pages = words(pdf)
    assert sizes and all(abs(w - 841.9) < 2 and abs(h - 595.3) < 2 for w, h in sizes)  # A4 landscape, points
    assert len(pages) == 2
    for page_number, page in enumerate(pages, start=1):
        texts = [t for _, t in page]
        assert "荣誉" in texts and "待更正" in texts and any(t.startswith("表") for t in texts), texts
        assert f"第{page_number}页，共{len(pages)}页" in "".join(texts).replace(" ", "")
    body = [h for page in pages for h, t in page if t and not t.isascii()]
    assert min(body) >= 9 * 1.1 * 0.8, sorted(body)[:5]  # shrunk to fit by a fifth at most
