"""`mailintake demo` — the README's first command — run as a user runs it, as a subprocess."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from mailintake.commands.demo import render
from mailintake.demo.session import MARKER, REPORT_RECIPIENT, DemoResult, prepare_directory
from mailintake.errors import MailintakeError
from parsers.convert import resolve_soffice

PROJECT = Path(__file__).resolve().parents[3]
HAS_SOFFICE = resolve_soffice("auto") is not None

#: (sender, status, reply kind, tables of the forms, flag codes of the forms) in arrival order
EXPECTED = [
    ("lijing_wz@qq.com", "accepted", "receipt", [1], [[]]),
    ("wzbmzx@szwz.gov.cn", "accepted", "receipt", [2], [[]]),
    ("zwfwc_sz@163.com", "accepted", "receipt", [3], [[]]),
    ("ksxzspj@ks.gov.cn", "accepted", "receipt", [4], [[]]),
    ("csbmfw@qq.com", "needs_correction", "correction", [2], [["incomplete"]]),
    ("zjgspj@zjg.gov.cn", "needs_correction", "correction", [1], [["overlong"]]),
    ("szggzy@szggzy.gov.cn", "accepted", "receipt", [3, 4], [[], []]),
    *([("xcspj@163.com", "accepted", "receipt", [2], [[]])] if HAS_SOFFICE else []),
    ("tcspj@qq.com", "ignored", None, [], []),
    ("szzspj@163.com", "no_form", "no_form", [], []),
    ("tcspj_wq@qq.com", "late", "late", [1], [["late"]]),
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("demo") / "var-demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILINTAKE_")}
    done = subprocess.run([sys.executable, "-m", "mailintake", "demo", "--json", "--dir", str(directory)],
                          cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summary: dict[str, Any] = json.loads(done.stdout)
    summary["_stderr"] = done.stderr
    return summary


def test_every_mail_gets_the_status_the_notice_gives_it(demo: dict[str, Any]) -> None:
    """GIVEN the sample mailbox WHEN the demo runs the worker's cycle THEN each mail has its expected outcome."""
    got = [(m["from"], m["status"], m["reply"], [f["table"] for f in m["forms"]], [f["flags"] for f in m["forms"]])
           for m in demo["mails"]]
    assert got == EXPECTED
    assert demo["counts"] == ({"accepted": 6, "ignored": 1, "late": 1, "needs_correction": 2, "no_form": 1}
                              if HAS_SOFFICE else
                              {"accepted": 5, "ignored": 1, "late": 1, "needs_correction": 2, "no_form": 1})
    assert demo["libreoffice"] is HAS_SOFFICE
    assert demo["errors"] == []
    assert demo["poll"]["fetched"] == len(EXPECTED)
    assert demo["poll"]["duplicates"] == 0
    zipped = next(m for m in demo["mails"] if m["from"] == "szggzy@szggzy.gov.cn")
    assert [f["attachment"] for f in zipped["forms"]] == [
        "双争双创申报材料.zip/双争双创申报材料/表3 窗口服务明星申报表（刘芳）.docx",
        "双争双创申报材料.zip/双争双创申报材料/表4 先进工作者申报表（赵磊）.docx",
    ]


def test_each_answered_mail_gets_one_reply_and_the_office_the_report(demo: dict[str, Any]) -> None:
    answered = [m for m in demo["mails"] if m["reply"]]
    replies = demo["replies"]
    assert [r["to"] for r in replies] == [[m["from"]] for m in answered] + [[REPORT_RECIPIENT]]
    for number, (mail, reply) in enumerate(zip(answered, replies, strict=False), start=1):
        assert mail["receipt_no"] == f"2019-{number:04d}"
        assert reply["subject"] == f"Re: {mail['subject']} [申报回执 2019-{number:04d}]"
        assert reply["auto_submitted"] == "auto-replied"
        assert reply["first_lines"], reply
    late = replies[len(answered) - 1]
    assert any("逾期未反馈视作不申报" in line for line in late["first_lines"])
    report_mail = replies[-1]
    assert report_mail["attachments"] == ["双争双创申报汇总表-2019-12-19.xlsx"]


def test_report_files_exist_and_count_the_forms(demo: dict[str, Any]) -> None:
    html, xlsx = Path(demo["report"]["html"]), Path(demo["report"]["xlsx"])
    assert html.is_file() and xlsx.is_file()
    assert html.parent == Path(demo["directory"]) / "reports"
    summary = demo["report"]["summary"]
    forms = 10 if HAS_SOFFICE else 9
    assert (summary["mails_total"], summary["forms_total"]) == (len(EXPECTED), forms)
    assert (summary["late"], summary["overlong"], summary["incomplete"]) == (1, 1, 1)


def test_demo_is_self_contained(demo: dict[str, Any]) -> None:
    """Everything the demo writes stays in its directory (its speed is a benchmark figure, not a test:
    under CI load the same run took 31–56 s)."""
    assert demo["duration"] > 0
    directory = Path(demo["directory"])
    assert (directory / MARKER).is_file()
    assert Path(demo["config"]) == directory / "mailintake.toml"
    assert (directory / "mailintake.db").is_file()
    assert "Traceback" not in demo["_stderr"]


def test_tables_render_every_mail_and_reply(demo: dict[str, Any]) -> None:
    result = DemoResult(directory=Path(demo["directory"]), config_path=Path(demo["config"]), samples=[],
                        mails=demo["mails"], replies=demo["replies"], report_html=Path(demo["report"]["html"]),
                        report_xlsx=Path(demo["report"]["xlsx"]), duration=demo["duration"],
                        libreoffice=demo["libreoffice"])
    out = io.StringIO()
    render(result, Console(file=out, width=200, color_system=None))
    text = out.getvalue()
    assert text.count("│ needs_correction │") == 2
    assert text.count("│ accepted         │") == demo["counts"]["accepted"]
    counts = ", ".join(f"{k} {v}" for k, v in demo["counts"].items())
    assert f"{len(demo['mails'])} mails ({counts})" in text
    assert "[incomplete]" in text and "[overlong]" in text
    assert text.count("  → ") == len(demo["replies"])
    assert f"HTML:  {demo['report']['html']}" in text
    assert f"Excel: {demo['report']['xlsx']}" in text


def test_demo_starts_the_console_with_a_demo_account_and_stops_it(demo: dict[str, Any]) -> None:
    import re
    import socket

    from mailintake.demo.console import DEMO_LOGIN, DEMO_WEB_PASSWORD

    console = demo["console"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", console["url"])
    assert (console["login"], console["password"]) == (DEMO_LOGIN, DEMO_WEB_PASSWORD)
    with socket.socket() as sock:  # the demo has ended: nothing is left listening
        assert sock.connect_ex(("127.0.0.1", int(console["url"].rsplit(":", 1)[1]))) != 0
    html = Path(demo["report"]["html"]).read_text("utf-8")
    late = next(m for m in demo["mails"] if m["status"] == "late")
    assert f'<a href="{console["url"]}/mails/{late["id"]}">{late["subject"]}</a>' in html
    assert f'<a href="{console["url"]}/units/%E8%8B%8F%E5%B7%9E' in html


def test_demo_refuses_to_wipe_a_directory_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me", "utf-8")
    with pytest.raises(MailintakeError, match="is not empty and was not made by the demo"):
        prepare_directory(tmp_path)
    assert (tmp_path / "precious.txt").read_text("utf-8") == "keep me"
    demo_dir = tmp_path / "demo"
    prepare_directory(demo_dir)
    (demo_dir / "old.db").write_text("x", "utf-8")
    prepare_directory(demo_dir)  # its own directory is emptied for a fresh run
    assert sorted(p.name for p in demo_dir.iterdir()) == [MARKER]


def test_keep_running_answers_mail_a_client_drops_in(tmp_path: Path) -> None:
    """GIVEN `mailintake demo --keep-running` WHEN a mail client appends a mail to the printed IMAP server
    THEN the running worker answers it (IDLE) and Ctrl-C stops everything cleanly."""
    import re
    import signal
    import threading
    import time

    from mailintake.demo.samples.mails import MessageBuilder
    from mailintake.demo.session import DEMO_PASSWORD, OFFICE
    from tests.support.servers import ImapServer, append_mail

    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILINTAKE_")} | {"COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "mailintake", "demo", "--no-doc", "--keep-running",
                             "--dir", str(tmp_path / "demo")], cwd=PROJECT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        lines.extend(line.rstrip("\n") for line in proc.stdout)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def wait_for(pattern: str, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(lines):
                if match := re.search(pattern, line):
                    return match
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} not in {lines}")

    try:
        port = int(wait_for(r"IMAP +host 127\.0\.0\.1 +port (\d+)").group(1))
        wait_for(rf"user {re.escape(OFFICE)} +password {DEMO_PASSWORD}")
        time.sleep(1.0)  # let the worker open its IDLE
        server = ImapServer("127.0.0.1", port, {OFFICE: DEMO_PASSWORD})
        append_mail(server, MessageBuilder("163").sender("测试", "tester@163.com").subject("演示：新来的问题")
                    .text("请问截止时间是哪天？").build())
        # (the worker also mails the office the 截止报告 once on start: the sample's deadline has passed)
        got = wait_for(r"SMTP sink got: → (tester@163\.com)  (.*)$", timeout=30)
        assert got.group(2).startswith("Re: 演示：新来的问题 [申报回执 2019-")
        console = wait_for(r"Console  (http://127\.0\.0\.1:\d+)  login (\S+)  password (\S+)$")
        _log_in_to_the_console(*console.groups())
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(30)
    assert code == 0


def test_demo_previews_reminders_and_writes_the_handoff(demo: dict[str, Any]) -> None:
    """The 催报 preview of the deadline's afternoon (nothing sent) and the hand-off files from the sample."""
    mailed = [(r["label"], r["unit"], r["to"]) for r in demo["reminders"] if r["to"]]
    assert mailed == [("纸质材料未收到", "苏州市吴中区行政审批局", "lijing_wz@qq.com"),
                      ("材料待更正", "常熟市便民服务中心", "csbmfw@qq.com"),
                      ("纸质材料未收到", "苏州市吴中区便民服务中心", "wzbmzx@szwz.gov.cn")]
    by_phone = [r for r in demo["reminders"] if not r["to"]]
    assert {r["kind"] for r in by_phone} == {"not_applied"}
    assert {r["no_mail_reason"] for r in by_phone} == {"名录未登记邮箱"}
    assert len(by_phone) == 28
    assert all("催报" not in r["subject"] for r in demo["replies"])
    handoff = [Path(p) for p in demo["handoff"]]
    assert [p.name for p in handoff[:2]] == ["公示名单.xlsx", "民主测评票.docx"]
    assert all(p.is_file() and p.is_relative_to(Path(demo["directory"]) / "handoff") for p in handoff)
    accepted_forms = 7 if HAS_SOFFICE else 6  # the accepted mails' forms: the candidates
    assert len(handoff) == 2 + accepted_forms


def _log_in_to_the_console(url: str, login: str, password: str) -> None:
    import re

    import httpx

    with httpx.Client(base_url=url, timeout=10) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        page = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        response = client.post("/login", data={"username": login, "password": password,
                                               "csrf_token": token.group(1)})
        assert response.status_code == 303
        overview = client.get("/")
        assert overview.status_code == 200 and "<h1>总览</h1>" in overview.text
