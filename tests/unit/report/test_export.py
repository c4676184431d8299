"""``mailintake export``: the JSON shape of issue 3, CSV and Excel, from real SQLite rows."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from mailintake.report.export import export_csv, export_json, export_xlsx
from parsers.definitions import load_definitions
from tests.support.env import Env
from tests.support.report_story import (
    FORMULA,
    INCOMPLETE_T4,
    LATE,
    SCRIPT,
    Story,
    at,
    build_story,
    report_settings,
    run,
    seeded,
    t2,
)


def exported(db_env: Env) -> dict[str, Any]:
    with db_env.session_factory() as session:
        build_story(session)
        session.commit()
        return export_json(session)


def test_json_shape_exact(db_env: Env) -> None:
    """The export JSON, exactly, on SQLite and on PostgreSQL."""
    data = exported(db_env)
    assert list(data) == ["messages", "submissions", "reminders", "paper_copies"]
    assert data["reminders"] == []
    assert data["paper_copies"] == [{"unit": "张家港市行政审批局", "received_on": "2019-12-18", "note": ""}]
    order = [1, 2, 5, 4, 6, 7, 8, 9, 10, 3]  # by received time
    assert [m["message_id"] for m in data["messages"]] == [f"<m{n}@example.cn>" for n in order]
    first = data["messages"][0]
    assert first == {
        "message_id": "<m1@example.cn>",
        "from": "zjg@example.cn",
        "from_name": "张家港审批局",
        "subject": "申报材料",
        "received_at": "2019-12-16T10:12:05+08:00",
        "status": "accepted",
        "attachments": [{"filename": "申报表1.docx", "sha256": "0" * 63 + "1", "size": 20001}],
        "flags": [],
        "replies": [{"kind": "receipt", "to": ["zjg@example.cn"], "sent_at": "2019-12-16T10:14:00+08:00"}],
    }
    by_id = {m["message_id"]: m for m in data["messages"]}
    assert by_id["<m2@example.cn>"]["replies"] == [{"kind": "correction", "to": ["ks@example.cn"], "sent_at": None}]
    assert by_id["<m3@example.cn>"]["flags"] == [{"code": "late", "message": LATE["message"]}]
    assert by_id["<m3@example.cn>"]["received_at"] == "2019-12-18T19:05:00+08:00"
    assert by_id["<m8@example.cn>"]["replies"] == []
    assert [m["received_at"] for m in data["messages"]] == sorted(m["received_at"] for m in data["messages"])

    subs = data["submissions"]
    assert [s["id"] for s in subs] == list(range(1, 13))
    assert all(list(s) == ["id", "message_id", "attachment", "table", "fields", "word_count", "flags", "current",
                           "decision"]
               for s in subs)
    t4 = next(s for s in subs if s["table"] == 4)
    assert t4 == {
        "id": t4["id"],
        "message_id": "<m4@example.cn>",
        "attachment": "申报表4.docx",
        "table": 4,
        "fields": {"date": "2019年12月17日", "name": "李四", "unit_and_title": "市公安局窗口 科员",
                   "deeds": "服务热情。", "recommender": "市公安局窗口"},
        "word_count": 500,
        "flags": [{"code": "incomplete", "field": "unit_and_title", "message": INCOMPLETE_T4["message"]}],
        "current": True,
        "decision": None,
    }
    assert [s["current"] for s in subs].count(False) == 1
    assert next(s for s in subs if not s["current"])["message_id"] == "<m5@example.cn>"
    json.dumps(data, ensure_ascii=False)  # serialisable as is


def test_csv_one_row_per_submission_and_formula_guard(db_env: Env) -> None:
    with db_env.session_factory() as session:
        build_story(session)
        session.commit()
        buffer = io.StringIO()
        assert export_csv(session, buffer, load_definitions()) == 12
    table = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert len(table) == 12
    assert list(table[0])[:10] == ["id", "table", "current", "word_count", "flags", "message_id", "from",
                                   "received_at", "status", "attachment"]
    zhang = next(r for r in table if r["name"] == "张三")
    assert zhang["deeds"] == f"事迹{SCRIPT}\n{FORMULA}"  # starts with 事迹: not a formula, kept as is
    assert zhang["recommender"] == "某某街道便民服务站"
    assert zhang["received_at"] == "2019-12-17T09:00:00+08:00"
    late = next(r for r in table if r["message_id"] == "<m3@example.cn>")
    assert late["flags"] == f"late: {LATE['message']}"
    assert list(table[0])[-1] == "paper_received_on"
    assert {r["unit"]: r["paper_received_on"] for r in table if r["table"] == "1"}["张家港市行政审批局"] == "2019-12-18"
    assert late["current"] == "yes"


def test_csv_neutralises_formulas(env: Env) -> None:
    with env.session_factory() as session:
        Story(session).mail("accepted", at(16, 9), "a@example.cn", forms=[t2(FORMULA)])
        session.commit()
        buffer = io.StringIO()
        export_csv(session, buffer, load_definitions())
    [row] = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert row["unit"] == "'" + FORMULA


def test_xlsx_export(tmp_path: Path, env: Env) -> None:
    settings = report_settings(env)
    with env.session_factory() as session:
        build_story(session)
        session.commit()
        path = export_xlsx(session, tmp_path / "out.xlsx", settings=settings)
    wb = load_workbook(path)
    assert wb.sheetnames == ["汇总", "表1 改革创新标兵单位", "表2 为民服务工作先进集体", "表3 窗口服务明星",
                             "表4 先进工作者", "需人工处理", "纸质材料", "邮件", "技术信息"]
    assert [r[1:5] for r in wb["纸质材料"].iter_rows(min_row=2, max_row=2, values_only=True)] == [
        ("张家港市行政审批局", "市、区审批局", "已收到", "2019-12-18")]
    assert wb["表1 改革创新标兵单位"].max_row == 1 + 7
    assert wb["邮件"].max_row == 1 + 10


def test_export_command_json_stdout_and_files(tmp_path: Path, env: Env) -> None:
    config = seeded(env)
    code, out, err = run(config, "export")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert len(data["messages"]) == 10 and len(data["submissions"]) == 12
    assert data["messages"][0]["received_at"] == "2019-12-16T10:12:05+08:00"

    code, _, err = run(config, "export", "--format", "csv", "--out", str(tmp_path / "x.csv"))
    assert (code, err) == (0, f"{tmp_path / 'x.csv'}\n")
    raw = (tmp_path / "x.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfid,table,")
    assert len(list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))) == 12

    code, out, _ = run(config, "export", "--format", "xlsx", "--out", str(tmp_path / "x.xlsx"))
    assert (code, out) == (0, f"{tmp_path / 'x.xlsx'}\n")
    assert load_workbook(tmp_path / "x.xlsx")["表4 先进工作者"].max_row == 2

    code, _, err = run(config, "export", "--format", "xlsx")
    assert code == 2 and "--format xlsx needs --out FILE" in err
