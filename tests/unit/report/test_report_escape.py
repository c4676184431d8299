"""Applicant text that looks like markup, formulas or control characters stays inert text."""

from __future__ import annotations

import lxml.html
from openpyxl import load_workbook

from mailintake.report.build import build_report
from mailintake.report.xlsx.sheet import clean
from tests.support.env import Env
from tests.support.report_story import Story, at, report_settings, t1, t34

EVIL_UNIT = "<script>alert(1)</script>某单位"
EVIL_NAME = '<img src=x onerror="alert(2)">王五'


def test_form_fields_are_escaped_in_html_and_plain_in_excel(env: Env) -> None:
    """GIVEN markup typed into 申报单位 and 姓名 WHEN reported THEN the HTML shows it as text."""
    with env.session_factory() as session:
        story = Story(session)
        story.mail("needs_correction", at(16, 9), "a@example.cn",
                   forms=[t1(EVIL_UNIT, "=1+1\x07项目", flags=[{"code": "incomplete", "field": "summary",
                                                               "message": "表1“改革创新项目概述及成效简介”未填写。"}]),
                          t34(3, EVIL_NAME, EVIL_UNIT)])
        session.commit()
        files = build_report(report_settings(env), session, now=at(19, 8))
        session.commit()
    raw = files.html_path.read_text("utf-8")
    assert "<script" not in raw and "<img" not in raw
    doc = lxml.html.fromstring(raw)
    assert doc.xpath("//script|//img") == []
    unmatched = doc.get_element_by_id("unmatched").xpath(".//tbody/tr/td")
    assert unmatched[0].text_content() == EVIL_UNIT
    assert unmatched[1].text_content() == "表1、表3"
    incomplete = doc.get_element_by_id("incomplete").xpath(".//tbody/tr/td")
    assert incomplete[1].text_content() == EVIL_UNIT

    wb = load_workbook(files.xlsx_path)
    ws = wb["表1 改革创新标兵单位"]
    header = [c.value for c in ws[1]]
    project = ws.cell(row=2, column=header.index("参评项目（单位）名称和简介") + 1)
    assert (project.value, project.data_type) == ("=1+1项目", "s")  # control character dropped, not a formula
    assert ws.cell(row=2, column=header.index("申报单位") + 1).value == EVIL_UNIT
    t3 = wb["表3 窗口服务明星"]
    assert t3.cell(row=2, column=[c.value for c in t3[1]].index("姓名") + 1).value == EVIL_NAME


def test_clean_limits() -> None:
    assert clean("a\x00b\x1fc") == "abc"
    long = clean("字" * 40000)
    assert len(long) == 32767 and long.endswith("…")
    assert clean(5) == 5
