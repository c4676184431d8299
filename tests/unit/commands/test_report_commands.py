"""``mailintake report`` and ``mailintake paper`` run through the real CLI against a SQLite file."""

from __future__ import annotations

import datetime as dt
import email
from email import policy
from pathlib import Path
from zoneinfo import ZoneInfo

import lxml.html
from openpyxl import load_workbook
from sqlalchemy import select

from mailintake.db.models import OutboxItem, PaperCopy, Report
from tests.support.env import Env
from tests.support.report_story import run, seeded
from tests.support.servers import SmtpSink


def test_report_writes_files_and_prints_paths(tmp_path: Path, env: Env) -> None:
    config = seeded(env)
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    code, out, err = run(config, "report", "--out", str(tmp_path / "out"))
    assert (code, err) == (0, "")
    html_path, xlsx_path = (Path(line) for line in out.splitlines())
    assert html_path.parent == xlsx_path.parent == tmp_path / "out"
    assert html_path.name.startswith(f"report-{today}-") and xlsx_path.name.startswith(f"summary-{today}-")
    assert lxml.html.fromstring(html_path.read_text("utf-8")).get_element_by_id("honours") is not None
    assert load_workbook(xlsx_path).sheetnames[0] == "汇总"
    with env.session_factory() as session:
        reports = list(session.scalars(select(Report).order_by(Report.id)))
        assert [r.for_date for r in reports] == [dt.date(2019, 12, 17), today]
        assert (reports[-1].sent, reports[-1].baseline) == (False, False)
        assert session.scalars(select(OutboxItem).where(OutboxItem.kind == "report")).all() == []


def test_manual_report_leaves_the_daily_baseline(tmp_path: Path, env: Env) -> None:
    """GIVEN the scheduled report of the 17th WHEN the office looks twice by hand THEN both count “new” from
    the 17th's report, and the next scheduled report does too."""
    config = seeded(env)
    for _ in range(2):
        code, out, _err = run(config, "report", "--out", str(tmp_path / "look"))
        assert code == 0
        text = Path(out.splitlines()[0]).read_text("utf-8")
        assert "上次报告（2019-12-17 08:00）以来" in text
    with env.session_factory() as session:
        assert [r.baseline for r in session.scalars(select(Report).order_by(Report.id))] == [True, False, False]


def test_report_send_delivers_to_recipients(tmp_path: Path, env: Env, smtp_sink: SmtpSink) -> None:
    """GIVEN recipients and a real SMTP server WHEN report --send THEN one mail with HTML and the workbook."""
    config = seeded(env, smtp_port=smtp_sink.port, recipients=("boss@example.cn", "clerk@example.cn"))
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    code, out, err = run(config, "report", "--send")
    assert code == 0, err
    # the story's one pending correction reply goes out in the same delivery run
    assert out.splitlines()[2] == "report queued for boss@example.cn, clerk@example.cn; sent 2, retry later 0, failed 0"
    [delivered] = [m for m in smtp_sink.wait_for(2) if "boss@example.cn" in m.rcpt_tos]
    assert sorted(delivered.rcpt_tos) == ["boss@example.cn", "clerk@example.cn"]
    mail = email.message_from_bytes(delivered.raw, policy=policy.default)
    assert mail["Subject"] == f"“双争双创”活动先进荣誉申报情况日报（{today}）"
    assert mail["Auto-Submitted"] == "auto-generated"
    html = mail.get_body(preferencelist=("html",))
    assert html is not None and "各荣誉申报情况" in html.get_content()
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == f"双争双创申报汇总表-{today}.xlsx"
    xlsx = tmp_path / "back.xlsx"
    xlsx.write_bytes(attachment.get_content())
    assert "表1 改革创新标兵单位" in load_workbook(xlsx).sheetnames
    with env.session_factory() as session:
        [item] = session.scalars(select(OutboxItem).where(OutboxItem.kind == "report")).all()
        assert (item.status, item.message_pk) == ("sent", None)
        assert item.recipients == ["boss@example.cn", "clerk@example.cn"]
        last = session.scalars(select(Report).order_by(Report.id.desc())).first()
        assert last is not None and (last.sent, last.baseline) == (True, True)


def test_report_send_without_recipients_is_one_line(tmp_path: Path, env: Env) -> None:
    config = seeded(env)
    code, out, err = run(config, "report", "--send")
    assert (code, out) == (2, "")
    assert not (tmp_path / "reports").exists()  # checked before anything is written
    assert err == "config: [report] recipients is empty; list the office's addresses to mail the report to\n"


def test_paper_records_roster_alias_and_exact_names(tmp_path: Path, env: Env) -> None:
    config = seeded(env)
    code, out, err = run(config, "paper", "昆山审批局", "--received", "--date", "2019-12-18")
    assert (code, out, err) == (0, "已登记：昆山市行政审批局 纸质材料于 2019-12-18 收到\n", "")
    code, out, _ = run(config, "paper", "某某街道便民服务站", "--received", "--date", "2019-12-19")
    assert (code, out) == (0, "已登记：某某街道便民服务站 纸质材料于 2019-12-19 收到\n")
    code, out, _ = run(config, "paper", "昆山市行政审批局（盖章）", "--received", "--date", "2019-12-20")
    assert out == "已登记：昆山市行政审批局 纸质材料于 2019-12-20 收到（原登记日期 2019-12-18，已更新）\n"
    with env.session_factory() as session:
        rows = {p.unit: p.received_on for p in session.scalars(select(PaperCopy))}
    assert rows == {"张家港市行政审批局": dt.date(2019, 12, 18), "昆山市行政审批局": dt.date(2019, 12, 20),
                    "某某街道便民服务站": dt.date(2019, 12, 19)}
    code, out, _ = run(config, "report", "--out", str(tmp_path / "out"))
    doc = lxml.html.fromstring(Path(out.splitlines()[0]).read_text("utf-8"))
    tables = doc.get_element_by_id("paper-missing").xpath(".//table")
    missing = [tr.xpath("./td")[0].text_content() for tr in tables[0].xpath(".//tbody/tr")]
    assert missing == ["太仓市行政审批局", "苏州市行政审批局审批制度改革处", "市公安局窗口"]
    received = [[td.text_content() for td in tr.xpath("./td")] for tr in tables[1].xpath(".//tbody/tr")]
    assert received == [
        ["张家港市行政审批局", "市、区审批局", "2019-12-18", ""],
        ["昆山市行政审批局", "市、区审批局", "2019-12-20", ""],
        ["某某街道便民服务站", "未匹配名录", "2019-12-19", ""],
    ]


def test_paper_unknown_unit_is_one_clear_line(env: Env) -> None:
    config = seeded(env)
    code, out, err = run(config, "paper", "某某县审批局", "--received")
    assert (code, out) == (1, "")
    assert err == ("未找到单位“某某县审批局”：名录中没有该单位或其别名，申报记录中也没有完全相同的单位名称；"
                   "请核对名称后重试，或在 config/units.csv 中补充。\n")
    code, _, err = run(config, "paper", "昆山市行政审批局")
    assert code == 2 and "add --received" in err


def test_paper_undo_future_date_and_units_that_did_not_apply(env: Env) -> None:
    """GIVEN the story WHEN paper copies are recorded wrongly THEN each mistake is one line and undo works."""
    config = seeded(env)
    code, _, err = run(config, "paper", "昆山市行政审批局", "--received", "--date", "2999-01-01")
    assert code == 1
    assert err.startswith("收到日期 2999-01-01 晚于今天（") and err.endswith("），请填写实际收到的日期。\n")
    code, _, err = run(config, "paper", "常熟市行政审批局", "--received")
    assert (code, err) == (
        1, "单位“常熟市行政审批局”尚无有效申报材料，无需登记纸质材料；如确已申报，请核对申报单位名称。\n")
    code, _, err = run(config, "paper", "太仓", "--received")
    assert (code, err) == (1, "未找到单位“太仓”：您是否指 太仓市行政审批局？请使用完整名称重试。\n")
    code, out, _ = run(config, "paper", "张家港审批局", "--undo")
    assert (code, out) == (0, "已撤销：张家港市行政审批局 纸质材料收到登记（原登记日期 2019-12-18）\n")
    code, _, err = run(config, "paper", "张家港审批局", "--undo")
    assert (code, err) == (1, "单位“张家港市行政审批局”没有纸质材料收到的登记，无需撤销。\n")
    with env.session_factory() as session:
        assert session.scalars(select(PaperCopy)).all() == []
        from mailintake.db.audit import list_actions

        assert [(a.action, a.unit, a.origin) for a in list_actions(session)] == [
            ("paper_undo", "张家港市行政审批局", "CLI")]
