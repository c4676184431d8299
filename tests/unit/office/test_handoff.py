"""The hand-off: candidate lists per table (decisions counted), the 公示名单 workbook, the 民主测评票 (A4,
one row per candidate; opened and converted to PDF by LibreOffice) and the original Word files."""

from __future__ import annotations

import re
from pathlib import Path

import docx
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailintake.campaign.sources import load_sources
from mailintake.cli import cli
from mailintake.config.settings import Settings
from mailintake.db.audit import Actor
from mailintake.db.models import AttachmentRow, AuditEntry
from mailintake.db.storage import Storage
from mailintake.demo.samples.forms import make_form_docx
from mailintake.office.candidates import TableList
from mailintake.office.decisions import decide
from mailintake.office.handoff import candidate_lists, write_handoff
from tests.support.ballot import ballot_pages
from tests.support.env import Env
from tests.support.report_story import Story, at, build_story, t2

CLERK = Actor("wangyan", "127.0.0.1")
HOSTILE_UNIT = "../../etc/某某/单位"


def settings_for(env: Env) -> Settings:
    return env.load(storage={"dir": str(env.root / "storage")}, smtp={"sender": "office@example.cn"})


def seed(session: Session, settings: Settings) -> dict[int, bytes]:
    """The report story, a unit with a hostile name, and every attachment's bytes in the store."""
    build_story(session)
    Story(session).mail("accepted", at(17, 16), "x@example.cn", forms=[t2(HOSTILE_UNIT)], n=11)
    storage = Storage(settings.path(settings.storage.dir))
    stored: dict[int, bytes] = {}
    for attachment in session.scalars(select(AttachmentRow)):
        data = make_form_docx(2, {"unit": f"附件{attachment.id}"})
        attachment.storage_path = storage.put(data)[1]
        stored[attachment.id] = data
    session.commit()
    return stored


def names(lists: list[TableList]) -> dict[int, list[str]]:
    return {t.table: [f"{c.seq} {c.name} {c.project or c.position}".strip() for c in t.candidates] for t in lists}


def test_candidates_per_table_count_decisions(db_env: Env) -> None:
    """GIVEN the story THEN on-time forms without a blocking flag are candidates, by category then arrival;
    an accepted 项目丙 joins, a withdrawn 不见面审批 leaves."""
    settings = settings_for(db_env)
    sources = load_sources(settings)
    with db_env.session_factory() as session:
        seed(session, settings)
        assert names(candidate_lists(session, settings, sources)) == {
            1: ["1 张家港市行政审批局 一件事一窗办", "2 张家港市行政审批局 不见面审批", "3 太仓市行政审批局 项目甲",
                "4 太仓市行政审批局 项目乙", "5 苏州市行政审批局审批制度改革处 一网通办"],
            2: ["1 张家港市行政审批局", "2 ../../etc/某某/单位"],
            3: ["1 张三 某某街道便民服务站 科员"],
            4: [],
        }
        by_project = {c.project: c.submission_id for c in candidate_lists(session, settings, sources)[0].candidates}
        third = next(s.id for s in session.get(AttachmentRow, 9).submissions  # type: ignore[union-attr]
                     if s.fields["project"] == "项目丙")
        decide(session, settings, third, "accept", "领导原则同意", CLERK)
        decide(session, settings, by_project["不见面审批"], "withdraw", "单位撤回", CLERK)
        session.commit()
        assert names(candidate_lists(session, settings, sources))[1] == [
            "1 张家港市行政审批局 一件事一窗办", "2 太仓市行政审批局 项目甲", "3 太仓市行政审批局 项目乙",
            "4 太仓市行政审批局 项目丙", "5 苏州市行政审批局审批制度改革处 一网通办"]


def test_handoff_files(tmp_path: Path, env: Env, request: pytest.FixtureRequest) -> None:
    """`mailintake handoff --out DIR` writes the workbook, the ballot and one folder of originals per table,
    with sanitised names and the stored bytes; the ballot converts to PDF in LibreOffice."""
    url = env.url
    settings = settings_for(env)
    with env.session_factory() as session:
        stored = seed(session, settings)
    config = tmp_path / "config" / "mailintake.toml"
    config.parent.mkdir()
    config.write_text(f'[database]\nurl = "{url}"\n[storage]\ndir = "{tmp_path / "storage"}"\n'
                      '[smtp]\nsender = "office@example.cn"\n', "utf-8")
    out = tmp_path / "handoff"
    result = CliRunner().invoke(cli, ["--config", str(config), "handoff", "--out", str(out)],
                                env={"MAILINTAKE_CONFIG": None})
    assert (result.exit_code, result.stderr) == (0, "")
    written = [Path(line).relative_to(out).as_posix() for line in result.stdout.splitlines()]
    assert written == [
        "公示名单.xlsx", "民主测评票.docx",
        "申报原件/表1改革创新标兵单位/01_张家港市行政审批局_一件事一窗办.docx",
        "申报原件/表1改革创新标兵单位/02_张家港市行政审批局_不见面审批.docx",
        "申报原件/表1改革创新标兵单位/03_太仓市行政审批局_项目甲.docx",
        "申报原件/表1改革创新标兵单位/04_太仓市行政审批局_项目乙.docx",
        "申报原件/表1改革创新标兵单位/05_苏州市行政审批局审批制度改革处_一网通办.docx",
        "申报原件/表2为民服务工作先进集体/01_张家港市行政审批局.docx",
        "申报原件/表2为民服务工作先进集体/02_etc_某某_单位.docx",
        "申报原件/表3窗口服务明星/01_某某街道便民服务站_张三.docx",
    ]
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == sorted(Path(w).name for w in written)
    assert (out / written[2]).read_bytes() == stored[1]
    assert (out / written[-1]).read_bytes() == stored[5]  # 张三's mail, m4

    wb = load_workbook(out / "公示名单.xlsx")
    assert wb.sheetnames == ["表1 改革创新标兵单位", "表2 为民服务工作先进集体", "表3 窗口服务明星", "表4 先进工作者"]
    rows = list(wb["表1 改革创新标兵单位"].iter_rows(min_row=2, values_only=True))
    assert rows[0] == ("序号", "单位或姓名", "所在单位及职务", "项目名称")
    assert rows[1] == (1, "张家港市行政审批局", None, "一件事一窗办")
    assert list(wb["表3 窗口服务明星"].iter_rows(min_row=2, values_only=True)) == [
        ("序号", "单位或姓名", "所在单位及职务"), (1, "张三", "某某街道便民服务站 科员")]

    ballot = docx.Document(str(out / "民主测评票.docx"))
    section = ballot.sections[0]
    width, height = section.page_width, section.page_height
    assert width is not None and height is not None
    assert (round(width.mm), round(height.mm)) == (210, 297)  # A4
    grids = ballot.tables
    assert [[c.text for c in g.rows[0].cells] for g in grids] == [["序号", "候选对象", "同意", "不同意", "弃权"]] * 4
    assert [len(g.rows) - 1 for g in grids] == [5, 2, 1, 0]
    assert [[r.cells[1].text for r in g.rows[1:]] for g in grids][2] == ["张三（某某街道便民服务站 科员）"]
    assert grids[0].rows[1].cells[1].text == "张家港市行政审批局（一件事一窗办）"
    text = "\n".join(p.text for p in ballot.paragraphs)
    assert "签名" not in text and "姓名" not in text  # 无记名: the evaluator ticks a category, never signs
    assert [p.text for p in ballot.paragraphs if p.text.startswith(("测评人", "□"))] == [
        "测评人类别（请在相应方框内划“√”）：", "□局领导　　□处室负责人　　□窗口负责人　　□第三方"] * 4
    wb_title = load_workbook(out / "公示名单.xlsx")["表1 改革创新标兵单位"]["A1"].value
    assert wb_title == "“双争双创”活动先进荣誉改革创新标兵单位候选对象名单（共5个）"

    office = request.getfixturevalue("office")  # skips here when LibreOffice is not installed
    pdf = office((out / "民主测评票.docx").read_bytes(), "docx", "pdf")
    assert pdf.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 4  # one page per table
    (tmp_path / "民主测评票.pdf").write_bytes(pdf)
    assert ballot_pages(tmp_path / "民主测评票.pdf") == [["□局领导", "□处室负责人", "□窗口负责人", "□第三方"]] * 4


def test_handoff_writes_nothing_to_the_audit(tmp_path: Path, env: Env) -> None:
    settings = settings_for(env)
    with env.session_factory() as session:
        seed(session, settings)
        write_handoff(session, settings, load_sources(settings), tmp_path / "out")
        assert session.scalars(select(AuditEntry)).all() == []
