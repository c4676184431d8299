"""A second campaign needs no code change: an invented call (优秀志愿者 and 示范岗, other fields, its own
office, deadline, receipt numbers, roster, quotas and reply wording in tests/support/campaigns/volunteer/) runs end
to end: Word forms generated with python-docx are mailed into a real IMAP server (pymap), polled through
the real pipeline, answered over real SMTP (aiosmtpd), and reported in a workbook named after its tables."""

from __future__ import annotations

import csv
import datetime as dt
import email
import io
import os
import shutil
import subprocess
from email import policy
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlalchemy import select

from mailintake.db.engine import open_database
from mailintake.db.models import AttachmentRow, Message, Submission
from mailintake.demo.samples.forms import make_letter_docx
from mailintake.intake.cycle import poll_once
from mailintake.outbox.sender import deliver_due
from mailintake.report.build import build_report
from mailintake.report.mail import build_report_message
from tests.support.helpers import mail, make_settings
from tests.support.servers import PymapServer, SmtpSink, append_mail

CAMPAIGN = Path(__file__).resolve().parents[1] / "support" / "campaigns" / "volunteer"
CST = dt.timezone(dt.timedelta(hours=8))
OFFICE = "示例市志愿服务联合会秘书处"
SIGN_OFF = ["联系人：赵敏，电话 0512-12345678。", OFFICE]


def form_docx(table: int, title: str, rows: list[tuple[str, str]]) -> bytes:
    """A filled-in form as a word processor writes it: 表N, the title, then a label | value table."""
    doc = Document()
    doc.add_paragraph(f"表{table}")
    doc.add_paragraph(title)
    grid = doc.add_table(rows=len(rows), cols=2)
    for index, (label, value) in enumerate(rows):
        grid.cell(index, 0).text = label
        grid.cell(index, 1).text = value
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def volunteer(name: str, unit: str, hours: str, story: str) -> bytes:
    return form_docx(1, "优秀志愿者推荐表", [("姓名", name), ("单位", unit), ("服务时长", hours), ("事迹", story)])


def post(name: str, unit: str, head: str, intro: str) -> bytes:
    return form_docx(2, "示范岗申报表", [("岗位名称", name), ("所在单位", unit), ("负责人", head), ("简介", intro)])


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_an_invented_campaign_runs_end_to_end_without_code(imap_server: PymapServer, smtp_sink: SmtpSink,
                                                          tmp_path: Path) -> None:
    campaign = shutil.copytree(CAMPAIGN, tmp_path / "campaign")
    settings = make_settings(tmp_path, imap=imap_server, smtp=smtp_sink, campaign={
        "forms": str(campaign / "forms.toml"), "roster": str(campaign / "units.csv"),
        "quotas": str(campaign / "quotas.toml"), "templates": str(campaign / "templates")},
        report={"recipients": ["mishu@example.cn"]})
    assert (settings.campaign.name, settings.campaign.office_name, settings.smtp.sender_name) == (
        "2026年度志愿服务先进评选", OFFICE, OFFICE)
    append_mail(imap_server, mail("第一医院团委 <tw@yy.example.cn>", "志愿者推荐", message_id="<a@yy>", attachments={
        "张三.docx": volunteer("张 三", "市一院（盖章）", "320小时", "坚持十年社区义诊。"),
        "急诊岗.docx": post("急诊志愿服务岗", "示例市第一医院", "李四", "全天候导诊。")}),
        dt.datetime(2026, 3, 20, 9, 30, tzinfo=CST))
    append_mail(imap_server, mail("医院办 <yb@yy.example.cn>", "再推荐一名", message_id="<b@yy>", attachments={
        "李梅.docx": volunteer("李梅", "示例省示例市第一医院", "150小时", "献血宣传。")}),
        dt.datetime(2026, 3, 21, 14, 0, tzinfo=CST))
    append_mail(imap_server, mail("图书馆 <lib@tsg.example.cn>", "示范岗", message_id="<c@tsg>", attachments={
        "阅读岗.docx": post("少儿阅读引导岗", "市图书馆", "王五", "")}),
        dt.datetime(2026, 3, 22, 10, 0, tzinfo=CST))
    append_mail(imap_server, mail("协会 <xh@example.cn>", "推荐信", message_id="<d@xh>", attachments={
        "推荐信.docx": make_letter_docx("兹推荐我会志愿者参评。")}), dt.datetime(2026, 3, 23, 9, 0, tzinfo=CST))

    factory = open_database(settings.database.url)
    poll_once(settings, factory)
    result = deliver_due(settings, factory)
    replies = {}
    for received in smtp_sink.wait_for(result.sent):
        message = email.message_from_bytes(received.raw, policy=policy.default)
        part = message.get_body(preferencelist=("plain",))
        assert part is not None
        replies[received.rcpt_tos[0]] = (str(message["Subject"]), str(message["From"]), part.get_content())

    with factory() as session:
        mails = [(m.message_id, m.receipt_no, m.status) for m in session.scalars(select(Message).order_by(Message.id))]
        flags = [flag["message"] for row in session.scalars(select(AttachmentRow).order_by(AttachmentRow.id))
                 for flag in row.flags or []]
        rows = [(s.table_no, s.fields, s.unit, s.identity_key, s.current,
                 [flag["code"] for flag in s.flags or []])
                for s in session.scalars(select(Submission).order_by(Submission.id))]
    assert mails == [("<a@yy>", "ZY26-0001", "accepted"), ("<b@yy>", "ZY26-0002", "needs_correction"),
                     ("<c@tsg>", "ZY26-0003", "needs_correction"), ("<d@xh>", "ZY26-0004", "no_form")]
    assert flags == ["附件“推荐信.docx”中未找到申报表（表1至表2），请使用通知附件1中的申报表填写后发送。"]
    assert rows == [
        (1, {"name": "张 三", "org": "市一院", "hours": "320小时", "story": "坚持十年社区义诊。"},
         "示例市第一医院", "1|张三|示例市第一医院", True, []),
        (2, {"post": "急诊志愿服务岗", "org": "示例市第一医院", "head": "李四", "intro": "全天候导诊。"},
         "示例市第一医院", "2|示例市第一医院|急诊志愿服务岗", True, []),
        (1, {"name": "李梅", "org": "示例省示例市第一医院", "hours": "150小时", "story": "献血宣传。"},
         "示例市第一医院", "1|李梅|示例市第一医院", True, ["quota_exceeded"]),
        (2, {"post": "少儿阅读引导岗", "org": "市图书馆", "head": "王五", "intro": ""},
         "示例市图书馆", "2|示例市图书馆|少儿阅读引导岗", True, ["incomplete"]),
    ]

    assert sorted(replies) == ["lib@tsg.example.cn", "tw@yy.example.cn", "xh@example.cn", "yb@yy.example.cn"]
    assert lines(replies["xh@example.cn"][2]) == [
        "您好！",
        f"{OFFICE}已收到您的邮件（受理号 ZY26-0004），未发现推荐表（表1 优秀志愿者推荐表、表2 示范岗申报表）。"
        "联系人：赵敏，电话 0512-12345678。",
        OFFICE,
    ]
    subject, sender, receipt = replies["tw@yy.example.cn"]
    assert subject == "Re: 志愿者推荐 [申报回执 ZY26-0001]"
    assert sender == f"{OFFICE} <office@example.gov.cn>"
    assert lines(receipt) == [
        "您好！",
        f"{OFFICE}已收到您于2026年3月20日09:30报送的2026年度志愿服务先进评选材料，受理号 ZY26-0001。",
        "本次受理：",
        "1. 表1《优秀志愿者推荐表》：张 三，推荐单位：市一院",
        "2. 表2《示范岗申报表》：急诊志愿服务岗，所在单位：示例市第一医院",
        "纸质材料请于2026年3月31日18:00前寄至示例市人民路1号志愿服务中心301室。",
        *SIGN_OFF,
    ]
    assert lines(replies["yb@yy.example.cn"][2]) == [
        "您好！",
        f"{OFFICE}已收到您于2026年3月21日14:00报送的2026年度志愿服务先进评选材料（受理号 ZY26-0002），请补正以下内容：",
        "表1《优秀志愿者推荐表》（李梅，推荐单位：示例省示例市第一医院）：",
        "- 姓名：“示例省示例市第一医院”已推荐1名优秀志愿者，每个单位限推荐1名，“李梅”超出名额，请确认后重新发送。",
        "请于2026年3月31日18:00前重新报送。联系人：赵敏，电话 0512-12345678。",
        OFFICE,
    ]
    assert lines(replies["lib@tsg.example.cn"][2]) == [
        "您好！",
        f"{OFFICE}已收到您于2026年3月22日10:00报送的2026年度志愿服务先进评选材料（受理号 ZY26-0003），请补正以下内容：",
        "表2《示范岗申报表》（少儿阅读引导岗，所在单位：市图书馆）：",
        "- “简介”未填写，请补充后重新发送。",
        "请于2026年3月31日18:00前重新报送。联系人：赵敏，电话 0512-12345678。",
        OFFICE,
    ]

    with factory() as session:
        files = build_report(settings, session, out_dir=tmp_path / "reports",
                             now=dt.datetime(2026, 3, 23, 18, 0, tzinfo=CST))
        session.commit()
    book = load_workbook(files.xlsx_path, read_only=True)
    assert book.sheetnames[:3] == ["汇总", "表1 优秀志愿者", "表2 示范岗"]
    assert book.sheetnames == ["汇总", "表1 优秀志愿者", "表2 示范岗", "需人工处理", "纸质材料", "邮件", "技术信息"]
    hospital, library = "医疗卫生机构", "文化场馆"
    assert [row[:9] for row in book["表1 优秀志愿者"].iter_rows(values_only=True)] == [
        ("序号", "姓名", "单位", "服务时长", "事迹", "字数", "问题", "名录单位", "名录类别"),
        (1, "张 三", "市一院", "320小时", "坚持十年社区义诊。", 9, None, "示例市第一医院", hospital),
        (2, "李梅", "示例省示例市第一医院", "150小时", "献血宣传。", 5, "“示例省示例市第一医院”已推荐1名优秀志愿者，"
         "每个单位限推荐1名，“李梅”超出名额，请确认后重新发送。", "示例市第一医院", hospital)]
    assert [row[:9] for row in book["表2 示范岗"].iter_rows(values_only=True)] == [
        ("序号", "岗位名称", "所在单位", "负责人", "简介", "字数", "问题", "名录单位", "名录类别"),
        (1, "急诊志愿服务岗", "示例市第一医院", "李四", "全天候导诊。", 6, None, "示例市第一医院", hospital),
        (2, "少儿阅读引导岗", "市图书馆", "王五", None, 0, "表2（示范岗申报表）“简介”未填写，请补充后重新发送。",
         "示例市图书馆", library)]
    # 汇总: the invented campaign's own categories and 名额 (quotas.toml), nothing of 附件2
    summary = [row for row in book["汇总"].iter_rows(values_only=True) if row and str(row[0]).startswith("表")]
    assert summary == [
        ("表1 优秀志愿者", hospital, "4个左右", 2, None, 1, 1), ("表1 优秀志愿者", library, "3个左右", 0, None, 0, 0),
        ("表1 优秀志愿者", "社会组织", "视情", 0, None, 0, 0), ("表1 优秀志愿者", "合计", "共10名", 2, None, 1, 1),
        ("表2 示范岗", hospital, "2个左右", 1, None, 1, 0), ("表2 示范岗", library, "2个左右", 1, None, 0, 1),
        ("表2 示范岗", "社会组织", "1个左右", 0, None, 0, 0), ("表2 示范岗", "合计", "共5个", 2, None, 1, 1)]
    report_mail = build_report_message(settings, files)
    assert [part.get_filename() for part in report_mail.iter_attachments()] == [
        "志愿服务先进评选汇总表-2026-03-23.xlsx"]
    html = files.html_path.read_text("utf-8")
    assert "2026年度志愿服务先进评选" in html and "优秀志愿者" in html and "示范岗" in html


def test_the_ballot_offers_the_invented_campaigns_own_evaluator_categories(tmp_path: Path) -> None:
    """GIVEN the invented campaign's evaluators (理事会成员, 志愿者代表, 受助群众代表) WHEN its 民主测评票 is
    written and converted to PDF by LibreOffice THEN each table's ballot offers exactly those boxes and no
    signature line."""
    from mailintake.office.ballot import write_ballot
    from mailintake.office.candidates import Candidate, TableList
    from parsers.convert import find_soffice
    from tests.support.ballot import ballot_pages

    settings = make_settings(tmp_path, campaign={"forms": str(CAMPAIGN / "forms.toml")})
    assert settings.campaign.evaluators == ("理事会成员", "志愿者代表", "受助群众代表")
    lists = [TableList(1, "优秀志愿者", "优秀志愿者推荐表", ""), TableList(2, "示范岗", "示范岗申报表", "")]
    lists[0].candidates.append(Candidate(1, 1, 1, "张三", "示例市第一医院", "", "", "医疗卫生机构", None, None,
                                         "docx"))
    docx = write_ballot(lists, settings, tmp_path / "民主测评票.docx")
    soffice = find_soffice()
    if soffice is None:
        pytest.skip("LibreOffice is not installed")
    subprocess.run([soffice, f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(docx)], check=True, capture_output=True,
                   timeout=180, env={**os.environ, "HOME": str(tmp_path), "SAL_USE_VCLPLUGIN": "svp"})
    assert ballot_pages(tmp_path / "民主测评票.pdf") == [["□理事会成员", "□志愿者代表", "□受助群众代表"]] * 2


def test_a_campaign_file_naming_an_unknown_field_fails_check_config_in_one_line(tmp_path: Path) -> None:
    from tests.unit.config.test_config import config_file, invoke

    forms = tmp_path / "forms.toml"
    forms.write_text((CAMPAIGN / "forms.toml").read_text("utf-8").replace('identity = ["unit", "post"]',
                                                                        'identity = ["unit", "job"]'), "utf-8")
    config = config_file(tmp_path, campaign={"forms": str(forms), "roster": str(CAMPAIGN / "units.csv"),
                                             "quotas": str(CAMPAIGN / "quotas.toml")})
    result = invoke("--config", str(config), "check-config", "--no-network")
    assert result.exit_code == 2
    assert [line for line in result.stdout.splitlines() if line.startswith("FAIL")] == [
        f"FAIL campaign  campaign: {forms} 表2: no field 'job'; use one of head, intro, org, post"]
    forms.write_text((CAMPAIGN / "forms.toml").read_text("utf-8"), "utf-8")
    result = invoke("--config", str(config), "check-config", "--no-network")
    assert result.stdout.splitlines()[1] == ("OK   campaign  forms 2 tables, roster 3 units, quotas 2 honours, "
                                             "templates OK")


def test_the_export_carries_the_invented_campaign_s_own_columns(imap_server: PymapServer, smtp_sink: SmtpSink,
                                                                tmp_path: Path) -> None:
    """GIVEN the invented campaign configured by path WHEN its mails are polled and exported THEN the CSV's
    field columns and the workbook's sheets are its own (姓名/服务时长/岗位名称…), none of the shipped 表1–表4."""
    from tests.unit.config.test_config import invoke

    campaign = shutil.copytree(CAMPAIGN, tmp_path / "campaign")
    config = tmp_path / "mailintake.toml"  # only the campaign's paths: its name, deadline, office come from its file
    config.write_text(
        f'[mailbox]\nhost = "{imap_server.host}"\nport = {imap_server.port}\nsecurity = "none"\n'
        f'username = "{imap_server.username}"\npassword = "{imap_server.password}"\n'
        f'[smtp]\nhost = "{smtp_sink.host}"\nport = {smtp_sink.port}\nsecurity = "none"\n'
        'sender = "office@example.gov.cn"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "mailintake.db"}"\n[storage]\ndir = "{tmp_path / "storage"}"\n'
        f'[report]\nrecipients = []\n[campaign]\nforms = "{campaign / "forms.toml"}"\n'
        f'roster = "{campaign / "units.csv"}"\n'
        f'quotas = "{campaign / "quotas.toml"}"\ntemplates = "{campaign / "templates"}"\n', "utf-8")
    config.chmod(0o600)
    append_mail(imap_server, mail("第一医院团委 <tw@yy.example.cn>", "志愿者推荐", message_id="<a@yy>", attachments={
        "张三.docx": volunteer("张三", "市一院", "320小时", "坚持十年社区义诊。"),
        "急诊岗.docx": post("急诊志愿服务岗", "示例市第一医院", "李四", "全天候导诊。")}),
        dt.datetime(2026, 3, 20, 9, 30, tzinfo=CST))
    polled = invoke("--config", str(config), "poll", "--no-send")
    assert polled.exit_code == 0, polled.output

    exported = invoke("--config", str(config), "export", "--format", "csv")
    assert exported.exit_code == 0, exported.output
    rows = list(csv.reader(io.StringIO(exported.stdout)))
    assert rows[0] == ["id", "table", "current", "word_count", "flags", "message_id", "from", "received_at", "status",
                       "attachment", "decision", "name", "org", "hours", "story", "post", "head", "intro",
                       "paper_received_on"]
    assert [row[11:18] for row in rows[1:]] == [
        ["张三", "市一院", "320小时", "坚持十年社区义诊。", "", "", ""],
        ["", "示例市第一医院", "", "", "急诊志愿服务岗", "李四", "全天候导诊。"]]

    out = tmp_path / "export.xlsx"
    assert invoke("--config", str(config), "export", "--format", "xlsx", "--out", str(out)).exit_code == 0
    book = load_workbook(out, read_only=True)
    assert book.sheetnames[:3] == ["汇总", "表1 优秀志愿者", "表2 示范岗"]
    assert [row[:5] for row in book["表1 优秀志愿者"].iter_rows(values_only=True)] == [
        ("序号", "姓名", "单位", "服务时长", "事迹"), (1, "张三", "市一院", "320小时", "坚持十年社区义诊。")]
    assert [row[:5] for row in book["表2 示范岗"].iter_rows(values_only=True)] == [
        ("序号", "岗位名称", "所在单位", "负责人", "简介"),
        (1, "急诊志愿服务岗", "示例市第一医院", "李四", "全天候导诊。")]
