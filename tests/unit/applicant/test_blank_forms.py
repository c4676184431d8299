"""The generated blank 附件1: deterministic bytes, the campaign's tables, labels and notes."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

from docx import Document

from mailintake.applicant.blank_forms import FIXED_TIME, document_title, generate
from parsers.definitions import load_definitions


def test_generated_forms_are_the_same_bytes_every_time_with_the_notices_notes() -> None:
    forms = load_definitions()
    first = generate(forms, campaign="“双争双创”活动先进荣誉申报", office="苏州市行政审批局办公室", max_chars=1000)
    assert first == generate(forms, campaign="“双争双创”活动先进荣誉申报", office="苏州市行政审批局办公室",
                             max_chars=1000)
    with zipfile.ZipFile(io.BytesIO(first)) as package:
        assert {info.date_time for info in package.infolist()} == {FIXED_TIME.timetuple()[:6]}
    doc = Document(io.BytesIO(first))
    assert doc.core_properties.created == FIXED_TIME.replace(tzinfo=dt.UTC)
    assert doc.core_properties.author == "苏州市行政审批局办公室"
    paragraphs = [p.text for p in doc.paragraphs if p.text]
    assert paragraphs[0] == "附件1.“双争双创”活动先进荣誉申报表"
    assert [p for p in paragraphs if p.startswith("表")] == [
        "表1.改革创新标兵单位申报表", "表2.为民服务工作先进集体申报表", "表3.窗口服务明星申报表",
        "表4.先进工作者申报表"]
    assert paragraphs[3] == ("注：填写要简明扼要，“参评项目（单位）名称和简介”、“该项目获奖、领导批示或媒体报道情况”、"
                             "“改革创新项目概述及成效简介”合计字数不超过1000字；如填写不下，可单独附页。")
    assert [[(row.cells[0].text, row.cells[1].text) for row in table.rows] for table in doc.tables][1] == [
        ("日期", ""), ("申报单位", ""), ("主要事迹", "（可另附）")]


def test_document_title_from_the_campaign_name() -> None:
    assert document_title("“双争双创”活动先进荣誉申报") == "附件1.“双争双创”活动先进荣誉申报表"
    assert document_title("志愿服务之星申报表") == "附件1.志愿服务之星申报表"
    assert document_title("志愿服务之星") == "附件1.志愿服务之星申报表"
