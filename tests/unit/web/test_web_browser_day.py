"""The clerk's day in a real browser (Debian's chromium driven by Playwright, uvicorn on loopback, a
database filled by a real poll of pymap): find a unit by its abbreviation and a mail by its receipt
number; read a question and answer it (the SMTP sink gets one threaded answer); send 催报 to all but one
row; record paper copies for three units on one date and undo one; download the hand-off zip and check
the originals by SHA-256; print the hand-off list and the mails list to PDF and check with poppler that
no two words overlap and no column is one character wide; screenshots of every page at 1366×768 and
1280×800 (to $MAILINTAKE_SCREENSHOTS, default a pytest temporary directory)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mailintake.db.models import AttachmentRow, Message, OutboxItem, PaperCopy, Submission
from mailintake.demo.servers.smtp_sink import start_smtp_sink
from mailintake.outbox.sender import deliver_due
from mailintake.web.server import RunningConsole
from tests.support.web_support import Filled, fill
from tests.unit.web.test_web_browser import ARGS, CHROMIUM, fits, log_in, server, shots  # noqa: F401 (fixtures)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is not installed (apt-get install chromium)")
WZ = "苏州市吴中区行政审批局"
QUESTION = "请问表1可以申报几个项目？"
SIZES = ((1366, 768), (1280, 800))


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Filled:
    return fill(tmp_path_factory.mktemp("day") / "demo")


@pytest.fixture(scope="module")
def page(server: RunningConsole) -> Iterator[Any]:  # noqa: F811
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            context = chromium.new_context(base_url=server.url, viewport={"width": 1366, "height": 768},
                                           accept_downloads=True, locale="zh-CN")
            tab: Any = context.new_page()
            tab.dialogs = []
            tab.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
            log_in(tab)
            yield tab
            context.close()
        finally:
            chromium.close()


def search(page: Any, text: str) -> None:
    page.fill("header form.search input[name=q]", text)
    page.click("header form.search button")
    page.wait_for_url(re.compile(r"/search\?q="))


def test_1_find_a_unit_by_abbreviation_and_a_mail_by_receipt_number(page: Any, filled: Filled) -> None:
    search(page, "吴中审批局")
    assert page.inner_text("#units") == "单位（1）"
    page.click(f"main ul.hits >> text={WZ}")
    assert page.inner_text("h1") == WZ
    with filled.factory() as session:
        receipt = session.scalars(select(Message.receipt_no).where(Message.subject == QUESTION)).one()
    assert receipt is not None
    search(page, receipt.split("-")[1])  # as said on the phone: 0008
    assert page.inner_text("#mails") == "邮件（1）"
    page.click(f"main table >> text={receipt}")
    assert page.inner_text("h1") == QUESTION


def test_2_read_a_question_and_answer_it(page: Any, filled: Filled, shots: Path) -> None:  # noqa: F811
    assert "请问我镇审批局表1最多可以申报几个项目？纸质材料需要几份？谢谢！" in page.inner_text("#body")
    page.click("p.saved >> text=每个单位可申报几项")
    assert "原则上每家申报不超过2个项目" in page.input_value("textarea[name=body]")
    page.fill("textarea[name=body]", "您好！表1原则上每家申报不超过2个项目；纸质材料一式两份。")
    page.screenshot(path=str(shots / "step-answer.png"))
    page.click("button:text-is('发送答复')")
    assert "答复已放入发件队列（szzspj@163.com）" in page.inner_text(".flash.ok")
    assert page.inner_text("#handled").startswith("已答复（")
    with filled.factory() as session:
        question = session.scalars(select(Message).where(Message.subject == QUESTION)).one()
    sink = start_smtp_sink()
    try:
        settings = filled.settings.model_copy(update={"smtp": filled.settings.smtp.model_copy(
            update={"host": sink.host, "port": sink.port, "security": "none", "username": "", "password": ""})})
        deliver_due(settings, filled.factory)
        answers = [m for m in sink.messages if m.rcpt_tos == ("szzspj@163.com",)]
    finally:
        sink.stop()
    threaded = [email.message_from_bytes(m.raw, policy=email.policy.default) for m in answers]
    threaded = [m for m in threaded if m["In-Reply-To"] == question.message_id and str(m["Subject"]).startswith("Re:")]
    assert len(threaded) == 1
    assert threaded[0]["References"] == question.message_id


def test_3_reminders_to_all_but_one_row(page: Any, filled: Filled, shots: Path) -> None:  # noqa: F811
    page.goto("/reminders")
    boxes = page.locator("form#remind input[name=key]")
    total = boxes.count()
    assert total >= 3 and all(boxes.nth(i).is_checked() for i in range(total))
    left_out = boxes.nth(1).get_attribute("value")
    boxes.nth(1).uncheck()
    page.screenshot(path=str(shots / "step-reminders.png"))
    with filled.factory() as session:
        before = len(session.scalars(select(OutboxItem).where(OutboxItem.kind == "reminder")).all())
    page.click("button:text-is('发送催报…')")
    assert f"将向以下 {total - 1} 个单位发送催报邮件" in page.inner_text("p.confirm")
    page.click(f"button:text-is('确认发送 {total - 1} 封催报')")
    assert page.inner_text(".flash.ok") == f"已将 {total - 1} 封催报邮件放入发件队列，后台服务将尽快发送。"
    with filled.factory() as session:
        after = session.scalars(select(OutboxItem).where(OutboxItem.kind == "reminder")).all()
    assert len(after) == before + total - 1
    assert left_out is not None and page.locator(f"input[value='{left_out}']").count() == 1  # still due


def test_4_paper_copies_for_three_units_on_one_date_and_undo_one(page: Any, filled: Filled,
                                                                 shots: Path) -> None:  # noqa: F811
    page.goto("/units?paper=missing")
    boxes = page.locator("form#bulk-paper input[name=unit]")
    chosen = [boxes.nth(i).get_attribute("value") for i in range(3)]
    for i in range(3):
        boxes.nth(i).check()
    day = dt.date(2019, 12, 18)
    page.fill("input[name=day]", day.isoformat())
    page.screenshot(path=str(shots / "step-paper.png"))
    page.click("button:has-text('登记所选单位纸质材料已收到')")
    assert page.inner_text("p.confirm") == f"将登记以下 3 个单位的纸质材料于 {day.isoformat()} 收到："
    page.screenshot(path=str(shots / "step-paper-confirm.png"))
    page.click("button:text-is('确认登记 3 个单位')")
    assert f"已登记 3 个单位纸质材料于 {day.isoformat()} 收到" in page.inner_text(".flash.ok")
    with filled.factory() as session:
        rows = {p.unit: p.received_on for p in session.scalars(select(PaperCopy))}
    assert {u: rows.get(u) for u in chosen} == dict.fromkeys(chosen, day)
    page.click(f"main table >> text={chosen[0]}")
    assert page.inner_text("#paper-state") == f"{day.isoformat()} 已收到"
    page.click("button:text-is('撤销纸质材料登记')")
    assert page.inner_text("#paper-state") == "未收到"
    with filled.factory() as session:
        left = {p.unit for p in session.scalars(select(PaperCopy))}
    assert chosen[0] not in left and {chosen[1], chosen[2]} <= left


def test_5_hand_off_zip(page: Any, filled: Filled, tmp_path: Path) -> None:
    page.goto("/handoff")
    with page.expect_download() as info:
        page.click("a:has-text('下载全部移交材料')")
    assert info.value.suggested_filename == "名单移交.zip"
    with zipfile.ZipFile(info.value.path()) as archive:
        names = archive.namelist()
        originals = {n: hashlib.sha256(archive.read(n)).hexdigest() for n in names if n.startswith("申报原件/")}
        assert archive.read("公示名单.xlsx").startswith(b"PK") and archive.read("民主测评票.docx").startswith(b"PK")
    with filled.factory() as session:
        stored = set(session.scalars(select(AttachmentRow.sha256).join(
            Submission, Submission.attachment_id == AttachmentRow.id)))
    assert originals and set(originals.values()) <= stored
    assert {n.split("/")[1] for n in originals} <= {"表1改革创新标兵单位", "表2为民服务工作先进集体",
                                                   "表3窗口服务明星", "表4先进工作者"}


def words_of(pdf: Path) -> list[list[tuple[float, float, float, float, str]]]:
    """Each page's words with their boxes, from poppler's pdftotext -bbox."""
    out = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    pages = []
    for chunk in out.split("<page ")[1:]:
        pages.append([(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', chunk)])
    return pages


def overlaps(words: list[tuple[float, float, float, float, str]]) -> list[tuple[str, str]]:
    """Pairs of words printed over each other. Poppler's boxes span the font's ascent and descent, which
    for Noto CJK exceed the line pitch, so lines one above the other share a thin band: words overlap
    when they share more than a point across and more than half the shorter box's height."""
    found = []
    for i, (a0, b0, c0, d0, w0) in enumerate(words):
        for a1, b1, c1, d1, w1 in words[i + 1:]:
            dx, dy = min(c0, c1) - max(a0, a1), min(d0, d1) - max(b0, b1)
            if dx > 1.0 and dy > 0.5 * min(d0 - b0, d1 - b1):
                found.append((w0, w1))
    return found


def single_character_lines(pdf: Path) -> list[str]:
    """Lines holding one CJK character only: what a column one character wide prints."""
    out = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if re.fullmatch(r"\s*[\u4e00-\u9fff]\s*", line)]


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is not installed")
@pytest.mark.parametrize("path", ["/handoff", "/mails"])
def test_6_print_to_pdf_without_overlap(page: Any, path: str, shots: Path) -> None:  # noqa: F811
    page.goto(path)
    page.emulate_media(media="print")
    pdf = shots / f"print{path.replace('/', '-')}.pdf"
    page.pdf(path=str(pdf), prefer_css_page_size=True, print_background=False)
    page.emulate_media(media="screen")
    pages = words_of(pdf)
    assert pages and all(words for words in pages)
    for number, words in enumerate(pages, start=1):
        assert overlaps(words) == [], (path, number)
    assert single_character_lines(pdf) == []


def test_7_screenshots_of_every_page(page: Any, filled: Filled, shots: Path) -> None:  # noqa: F811
    with filled.factory() as session:
        question = session.scalars(select(Message.id).where(Message.subject == QUESTION)).one()
    pages = {"overview": "/", "mails": "/mails", "mail": f"/mails/{question}", "search": "/search?q=吴中",
             "units": "/units", "unit": "/units/" + WZ, "submissions": "/submissions?table=1",
             "reminders": "/reminders", "handoff": "/handoff", "reports": "/reports", "audit": "/audit",
             "account": "/account", "resend": f"/mails/{question}/resend"}
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        for name, path in pages.items():
            page.goto(path)
            assert fits(page), (path, width)
            page.screenshot(path=str(shots / f"{name}-{width}x{height}.png"))
    page.set_viewport_size({"width": 1366, "height": 768})
    assert page.dialogs == []
