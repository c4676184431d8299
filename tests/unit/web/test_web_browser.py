"""The console in a real browser: Debian's chromium driven by Playwright, against uvicorn on loopback,
over a database filled by a real poll of pymap. Skips only when /usr/bin/chromium is missing.

Screenshots of every page go to $MAILINTAKE_SCREENSHOTS (default: a pytest temporary directory).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mailintake.db.models import AttachmentRow, Message
from mailintake.web.app import create_app
from mailintake.web.server import RunningConsole, start_in_thread
from tests.support.web_support import CLERK, HOSTILE_FROM, HOSTILE_SUBJECT, PASSWORD, Filled, fill

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
UNIT = "苏州市吴中区行政审批局"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Filled:
    return fill(tmp_path_factory.mktemp("browser") / "demo")


@pytest.fixture(scope="module")
def server(filled: Filled) -> Iterator[RunningConsole]:
    running = start_in_thread(create_app(filled.settings, filled.factory))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("MAILINTAKE_SCREENSHOTS")
    directory = Path(configured) if configured else tmp_path_factory.mktemp("screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, server: RunningConsole) -> Iterator[Any]:
    context = browser.new_context(base_url=server.url, viewport={"width": 1366, "height": 768},
                                  accept_downloads=True, locale="zh-CN")
    tab = context.new_page()
    tab.dialogs = []
    tab.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    try:
        yield tab
    finally:
        context.close()


def log_in(page: Any, user: str = CLERK) -> None:
    page.goto("/")
    assert page.url.endswith("/login?next=%2F")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('登录')")
    page.wait_for_url(re.compile(r"/$"))


def fits(page: Any) -> bool:
    """Nothing wider than the 1366-pixel office screen."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_log_in_search_open_a_mail_and_download_an_attachment(page: Any, filled: Filled, shots: Path) -> None:
    page.goto("/")
    page.screenshot(path=str(shots / "login.png"))
    log_in(page)
    assert page.inner_text("h1") == "总览"
    assert "已截止" in page.inner_text("main")
    page.screenshot(path=str(shots / "overview.png"), full_page=True)
    page.click("nav >> text=邮件")
    page.fill("input[name=q]", "刘芳")
    page.click("button:has-text('查询')")
    rows = page.locator("main table tbody tr")
    assert rows.count() == 1
    assert "转发：交易中心双争双创申报材料" in rows.first.inner_text()
    page.screenshot(path=str(shots / "mails-search.png"))
    page.click("text=转发：交易中心双争双创申报材料")
    page.wait_for_url(re.compile(r"/mails/\d+$"))
    assert page.inner_text("h1") == "转发：交易中心双争双创申报材料"
    assert fits(page)
    page.screenshot(path=str(shots / "mail.png"), full_page=True)
    name = "表3 窗口服务明星申报表（刘芳）.docx"
    with page.expect_download() as info:
        page.click(f"a:has-text('{name}')")
    download = info.value
    assert download.suggested_filename == name
    data = Path(download.path()).read_bytes()
    with filled.factory() as session:
        expected = session.scalars(select(AttachmentRow.sha256).where(AttachmentRow.path.endswith(name))).one()
    assert hashlib.sha256(data).hexdigest() == expected
    assert page.dialogs == []


def test_paper_copies_button_changes_the_next_report(page: Any, filled: Filled, shots: Path) -> None:
    from mailintake.report.build import build_report

    def report_paper_sections() -> tuple[str, str]:
        """The report's 纸质材料 section: the part listing the missing copies, and the received register."""
        with filled.factory() as session, session.begin():
            files = build_report(filled.settings, session, out_dir=filled.directory / "reports-browser")
        html = files.html_path.read_text("utf-8")
        section = html.split('<section id="paper-missing">')[1].split("</section>")[0]
        missing, received = section.split('<h3 id="paper-received">')
        return missing, received

    def report_paper_section() -> str:
        return report_paper_sections()[0]

    before = report_paper_section()
    assert UNIT in before
    log_in(page)
    page.click("nav >> text=单位")
    assert fits(page)
    page.screenshot(path=str(shots / "units.png"), full_page=True)
    page.click(f"main table >> text={UNIT}")
    assert page.inner_text("h1") == UNIT
    assert page.inner_text("#paper-state") == "未收到"
    page.click("button:text-is('纸质材料已收到')")
    assert "纸质材料于" in page.inner_text(".flash.ok")
    assert page.inner_text("#paper-state").endswith("已收到")
    page.screenshot(path=str(shots / "unit.png"), full_page=True)
    after, received = report_paper_sections()
    assert UNIT not in after
    assert UNIT in received
    count = re.compile(r"尚未收到（共 (\d+) 家）")
    first, second = count.search(before), count.search(after)
    assert first is not None and second is not None
    assert int(second.group(1)) == int(first.group(1)) - 1
    page.click("button:has-text('撤销纸质材料登记')")
    assert page.inner_text("#paper-state") == "未收到"
    assert UNIT in report_paper_section()


def test_applicant_markup_raises_no_dialog(page: Any, filled: Filled, shots: Path) -> None:
    log_in(page)
    with filled.factory() as session:
        pk = session.scalar(select(Message.id).where(Message.from_addr == HOSTILE_FROM))
    page.goto(f"/mails/{pk}")
    assert page.inner_text("h1") == HOSTILE_SUBJECT
    assert '<script>alert("name")</script>' in page.inner_text("main")
    page.screenshot(path=str(shots / "mail-hostile.png"), full_page=True)
    for path in ("/mails", "/submissions?table=3", "/units", "/audit"):
        page.goto(path)
        page.wait_for_load_state("load")
    page.wait_for_timeout(300)
    assert page.dialogs == []


def test_every_page_fits_the_screen_and_prints(page: Any, shots: Path) -> None:
    log_in(page)
    for name, path in [("submissions", "/submissions?table=1"), ("reports", "/reports"), ("audit", "/audit"),
                       ("mails", "/mails")]:
        page.goto(path)
        assert fits(page), path
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    page.goto("/")
    page.emulate_media(media="print")
    assert not page.locator("header.top nav").is_visible()
    assert page.locator("main h1").is_visible()
    page.screenshot(path=str(shots / "overview-print.png"), full_page=True)


def test_reminders_decisions_and_hand_off(page: Any, filled: Filled, shots: Path) -> None:
    """A clerk previews and sends the 催报, accepts a flagged form on its mail page, and downloads the
    公示名单 from the hand-off page, which then lists the accepted unit."""
    log_in(page)
    page.click("nav >> text=催报")
    assert page.inner_text("h1") == "催报"
    shown = page.locator("main table").first.locator("tbody tr").count()
    assert shown == 7
    assert fits(page)
    page.screenshot(path=str(shots / "reminders.png"), full_page=True)
    page.click("button:text-is('发送催报')")
    assert page.inner_text(".flash.ok") == "已将 7 封催报邮件放入发件队列，后台服务将尽快发送。"
    assert page.locator("button:text-is('发送催报')").count() == 0
    with filled.factory() as session:
        mail = session.scalar(select(Message.id).where(Message.from_addr == "zjgspj@zjg.gov.cn"))
    page.goto(f"/mails/{mail}")
    form = page.locator("form.decide").first
    form.locator("input[name=reason]").fill("经局领导同意，字数超出部分不影响受理")
    form.locator("button:text-is('同意受理')").click()
    assert "同意受理" in page.inner_text(".flash.ok")
    assert "经局领导同意" in page.inner_text(".decision-line")
    page.screenshot(path=str(shots / "mail-decision.png"), full_page=True)
    page.click("nav >> text=名单移交")
    assert page.inner_text("h1") == "名单移交（公示与民主测评）"
    assert "张家港市行政审批局" in page.inner_text("main")
    assert fits(page)
    page.screenshot(path=str(shots / "handoff.png"), full_page=True)
    with page.expect_download() as info:
        page.click("a:has-text('下载公示名单.xlsx')")
    assert info.value.suggested_filename == "公示名单.xlsx"
    assert Path(info.value.path()).read_bytes().startswith(b"PK")
    assert page.dialogs == []
