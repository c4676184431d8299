"""The daily report: facts gathered from real SQLite rows, the HTML and the workbook read back."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from mailintake.db.models import Report
from mailintake.report.build import build_report
from parsers.definitions import load_definitions
from tests.support.env import Env
from tests.support.report_story import FORMULA, SCRIPT, TZ, at, build_story, report_settings

NOW = at(19, 8)


@pytest.fixture()
def built(db_env: Env) -> dict[str, Any]:
    """The story's rows and a report built from them, on SQLite and on PostgreSQL."""
    settings = report_settings(db_env)
    factory = db_env.session_factory
    with factory() as session:
        mails = build_story(session)
        session.commit()
        files = build_report(settings, session, now=NOW)
        session.commit()
        report = session.scalars(select(Report).order_by(Report.id.desc())).first()
    return {"files": files, "mails": mails, "report": report, "factory": factory, "settings": settings,
            "tmp": db_env.root}


def section(doc: Any, ident: str) -> Any:
    found = doc.get_element_by_id(ident)
    assert found is not None, ident
    return found


def rows(element: Any) -> list[list[str]]:
    return [[cell.text_content().strip() for cell in tr.xpath("./td|./th")] for tr in element.xpath(".//tbody/tr")]


def test_summary_and_report_row(built: dict[str, Any]) -> None:
    """GIVEN a campaign's rows and a report the day before WHEN reporting THEN counts split at that report."""
    files = built["files"]
    assert files.summary == {
        "for_date": "2019-12-19",
        "mails_total": 10, "mails_since": 7,
        "forms_total": 12, "forms_since": 7,
        "current_forms": 11,
        "by_table": {1: 7, 2: 1, 3: 1, 4: 1},
        "late": 1, "overlong": 1, "incomplete": 1, "quota_exceeded": 1,
        "pending_corrections": 4, "failed_replies": 1,
        "silent_units": 29, "paper_missing": 5, "paper_received": 1, "manual": 1, "unmatched": 1,
    }
    report = built["report"]
    assert report.for_date == dt.date(2019, 12, 19)
    assert report.since == at(17, 8)
    assert report.generated_at == NOW
    assert Path(report.html_path) == files.html_path
    assert files.html_path.name == "report-2019-12-19-080000.html"
    assert files.xlsx_path.name == "summary-2019-12-19-080000.xlsx"
    assert files.html_path.parent == built["tmp"] / "reports"


def test_html_sections(built: dict[str, Any]) -> None:
    """THEN each section lists exactly the right items, and applicant text is escaped."""
    raw = built["files"].html_path.read_text("utf-8")
    doc = lxml.html.fromstring(raw)
    overview = section(doc, "overview").text_content()
    assert "上次报告（2019-12-17 08:00）以来，新收邮件 7 封、申报表 7 份" in overview
    assert "累计收到邮件 10 封、申报表 12 份，其中当前有效版本 11 份" in overview
    assert rows(section(doc, "status-counts")) == [
        ["已受理", "1", "2"], ["需更正", "3", "5"], ["逾期", "1", "1"], ["无申报表", "1", "1"], ["已忽略", "1", "1"],
    ]
    t1 = section(doc, "honour-1")
    assert t1.xpath(".//h3")[0].text_content() == \
        "表1 改革创新标兵单位：当前申报 7 份（已受理 5 份，待更正 2 份），名额 共20个"
    assert rows(t1) == [
        ["市、区审批局", "5个左右", "6", "4", "2", "超出名额配比 1 个"],
        ["开发区、镇审批局", "5个左右", "0", "0", "0", ""],
        ["交易中心、便民中心（12345）", "4个左右", "0", "0", "0", ""],
        ["局机关处室、直属单位、大厅窗口", "6个左右", "1", "1", "0", ""],
        ["合计", "共20个", "7", "5", "2", ""],
    ]
    assert rows(section(doc, "honour-3")) == [
        ["市、区审批局", "5个左右", "0", "0", "0", ""],
        ["开发区、镇审批局", "3个左右", "0", "0", "0", ""],
        ["交易中心、便民中心（12345）", "2个左右", "0", "0", "0", ""],
        ["局机关处室、直属单位、大厅窗口", "10个左右", "0", "0", "0", ""],
        ["未匹配名录", "—", "1", "1", "0", "单位名称未能与名录对应，请核实"],
        ["合计", "20个", "1", "1", "0", ""],
    ]
    t4 = section(doc, "honour-4")
    assert t4.xpath(".//h3")[0].text_content() == \
        "表4 先进工作者：当前申报 1 份（已受理 0 份，待更正 1 份），名额 各地15个+市局视情"
    assert rows(t4)[3] == ["局机关处室、直属单位、大厅窗口", "视情", "1", "0", "1", ""]
    assert rows(section(doc, "late")) == [["2019-12-18 19:05", "wj@example.cn", "申报材料", "1"]]
    assert rows(section(doc, "overlong")) == [[
        "表1", "昆山市行政审批局", "ks@example.cn", "2019-12-16 15:00", "1203",
        "表1“改革创新项目概述及成效简介”等共1203字，超过1000字的限制。"]]
    assert rows(section(doc, "incomplete")) == [[
        "表4", "李四（市公安局窗口）", "jd@example.cn", "2019-12-17 09:00", "500", "表4“所在单位及职务”未填写。"]]
    assert [r[1] for r in rows(section(doc, "quota_exceeded"))] == ["太仓市行政审批局"]
    assert rows(section(doc, "attachments")) == [
        ["2019-12-17 15:00", "wz@example.cn", "申报表10.docx", "附件“申报表10.docx”无法读取：文件已损坏。"]]
    corrections = rows(section(doc, "corrections"))
    assert [r[1] for r in corrections] == ["ks@example.cn", f"{SCRIPT} <jd@example.cn>", "tc@example.cn",
                                           "wz@example.cn"]
    assert corrections[0][4] == "表1“改革创新项目概述及成效简介”等共1203字，超过1000字的限制。"
    assert corrections[3][4] == "附件“申报表10.docx”无法读取：文件已损坏。"
    assert rows(section(doc, "failed-replies")) == [
        ["更正通知", "ks@example.cn", "申报材料（2019-0002）", "1", "550 5.1.1 mailbox unavailable"]]
    silent = [r[0] for r in rows(section(doc, "silent-units"))]
    assert len(silent) == 29
    assert "张家港市行政审批局" not in silent and "苏州市吴江区行政审批局" not in silent
    assert "常熟市行政审批局" in silent
    assert rows(section(doc, "paper-missing")) == [
        ["太仓市行政审批局", "市、区审批局", "表1", "3", "tc@example.cn"],
        ["昆山市行政审批局", "市、区审批局", "表1", "1", "ks@example.cn"],
        ["苏州市行政审批局审批制度改革处", "局机关处室、直属单位、大厅窗口", "表1", "1", "SGC@example.cn"],
        ["市公安局窗口", "局机关处室、直属单位、大厅窗口", "表4", "1", "jd@example.cn"],
        ["某某街道便民服务站", "未匹配名录", "表3", "1", "jd@example.cn"],
        ["张家港市行政审批局", "市、区审批局", "2019-12-18", ""],
    ]
    assert [th.text_content() for th in section(doc, "silent-units").xpath(".//th")] == ["单位", "类别"]
    assert rows(section(doc, "unmatched")) == [["某某街道便民服务站", "表3", "1", "jd@example.cn"]]


def test_html_escapes_applicant_text(built: dict[str, Any]) -> None:
    """GIVEN a <script> typed into a sender name and subject WHEN rendered THEN it is text, not markup."""
    raw = built["files"].html_path.read_text("utf-8")
    assert "<script" not in raw
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in raw
    doc = lxml.html.fromstring(raw)
    assert doc.xpath("//script") == []


def _sheet_rows(ws: Any) -> list[list[Any]]:
    return [list(r) for r in ws.iter_rows(values_only=True)]


def test_workbook_holds_every_current_record(built: dict[str, Any]) -> None:
    """THEN each table sheet holds every current record with exact values, real dates and headers."""
    wb = load_workbook(built["files"].xlsx_path)
    assert wb.sheetnames == ["汇总", "表1 改革创新标兵单位", "表2 为民服务工作先进集体", "表3 窗口服务明星",
                             "表4 先进工作者", "需人工处理", "纸质材料", "邮件", "技术信息"]
    technical = {(r[0], r[1]): r for r in _sheet_rows(wb["技术信息"])[1:] if r[0] != "邮件"}
    forms = load_definitions()
    factory = built["factory"]
    from sqlalchemy.orm import selectinload

    from mailintake.db.models import Submission
    with factory() as session:
        subs = list(session.scalars(select(Submission).options(selectinload(Submission.message),
                                                               selectinload(Submission.attachment))
                                    .where(Submission.current.is_(True))))
    assert len(subs) == 11
    categories = {"张家港市行政审批局": "市、区审批局", "张家港市行政审批局（盖章）": "市、区审批局",
                  "昆山市行政审批局": "市、区审批局", "太仓市行政审批局": "市、区审批局",
                  "审批制度改革处": "局机关处室、直属单位、大厅窗口", "市公安局窗口": "局机关处室、直属单位、大厅窗口",
                  "苏州市吴江区行政审批局": "市、区审批局", "某某街道便民服务站": "未匹配名录"}
    roster_names = {"张家港市行政审批局": "张家港市行政审批局", "张家港市行政审批局（盖章）": "张家港市行政审批局",
                    "昆山市行政审批局": "昆山市行政审批局", "太仓市行政审批局": "太仓市行政审批局",
                    "审批制度改革处": "苏州市行政审批局审批制度改革处", "市公安局窗口": "市公安局窗口",
                    "苏州市吴江区行政审批局": "苏州市吴江区行政审批局"}
    for definition in forms.tables:
        ws = wb[f"表{definition.table} {definition.name}"]
        data = _sheet_rows(ws)
        labels = [f.label for f in definition.fields]
        assert data[0] == ["序号", *labels, "字数", "问题", "名录单位", "名录类别", "发件人", "发件人姓名", "收件时间",
                           "回执编号", "办公室决定"]
        assert ws.freeze_panes == "A2"
        assert ws.print_title_rows == "$1:$1"
        assert ws.print_title_cols == "$A:$B"
        assert (ws.page_setup.orientation, ws.page_setup.paperSize, ws.page_setup.scale) == ("landscape", 9, 100)
        assert ws.oddHeader.center.text == "“双争双创”活动先进荣誉申报 汇总表（2019-12-19） · &A"
        assert ws.oddFooter.center.text == "第 &P 页，共 &N 页"
        expected = sorted((s for s in subs if s.table_no == definition.table), key=lambda s: (s.received_at, s.id))
        assert len(data) - 1 == len(expected)
        for index, (row, sub) in enumerate(zip(data[1:], expected, strict=True), start=1):
            values = dict(zip(data[0], row, strict=True))
            assert values["序号"] == index
            for item in definition.fields:
                assert values[item.label] == sub.fields[item.key]
            assert values["字数"] == sub.word_count
            assert values["问题"] == ("\n".join(f["message"] for f in sub.flags) or None)
            assert values["名录类别"] == categories[sub.unit]
            assert values["发件人"] == sub.message.from_addr
            assert values["发件人姓名"] == (sub.message.from_name or None)
            assert values["名录单位"] == (roster_names.get(sub.unit) or None)
            assert values["收件时间"] == sub.received_at.astimezone(TZ).replace(tzinfo=None)
            assert isinstance(values["收件时间"], dt.datetime)
            assert values["回执编号"] == sub.message.receipt_no
            assert technical[(f"表{definition.table}", index)][2:5] == [sub.id, sub.attachment.path,
                                                                         sub.message.receipt_no]
    t3 = wb["表3 窗口服务明星"]
    deeds_col = [c.value for c in t3[1]].index("主要事迹") + 1
    cell = next(c for c in t3.iter_cols(min_col=deeds_col, max_col=deeds_col, min_row=2) for c in c if c.value
                and FORMULA in c.value)
    assert cell.value == f"事迹{SCRIPT}\n{FORMULA}"
    assert cell.data_type == "s"
    assert cell.alignment.wrap_text is True


def test_workbook_summary_and_mail_sheets(built: dict[str, Any]) -> None:
    wb = load_workbook(built["files"].xlsx_path)
    summary = _sheet_rows(wb["汇总"])
    facts = {r[0]: r[1] for r in summary[2:23]}
    assert facts["累计邮件"] == 10
    assert facts["新收邮件（2019-12-17 08:00以来）"] == 7
    assert facts["当前有效申报表"] == 11
    assert facts["生成时间"] == dt.datetime(2019, 12, 19, 8, 0)
    assert facts["纸质材料未收到"] == 5
    counted = (facts["其中已受理"], facts["其中待更正"], facts["纸质材料已收到"], facts["需人工处理的邮件"])
    assert counted == (7, 3, 1, 1)
    header = summary.index(["荣誉", "类别", "名额配比", "当前申报", "说明", "已受理", "待更正"])
    honour_rows = [r[:5] for r in summary[header + 1:]]
    assert len(honour_rows) == 4 * 5 + 1  # four categories and a total per honour, plus 表3's 未匹配名录
    assert honour_rows[0] == ["表1 改革创新标兵单位", "市、区审批局", "5个左右", 6, "超出1个"]
    assert ["表4 先进工作者", "局机关处室、直属单位、大厅窗口", "视情", 1, None] in honour_rows
    assert ["表2 为民服务工作先进集体", "合计", "共20个", 1, None] in honour_rows
    mails = _sheet_rows(wb["邮件"])
    assert mails[0] == ["序号", "收件时间", "发件人", "发件人姓名", "主题", "状态", "回执编号", "附件", "申报表数",
                        "问题", "回复"]
    assert [r[5] for r in mails[1:]] == ["已受理", "需更正", "需更正", "需更正", "已受理", "无申报表", "已忽略",
                                         "需更正", "需更正", "逾期"]
    first = mails[1]
    assert first[1] == dt.datetime(2019, 12, 16, 10, 12, 5)
    assert first[2] == "zjg@example.cn"
    assert first[10] == "回执：已发送 2019-12-16 10:14 → zjg@example.cn"
    assert mails[2][10] == "更正通知：发送失败（550 5.1.1 mailbox unavailable） → ks@example.cn"
    assert mails[2][9] == "表1“改革创新项目概述及成效简介”等共1203字，超过1000字的限制。"
    assert mails[3][9] is None  # m5: its flagged form was superseded
    assert wb["邮件"].freeze_panes == "A2"


def test_second_report_counts_since_the_first(built: dict[str, Any]) -> None:
    """GIVEN a report just made WHEN another follows THEN nothing is new since it."""
    with built["factory"]() as session:
        files = build_report(built["settings"], session, now=at(19, 9), out_dir=built["tmp"] / "again")
        session.commit()
    assert files.summary["mails_since"] == 0
    assert files.summary["forms_since"] == 0
    assert files.summary["mails_total"] == 10
    doc = lxml.html.fromstring(files.html_path.read_text("utf-8"))
    assert "上次报告（2019-12-19 08:00）以来，新收邮件 0 封" in section(doc, "overview").text_content()


def test_empty_database_report(env: Env) -> None:
    settings = report_settings(env)
    with env.session_factory() as session:
        files = build_report(settings, session, now=at(14, 8), for_date=dt.date(2019, 12, 14))
        session.commit()
    assert files.summary["mails_total"] == 0
    assert files.summary["silent_units"] == 35
    doc = lxml.html.fromstring(files.html_path.read_text("utf-8"))
    assert "自开始收件以来，新收邮件 0 封" in section(doc, "overview").text_content()
    wb = load_workbook(files.xlsx_path)
    assert wb["表1 改革创新标兵单位"].max_row == 1
