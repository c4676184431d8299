"""Office decisions (同意受理 / 撤回): they change the report, the workbook, the export and the quota
count; the record and its flags stay; each is one audit row; a mail only with ``notify``."""

from __future__ import annotations

import csv
import email
import io
from email import policy
from pathlib import Path

import lxml.html
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailintake.cli import cli
from mailintake.config.settings import Settings
from mailintake.db.audit import Actor
from mailintake.db.models import AuditEntry, Decision, OutboxItem, Submission
from mailintake.office.decisions import DecisionError, decide
from mailintake.report.build import build_report, collect
from mailintake.report.export import export_csv, export_json
from parsers.definitions import load_definitions
from tests.support.env import Env
from tests.support.report_story import at, build_story, report_settings, seeded
from tests.support.servers import PymapServer, SmtpSink

NOW = at(19, 9)
CLERK = Actor("wangyan", "10.0.0.7")


def _sub(session: Session, table: int, field: str, value: str) -> Submission:
    return next(s for s in session.scalars(select(Submission).where(Submission.table_no == table))
                if s.fields.get(field) == value and s.current)


def _counts(settings: Settings, session: Session) -> dict[int, int]:
    return {h.table: h.count for h in collect(settings, session, now=NOW).honours}


def test_decisions_change_quota_count_report_workbook_and_export(db_env: Env) -> None:
    """GIVEN the story WHEN the late 表3 王六 is accepted and 太仓's 项目丙 withdrawn THEN 表3 counts one more,
    表1 one fewer; the report, the workbook and the export show both; the flags stay; two audit rows."""
    settings = report_settings(db_env)
    factory = db_env.session_factory
    with factory() as session:
        build_story(session)
        session.commit()
        assert _counts(settings, session) == {1: 7, 2: 1, 3: 1, 4: 1}
        late = _sub(session, 3, "name", "王六")
        third = _sub(session, 1, "project", "项目丙")
        decide(session, settings, late.id, "accept", "经领导同意，逾期材料予以受理", CLERK, now=at(19, 8, 30))
        decide(session, settings, third.id, "withdraw", "太仓市行政审批局来电撤回", CLERK, now=at(19, 8, 40))
        session.commit()
        assert _counts(settings, session) == {1: 6, 2: 1, 3: 2, 4: 1}
        assert [f["code"] for f in session.get(Submission, third.id).flags] == ["quota_exceeded"]  # type: ignore[union-attr]
        audit = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert [(a.action, a.actor, a.origin, a.submission_id, a.detail) for a in audit] == [
            ("decision", "wangyan", "10.0.0.7", late.id, "同意受理：经领导同意，逾期材料予以受理"),
            ("decision", "wangyan", "10.0.0.7", third.id, "撤回：太仓市行政审批局来电撤回")]
        assert session.scalars(select(OutboxItem).where(OutboxItem.kind == "decision")).all() == []

        files = build_report(settings, session, now=NOW)
        doc = lxml.html.fromstring(files.html_path.read_text("utf-8"))
        rows = [[td.text_content().strip() for td in tr.xpath("./td")]
                for tr in doc.get_element_by_id("decisions").xpath(".//tbody/tr")]
        assert rows == [
            ["表1", "太仓市行政审批局", "撤回", "太仓市行政审批局来电撤回", "wangyan", "2019-12-19 08:40",
             str(third.id)],
            ["表3", "王六（苏州市吴江区行政审批局）", "同意受理", "经领导同意，逾期材料予以受理", "wangyan",
             "2019-12-19 08:30", str(late.id)]]
        workbook = load_workbook(files.xlsx_path)
        technical = workbook["技术信息"]  # record ids sit on their own sheet, keyed by 表 and 序号
        tech_header = [c.value for c in technical[1]]
        number = {row[tech_header.index("记录编号")]: (row[tech_header.index("表")], row[tech_header.index("序号")])
                  for row in technical.iter_rows(min_row=2, values_only=True)}
        sheet = workbook["表3 窗口服务明星"]
        header = [c.value for c in sheet[1]]
        by_number = {row[header.index("序号")]: row[header.index("办公室决定")]
                     for row in sheet.iter_rows(min_row=2, values_only=True)}
        assert by_number[number[late.id][1]] == "同意受理（wangyan，2019-12-19 08:30）：经领导同意，逾期材料予以受理"

        buffer = io.StringIO()
        export_csv(session, buffer, load_definitions())
        decided = {int(r["id"]): r["decision"] for r in csv.DictReader(io.StringIO(buffer.getvalue()))}
        assert decided[third.id] == "撤回：太仓市行政审批局来电撤回（wangyan，2019-12-19T08:40:00+08:00）"
        assert decided[third.id - 1] == ""
        data = export_json(session)
        decisions = {s["id"]: s["decision"] for s in data["submissions"] if s["decision"]}
        assert decisions == {
            late.id: {"kind": "accept", "reason": "经领导同意，逾期材料予以受理", "by": "wangyan",
                      "at": "2019-12-19T08:30:00+08:00"},
            third.id: {"kind": "withdraw", "reason": "太仓市行政审批局来电撤回", "by": "wangyan",
                       "at": "2019-12-19T08:40:00+08:00"}}


def test_the_newest_decision_counts_and_all_are_kept(db_env: Env) -> None:
    settings = report_settings(db_env)
    with db_env.session_factory() as session:
        build_story(session)
        third = _sub(session, 1, "project", "项目丙")
        decide(session, settings, third.id, "withdraw", "来电撤回", CLERK, now=at(19, 8))
        decide(session, settings, third.id, "accept", "经核实未撤回，原则上同意", CLERK, now=at(19, 9))
        session.commit()
        assert _counts(settings, session)[1] == 7
        assert len(session.scalars(select(Decision)).all()) == 2
        assert len(session.scalars(select(AuditEntry)).all()) == 2


@pytest.mark.parametrize(("args", "message"), [
    ((999, "accept", "理由"), "decide: no submission 999; `mailintake export` lists the ids"),
    ((1, "approve", "理由"), "decide: unknown decision 'approve'; use accept (同意受理) or withdraw (撤回)"),
    ((1, "accept", "  "), "decide: give the reason (--reason TEXT); it is kept with the decision"),
])
def test_bad_decisions_are_one_clear_line_and_leave_nothing(env: Env, args: tuple[int, str, str],
                                                          message: str) -> None:
    settings = report_settings(env)
    with env.session_factory() as session:
        build_story(session)
        session.commit()
        with pytest.raises(DecisionError) as err:
            decide(session, settings, *args, CLERK)
        assert str(err.value) == message
        session.rollback()
        assert session.scalars(select(AuditEntry)).all() == []


def test_superseded_submission_is_refused(env: Env) -> None:
    settings = report_settings(env)
    with env.session_factory() as session:
        mails = build_story(session)
        old = mails["m5"].submissions[0]
        with pytest.raises(DecisionError) as err:
            decide(session, settings, old.id, "accept", "理由", CLERK)
        assert str(err.value) == (f"decide: submission {old.id} was superseded by {old.superseded_by}; "
                                  "decide on the current one")


def run(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--config", str(config), *args], env={"MAILINTAKE_CONFIG": None, "USER": "clerk1",
                                                                              "LOGNAME": "clerk1"})
    return result.exit_code, result.stdout, result.stderr


def test_cli_decide_notify_sends_one_mail_and_audit_lists_it(env: Env, smtp_sink: SmtpSink) -> None:
    """GIVEN the story WHEN `decide --accept --notify` THEN the applicant gets one auto-generated mail, and
    `audit` shows the action with the OS user and CLI."""
    config = seeded(env, smtp_port=smtp_sink.port)
    factory = env.session_factory
    with factory() as session:
        third = _sub(session, 1, "project", "项目丙").id
    code, out, err = run(config, "decide", str(third), "--accept", "--reason", "经领导同意，第三个项目原则上受理",
                         "--notify")
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == f"已记录：记录 {third}（太仓市行政审批局）同意受理：经领导同意，第三个项目原则上受理"
    code, out, err = run(config, "decide", str(third), "--reason", "x")
    assert (code, err.splitlines()[-1]) == (2, "Error: add --accept (同意受理) or --withdraw (撤回)")
    code, out, err = run(config, "send")
    assert code == 0, err
    [mail] = [m for m in smtp_sink.wait_for(2) if "tc@example.cn" in m.rcpt_tos]
    parsed = email.message_from_bytes(mail.raw, policy=policy.default)
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Subject"] == "关于“双争双创”活动先进荣誉申报材料的处理意见（同意受理） [申报回执 2019-0007]"
    body = parsed.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "中，表1（太仓市行政审批局，项目：项目丙）经研究同意受理。" in body
    code, out, err = run(config, "audit", "--since", "2000-01-01")
    assert code == 0, err
    [line] = out.splitlines()
    fields = line.split("\t")
    assert fields[1:] == ["clerk1", "CLI", "decision", f"邮件 9；记录 {third}；太仓市行政审批局",
                          "同意受理：经领导同意，第三个项目原则上受理"]
    code, out, err = run(config, "audit", "--since", "2100-01-01")
    assert (code, out, err) == (0, "", "（无操作记录）\n")


def test_a_withdrawn_project_frees_its_place_in_the_unit_quota(imap_server: PymapServer, env: Env) -> None:
    """GIVEN two 表1 projects of a unit, one withdrawn by decision WHEN the unit sends a third THEN it is
    within the limit of two; without the withdrawal a fourth is over it."""
    from mailintake.intake.cycle import poll_once
    from tests.support.helpers import at as cst
    from tests.support.helpers import mail
    from tests.support.servers import append_mail
    from tests.unit.intake.test_pipeline import form1

    settings = env.settings(imap=imap_server)
    factory = env.session_factory
    append_mail(imap_server, mail("a <a@sip.gov.cn>", "表1 两个项目", message_id="<p12@sip>",
                                  attachments={"一.docx": form1("项目一"), "二.docx": form1("项目二")}), cst(16))
    poll_once(settings, factory)
    with factory() as session:
        first = _sub(session, 1, "project", "项目一")
        decide(session, settings, first.id, "withdraw", "单位来电撤回项目一", CLERK)
        session.commit()
    append_mail(imap_server, mail("a <a@sip.gov.cn>", "表1 项目三", message_id="<p3@sip>",
                                  attachments={"三.docx": form1("项目三")}), cst(17))
    append_mail(imap_server, mail("a <a@sip.gov.cn>", "表1 项目四", message_id="<p4@sip>",
                                  attachments={"四.docx": form1("项目四")}), cst(17, 11))
    poll_once(settings, factory)
    with factory() as session:
        flags = {s.fields["project"]: [f["code"] for f in s.flags]
                 for s in session.scalars(select(Submission).order_by(Submission.id))}
    assert flags == {"项目一": [], "项目二": [], "项目三": [], "项目四": ["quota_exceeded"]}
