"""The applicant's side (issue 20) through a real poll of pymap, the SMTP sink and the console's app:
the status-page link in every reply, the page itself (only the sender's own data), its 404s and the
guessing limit, RAR 4/5 with GBK names, a damaged RAR kept, and scans that raise no false alarm."""

from __future__ import annotations

import email
import email.policy
import logging
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from mailintake.config.settings import Settings
from mailintake.db.models import Message
from mailintake.demo.samples.attachments import jpeg_image
from mailintake.demo.samples.forms import make_form_docx
from mailintake.demo.servers.pymap_server import PymapServer, start_imap_server
from mailintake.demo.servers.smtp_sink import SmtpSink, start_smtp_sink
from mailintake.intake.cycle import poll_once
from mailintake.outbox.sender import deliver_due
from mailintake.web.app import create_app
from tests.support.fixtures.env import Env
from tests.support.fixtures.rar import rar4, rar5
from tests.support.helpers import at, mail
from tests.support.servers import append_mail

APPLICANT_URL = "https://intake.example.gov.cn"
SECRET = "applicant-test-secret-0123456789abcdef"
LINK = re.compile(re.escape(APPLICANT_URL) + r"/s/([A-Za-z0-9_-]+)")

#: the sender with a receipt, a correction and a form superseded by a later one
A = "wzsp@szwz.gov.cn"
A_UNIT = "苏州市吴中区行政审批局"
OTHERS = {
    "yq@sipac.gov.cn": "苏州工业园区表1申报",
    "ask@qq.com": "请问截止时间",
    "scan@ks.gov.cn": "昆山表4申报（含扫描件）",
    "rar4@cs.gov.cn": "常熟表2申报（压缩包）",
    "rar5@tc.gov.cn": "太仓表3申报（RAR5）",
    "broken@zjg.gov.cn": "张家港申报材料",
    "late@wj.gov.cn": "吴江表2申报（逾期）",
}


def image_only_pdf(jpeg: bytes) -> bytes:
    """A one-page PDF whose only content is a scanned picture (no text layer)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im0 4 0 R >> >> "
               b"/Contents 5 0 R >>",
               b"<< /Type /XObject /Subtype /Image /Width 1 /Height 1 /ColorSpace /DeviceRGB /BitsPerComponent 8 "
               b"/Filter /DCTDecode /Length %d >>\nstream\n" % len(jpeg) + jpeg + b"\nendstream",
               b"<< /Length 35 >>\nstream\nq 595 0 0 842 0 0 cm /Im0 Do Q\nendstream"]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)


def form1(unit: str) -> bytes:
    return make_form_docx(1, {"unit": unit, "contact": "王明 0512-66681234", "project": "企业开办一日办结",
                              "recognition": "获省级表彰", "summary": "项目实施后办理时间缩短一半。"})


@dataclass
class Corpus:
    settings: Settings
    factory: sessionmaker[Session]
    sink: SmtpSink
    imap: PymapServer
    env: Env
    logs: list[str]
    #: the damaged RAR as mailed
    broken: bytes

    def replies_to(self, address: str) -> list[EmailMessage]:
        found = []
        for sent in self.sink.messages:
            if address in sent.rcpt_tos:
                parsed = email.message_from_bytes(sent.raw, policy=email.policy.default)
                assert isinstance(parsed, EmailMessage)
                found.append(parsed)
        return found

    def token(self, address: str) -> str:
        text = self.replies_to(address)[-1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
        match = LINK.search(text)
        assert match is not None, text
        return match.group(1)

    def app_client(self) -> TestClient:
        return TestClient(create_app(self.settings, self.factory))


class _Collect(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage())


def deliver(corpus_mails: list[tuple[bytes, int, int, int]], imap: PymapServer) -> None:
    for raw, day, hour, minute in corpus_mails:
        append_mail(imap, raw, at(day, hour, minute))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    root = tmp_path_factory.mktemp("applicant")
    imap = start_imap_server()
    sink = start_smtp_sink()
    env = Env.sqlite(root)
    logs: list[str] = []
    handler = _Collect(logs)
    root_logger = logging.getLogger()
    old_level = root_logger.level
    try:
        settings = env.settings(imap=imap, smtp=sink, web={"secret_key": SECRET, "applicant_url": APPLICANT_URL})
        jpeg = jpeg_image()
        good_rar = rar5([("表1.docx", form1("张家港市行政审批局"))])
        broken = good_rar[: len(good_rar) // 2]
        deliver([
            (mail(f"吴中区审批局 <{A}>", "吴中区表2申报", message_id="<a1@wz>", attachments={
                "表2.docx": make_form_docx(2, {"unit": A_UNIT, "deeds": "推行“一件事一窗办”，办理时限压缩50%。"})}),
             16, 9, 0),
            (mail(f"吴中区审批局 <{A}>", "吴中区表3申报", message_id="<a2@wz>", attachments={
                "表3.docx": make_form_docx(3, {"name": "", "unit_and_title": "吴中区政务服务中心 科员",
                                               "recommender": A_UNIT, "deeds": "热情服务"})}), 16, 10, 0),
            (mail(f"吴中区审批局 <{A}>", "吴中区表2申报（修改）", message_id="<a3@wz>", attachments={
                "表2（修改）.docx": make_form_docx(2, {"unit": A_UNIT,
                                                    "deeds": "推行“一件事一窗办”，办理时限压缩60%。"})}),
             17, 9, 0),
            (mail("园区审批局 <yq@sipac.gov.cn>", OTHERS["yq@sipac.gov.cn"], message_id="<b@yq>",
                  attachments={"表1.docx": form1("苏州工业园区行政审批局")}), 16, 11, 0),
            (mail("王老师 <ask@qq.com>", OTHERS["ask@qq.com"], message_id="<c@qq>", body="请问申报截止时间是哪天？"),
             16, 12, 0),
            (mail("昆山 <scan@ks.gov.cn>", OTHERS["scan@ks.gov.cn"], message_id="<s@ks>", attachments={
                "表4.docx": make_form_docx(4, {"name": "陈静", "unit_and_title": "昆山市行政审批局 科长",
                                               "recommender": "昆山市行政审批局"}),
                "盖章扫描件.jpg": jpeg, "盖章页.pdf": image_only_pdf(jpeg)}), 16, 13, 0),
            (mail("常熟 <rar4@cs.gov.cn>", OTHERS["rar4@cs.gov.cn"], message_id="<r4@cs>", attachments={
                "常熟申报材料.rar": rar4([("申报材料\\表2 常熟市.docx".encode("gbk"),
                                          make_form_docx(2, {"unit": "常熟市行政审批局"}))])}), 16, 14, 0),
            (mail("太仓 <rar5@tc.gov.cn>", OTHERS["rar5@tc.gov.cn"], message_id="<r5@tc>", attachments={
                "太仓申报材料.rar": rar5([("申报材料/表3 顾晓镕.docx",
                                          make_form_docx(3, {"name": "顾晓镕",
                                                             "unit_and_title": "太仓市行政审批局 科员",
                                                             "recommender": "太仓市行政审批局"}))])}), 16, 15, 0),
            (mail("张家港 <broken@zjg.gov.cn>", OTHERS["broken@zjg.gov.cn"], message_id="<d@zjg>", attachments={
                "张家港材料.rar": broken}), 16, 16, 0),
            (mail("吴江 <late@wj.gov.cn>", OTHERS["late@wj.gov.cn"], message_id="<l@wj>", attachments={
                "表2 吴江.docx": make_form_docx(2, {"unit": "苏州市吴江区行政审批局"})}), 18, 17, 40),
        ], imap)
        root_logger.addHandler(handler)
        root_logger.setLevel(logging.DEBUG)
        factory = env.session_factory
        poll_once(settings, factory)
        deliver_due(settings, factory)
        root_logger.removeHandler(handler)  # what follows is the tests' own HTTP client
        yield Corpus(settings, factory, sink, imap, env, logs, broken)
    finally:
        root_logger.removeHandler(handler)
        root_logger.setLevel(old_level)
        env.close()
        sink.stop()
        imap.stop()


def message(corpus: Corpus, message_id: str) -> Message:
    with corpus.factory() as session:
        found = session.scalars(select(Message).where(Message.message_id == message_id)).one()
        _ = (found.attachments, found.submissions)
        return found


def page_of(corpus: Corpus, address: str, client: TestClient | None = None) -> str:
    response = (client or corpus.app_client()).get(f"/s/{corpus.token(address)}")
    assert response.status_code == 200
    return response.text


def facts_of(corpus: Corpus, address: str) -> list[str]:
    """Everything that identifies one sender's mails: address, subjects, receipt numbers, files, units, people."""
    with corpus.factory() as session:
        messages = session.scalars(select(Message).where(Message.from_addr == address)).all()
        facts = [address]
        for m in messages:
            facts += [m.subject, m.receipt_no or ""]
            facts += [a.path.rsplit("/", 1)[-1] for a in m.attachments]
            facts += [s.unit for s in m.submissions] + [str((s.fields or {}).get("name") or "") for s in m.submissions]
    return sorted({fact for fact in facts if fact})


def test_every_reply_carries_the_senders_own_link(corpus: Corpus) -> None:
    """GIVEN [web] applicant_url WHEN each sender is answered THEN every reply ends with one line linking to
    <applicant_url>/s/<token>: the same token in every reply to one address, a different one per address,
    32 URL-safe characters (192 bits) that do not contain the address."""
    tokens = {}
    for address in [A, *OTHERS]:
        replies = corpus.replies_to(address)
        assert replies, address
        found = set()
        for reply in replies:
            text = reply.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            links = LINK.findall(text)
            assert len(links) == 1 and text.rstrip().endswith(links[0])
            found.update(links)
        assert len(found) == 1
        tokens[address] = found.pop()
    assert len(corpus.replies_to(A)) == 3
    assert len(set(tokens.values())) == len(tokens)
    for address, token in tokens.items():
        assert re.fullmatch(r"[A-Za-z0-9_-]{32}", token)
        assert address.split("@")[0] not in token


def test_status_page_shows_the_receipt_the_correction_and_the_superseded_form(corpus: Corpus) -> None:
    """GIVEN a sender with a receipt (表2), a correction (表3 without 姓名) and a later 表2 superseding the first
    WHEN its link is opened THEN exactly those three mails, in order, with their forms as read and the one fix."""
    client = corpus.app_client()
    response = client.get(f"/s/{corpus.token(A)}")
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert response.headers["content-security-policy"].startswith("default-src 'none'; script-src 'none'")
    page = response.text
    assert "<script" not in page and "href=\"/" not in page.replace('href="/s/static/applicant.css"', "")
    mails = re.findall(r"<h3>(\d)\. (.+?) 收到</h3>\s*<dl>\s*<dt>回执编号</dt><dd>(.+?)</dd>\s*"
                       r"<dt>处理状态</dt><dd>(.+?)</dd>", page)
    assert mails == [("1", "2019年12月16日09:00", "2019-0001", "已受理"),
                     ("2", "2019年12月16日10:00", "2019-0002", "需修改后重新发送"),
                     ("3", "2019年12月17日09:00", "2019-0003", "已受理")]
    assert re.findall(r"<h4>(表\d《.+?》)</h4>", page) == [
        "表2《为民服务工作先进集体申报表》", "表3《窗口服务明星申报表》", "表2《为民服务工作先进集体申报表》"]
    assert page.count("已被您后来发送的申报表替代") == 1
    assert page.index("已被您后来发送的申报表替代") < page.index("2019-0002")
    assert re.findall(r"<tr class=\"total\"><th scope=\"row\">合计</th><td>(\d+ / \d+)</td>", page) == [
        "19 / 1000", "4 / 1000", "19 / 1000"]
    assert page.count("<tr><th scope=\"row\">主要事迹</th>") == 3
    fixes = re.search(r'<ol class="fix">(.*?)</ol>', page, re.DOTALL)
    assert fixes is not None and re.findall(r"<li>(.+?)</li>", fixes.group(1)) == [
        "表3《窗口服务明星申报表》（苏州市吴中区行政审批局）：“姓名”未填写，请补充后重新发送。"]
    assert "<li>苏州市吴中区行政审批局：尚未登记收到</li>" in page
    assert "2019年12月18日17:30（" in page


def test_no_page_shows_another_senders_data(corpus: Corpus) -> None:
    """GIVEN every sender of the corpus WHEN each one's page is opened THEN none of any other sender's
    address, subjects, receipt numbers, file names, units or names appears on it."""
    senders = [A, *OTHERS]
    facts = {address: facts_of(corpus, address) for address in senders}
    assert "2019-0001" in facts[A] and "常熟市行政审批局" in facts["rar4@cs.gov.cn"]
    assert "顾晓镕" in facts["rar5@tc.gov.cn"]
    client = corpus.app_client()
    for address in senders:
        page = page_of(corpus, address, client)
        assert address in page
        for other in senders:
            if other != address:
                leaked = [fact for fact in facts[other] if fact in page]
                assert leaked == [], (address, other)


def test_a_decision_shows_once_the_applicant_was_notified(corpus: Corpus) -> None:
    """GIVEN the office's decision on a form WHEN the applicant was not notified THEN the page does not show it;
    WHEN notified THEN it does, with its reason."""
    from mailintake.db.audit import Actor
    from mailintake.db.models import Submission
    from mailintake.office.decisions import decide

    address = "rar5@tc.gov.cn"
    with corpus.factory() as session, session.begin():
        sub_id = session.scalars(select(Submission.id).join(Message).where(Message.from_addr == address)).one()
        decide(session, corpus.settings, sub_id, "accept", "材料齐全，同意受理", Actor("wangyan", "CLI"), notify=False)
    assert "办公室意见" not in page_of(corpus, address)
    with corpus.factory() as session, session.begin():
        decide(session, corpus.settings, sub_id, "accept", "经复核，同意受理", Actor("wangyan", "CLI"), notify=True)
    deliver_due(corpus.settings, corpus.factory)
    page = page_of(corpus, address)
    assert re.findall(r'<p class="decision">办公室意见：同意受理（.+?）：(.+?)</p>', page) == ["经复核，同意受理"]
    assert "材料齐全" not in page


def test_guessing_more_than_30_unknown_tokens_answers_429(corpus: Corpus) -> None:
    """GIVEN one client WHEN it tries 30 unknown tokens within 15 minutes THEN each is a plain 404, and from the
    31st on every /s/ request answers 429 — a valid token too."""
    client = corpus.app_client()
    for _ in range(30):
        response = client.get(f"/s/{secrets.token_urlsafe(24)}")
        assert (response.status_code, response.text) == (404, "404 Not Found")
    assert client.get(f"/s/{secrets.token_urlsafe(24)}").status_code == 429
    blocked = client.get(f"/s/{corpus.token(A)}")
    assert (blocked.status_code, blocked.headers["retry-after"]) == (429, "900")


def test_guess_limit_window_slides() -> None:
    from mailintake.web.routes.applicant import GuessLimit

    limit = GuessLimit(limit=3, window=900)
    for moment in (0.0, 100.0, 200.0):
        assert not limit.blocked("10.0.0.1", moment)
        limit.miss("10.0.0.1", moment)
    assert limit.blocked("10.0.0.1", 899.0) and not limit.blocked("10.0.0.2", 899.0)
    assert not limit.blocked("10.0.0.1", 900.5)


def test_rar4_and_rar5_with_gbk_names_are_read_through_a_poll(corpus: Corpus) -> None:
    """GIVEN a RAR 4 with GBK member names (and a Windows folder) and a RAR 5 THEN both forms are read: receipts."""
    rar4_mail, rar5_mail = message(corpus, "<r4@cs>"), message(corpus, "<r5@tc>")
    assert (rar4_mail.status, [a.path for a in rar4_mail.attachments]) == (
        "accepted", ["常熟申报材料.rar/申报材料/表2 常熟市.docx"])
    assert (rar5_mail.status, [a.path for a in rar5_mail.attachments]) == (
        "accepted", ["太仓申报材料.rar/申报材料/表3 顾晓镕.docx"])
    assert [(s.table_no, s.unit) for s in rar4_mail.submissions] == [(2, "常熟市行政审批局")]
    assert [(s.table_no, (s.fields or {}).get("name")) for s in rar5_mail.submissions] == [(3, "顾晓镕")]


def test_damaged_rar_is_kept_flagged_and_downloadable(corpus: Corpus) -> None:
    """GIVEN a damaged RAR WHEN polled THEN the mail needs correction, the archive is a file of the mail with the
    reason, listed in 无法识别的附件 and in the export, and the console downloads its very bytes."""
    from mailintake.db.audit import Actor
    from mailintake.office.users import add_user
    from mailintake.report.build import collect
    from mailintake.report.export import export_json

    broken = message(corpus, "<d@zjg>")
    assert broken.status == "needs_correction"
    assert [(a.path, a.format, a.flags) for a in broken.attachments] == [("张家港材料.rar", "rar", [{
        "code": "unreadable",
        "message": "压缩包“张家港材料.rar”已损坏，无法解压，请重新压缩后发送或直接发送 Word 申报表。"}])]
    text = corpus.replies_to("broken@zjg.gov.cn")[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "压缩包“张家港材料.rar”已损坏" in text
    with corpus.factory() as session:
        exported = export_json(session)
        unreadable = collect(corpus.settings, session).unreadable
    entry = next(m for m in exported["messages"] if m["message_id"] == "<d@zjg>")
    assert [a["filename"] for a in entry["attachments"]] == ["张家港材料.rar"]
    assert [(view.from_addr, path) for view, path, _ in unreadable] == [("broken@zjg.gov.cn", "张家港材料.rar")]
    with corpus.factory() as session, session.begin():
        add_user(session, Actor("setup", "CLI"), "clerk1", "clerk", "correct horse battery")
    with TestClient(create_app(corpus.settings, corpus.factory), follow_redirects=False) as client:
        form = client.get("/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert csrf is not None
        client.post("/login", data={"username": "clerk1", "password": "correct horse battery",
                                    "csrf_token": csrf.group(1), "next": "/"})
        mail_page = client.get(f"/mails/{broken.id}").text
        download = client.get(f"/attachments/{broken.attachments[0].id}")
    assert f'<a href="/attachments/{broken.attachments[0].id}" download>张家港材料.rar</a>' in mail_page
    assert (download.status_code, download.content) == (200, corpus.broken)


def test_a_form_with_a_scan_and_an_image_pdf_is_a_receipt_without_false_alarm(corpus: Corpus) -> None:
    """GIVEN a mail with a good 表4, a JPG scan and an image-only PDF THEN a receipt, three files on the record,
    nothing about it in 无法识别的附件, and the page lists the scans as 其他附件."""
    from mailintake.report.build import collect

    scan = message(corpus, "<s@ks>")
    assert scan.status == "accepted"
    assert [(a.path, a.format) for a in scan.attachments] == [("表4.docx", "docx"), ("盖章扫描件.jpg", "jpeg"),
                                                              ("盖章页.pdf", "pdf")]
    assert [r.get("Subject", "").startswith("Re: ") for r in corpus.replies_to("scan@ks.gov.cn")] == [True]
    with corpus.factory() as session:
        unreadable = collect(corpus.settings, session).unreadable
    assert all(view.from_addr != "scan@ks.gov.cn" for view, _, _ in unreadable)
    page = page_of(corpus, "scan@ks.gov.cn")
    assert re.findall(r'<li><span class="kind">(.+?)</span> (.+?)(?:<br>|</li>)', page) == [
        ("申报表", "表4.docx"), ("其他附件", "盖章扫描件.jpg"), ("其他附件", "盖章页.pdf")]


def test_a_token_is_never_written_to_a_log(corpus: Corpus, tmp_path: Path) -> None:
    """GIVEN the poll's own log lines and a real `mailintake web` (uvicorn's access log on stderr) WHEN pages,
    unknown tokens and static files are requested THEN no token appears in any log line; and behind the local
    proxy the guessing limit counts per X-Forwarded-For client."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import httpx

    from mailintake.demo.servers.base import free_port

    tokens = [corpus.token(address) for address in [A, *OTHERS]]
    assert corpus.logs and not [line for line in corpus.logs if any(token in line for token in tokens)]
    config = tmp_path / "mailintake.toml"
    config.write_text(f'[database]\nurl = "{corpus.env.url}"\n[storage]\ndir = "{tmp_path / "s"}"\n'
                      f'[smtp]\nsender = "office@example.gov.cn"\n[web]\napplicant_url = "{APPLICANT_URL}"\n', "utf-8")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILINTAKE_")}
    env["MAILINTAKE_WEB__SECRET_KEY"] = SECRET
    proc = subprocess.Popen([sys.executable, "-m", "mailintake", "--config", str(config), "web", "--port", str(port)],
                            cwd=Path(__file__).resolve().parent.parent, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    unknown = secrets.token_urlsafe(24)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "the console did not start"
                time.sleep(0.2)
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/s/{tokens[0]}", timeout=10).status_code == 200
        assert httpx.get(f"{base}/s/{tokens[0]}?x=1", timeout=10).status_code == 200
        assert httpx.get(f"{base}/s/{unknown}", timeout=10).status_code == 404
        assert httpx.get(f"{base}/s/static/applicant.css", timeout=10).status_code == 200
        # behind the local proxy the client is X-Forwarded-For: one guesser is stopped, another is not
        with httpx.Client(base_url=base, timeout=10) as proxy:
            guesser, other = {"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "198.51.100.9"}
            codes = [proxy.get(f"/s/{secrets.token_urlsafe(24)}", headers=guesser).status_code for _ in range(31)]
            assert codes == [404] * 30 + [429]
            assert proxy.get(f"/s/{tokens[1]}", headers=guesser).status_code == 429
            assert proxy.get(f"/s/{tokens[1]}", headers=other).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    out, err = proc.communicate()
    logged = out + err
    assert "/s/<token>" in logged and "/s/static/applicant.css" in logged
    assert tokens[0] not in logged and unknown not in logged


def test_blank_forms_are_attached_generated_the_same_and_accepted_when_filled(corpus: Corpus, tmp_path: Path) -> None:
    """GIVEN the no-form reply WHEN its 附件1 is compared with `forms --out` THEN the same bytes; WHEN read THEN
    Tables 1–4, all incomplete; WHEN filled in with python-docx and mailed back THEN a receipt."""
    import io

    from click.testing import CliRunner
    from docx import Document

    from mailintake.applicant.blank_forms import blank_forms
    from mailintake.cli import cli
    from parsers.definitions import load_definitions
    from parsers.parse import parse_document

    reply = corpus.replies_to("ask@qq.com")[0]
    files = [(part.get_filename(), part.get_content()) for part in reply.iter_attachments()]
    assert [name for name, _ in files] == ["附件1.“双争双创”活动先进荣誉申报表.docx"]
    text = reply.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "空白申报表已随本邮件附上（附件1.“双争双创”活动先进荣誉申报表.docx），请只保留并填写拟申报的表格。" in text
    attached = files[0][1]
    assert attached == blank_forms(corpus.settings)[1]
    config = tmp_path / "mailintake.toml"
    config.write_text(f'[database]\nurl = "{corpus.env.url}"\n[smtp]\nsender = "office@example.gov.cn"\n', "utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "forms", "--out", str(tmp_path / "out")],
                                env={"MAILINTAKE_WEB__SECRET_KEY": ""}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "附件1.“双争双创”活动先进荣誉申报表.docx").read_bytes() == attached
    blank = parse_document(attached, "附件1.docx")
    assert [(f.table, f.word_count, {x.code for x in f.flags}) for f in blank.forms] == [
        (1, 0, {"incomplete"}), (2, 0, {"incomplete"}), (3, 0, {"incomplete"}), (4, 0, {"incomplete"})]
    values = {"unit": "苏州市相城区行政审批局", "contact": "李华 0512-65981234", "project": "不动产登记一窗受理",
              "recognition": "获市级表彰", "summary": "一窗受理后办理时间由5日缩短至1日。",
              "deeds": "推行帮办代办服务。",
              "name": "周敏", "unit_and_title": "相城区政务服务中心 科员", "recommender": "苏州市相城区行政审批局",
              "unit_opinion": "同意推荐", "date": "2019年12月17日"}
    doc = Document(io.BytesIO(attached))
    for table, form in zip(doc.tables, load_definitions().tables, strict=True):
        for row, item in zip(table.rows, form.fields, strict=True):
            assert row.cells[0].text == item.label
            row.cells[1].text = values[item.key]
    filled = io.BytesIO()
    doc.save(filled)
    append_mail(corpus.imap, mail("王老师 <ask@qq.com>", "相城区申报材料", message_id="<c2@qq>",
                                  attachments={"附件1 申报表.docx": filled.getvalue()}), at(17, 15))
    poll_once(corpus.settings, corpus.factory)
    deliver_due(corpus.settings, corpus.factory)
    back = message(corpus, "<c2@qq>")
    assert (back.status, [s.table_no for s in back.submissions]) == ("accepted", [1, 2, 3, 4])
    receipt = corpus.replies_to("ask@qq.com")[-1]
    assert f"[申报回执 {back.receipt_no}]" in str(receipt["Subject"])
    assert list(receipt.iter_attachments()) == []


def test_altered_random_and_revoked_tokens_are_404(corpus: Corpus, tmp_path: Path) -> None:
    """GIVEN a valid link WHEN one character is changed, a random token is tried, or the address is revoked with
    `mailintake applicant revoke` THEN a plain 404 (and the audit trail has the revocation)."""
    from click.testing import CliRunner

    from mailintake.applicant.tokens import address_of, derive
    from mailintake.cli import cli
    from mailintake.db.models import AuditEntry

    client = corpus.app_client()
    token = corpus.token("yq@sipac.gov.cn")
    assert client.get(f"/s/{token}").status_code == 200
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for wrong in (altered, token.lower(), token[:-1], secrets.token_urlsafe(24), token + "A", "x" * 500):
        response = client.get(f"/s/{wrong}")
        assert (response.status_code, response.text) == (404, "404 Not Found"), wrong
    config = tmp_path / "mailintake.toml"
    config.write_text(f'[database]\nurl = "{corpus.env.url}"\n[smtp]\nsender = "office@example.gov.cn"\n', "utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "applicant", "revoke", "YQ@sipac.gov.cn"],
                                env={"MAILINTAKE_WEB__SECRET_KEY": SECRET}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output == "已作废 yq@sipac.gov.cn 的状态页链接；下一封发往该邮箱的邮件将附新的链接。\n"
    assert client.get(f"/s/{token}").status_code == 404
    renewed = derive(SECRET, "yq@sipac.gov.cn", 1)
    with corpus.factory() as session:
        assert address_of(session, renewed) == "yq@sipac.gov.cn"
        assert session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "applicant_link_revoked")).all() \
            == ["状态页链接已作废：yq@sipac.gov.cn"]
    assert client.get(f"/s/{renewed}").status_code == 200
    unknown = CliRunner().invoke(cli, ["--config", str(config), "applicant", "revoke", "nobody@example.com"],
                                 env={"MAILINTAKE_WEB__SECRET_KEY": SECRET})
    assert unknown.exit_code != 0


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(),
                    reason="chromium is not installed (apt-get install chromium)")
def test_the_page_fits_a_390px_phone_in_chromium(corpus: Corpus, tmp_path: Path) -> None:
    """GIVEN Debian's chromium at 390 px wide (a phone; QQ Mail opens links in its own browser) THEN the page and
    its longest lines scroll nowhere sideways, with scripts disabled, on screen and in print."""
    from playwright.sync_api import sync_playwright

    from mailintake.web.server import start_in_thread

    running = start_in_thread(create_app(corpus.settings, corpus.factory))
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                                 args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
            try:
                context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False,
                                              locale="zh-CN", device_scale_factor=3, is_mobile=True, has_touch=True)
                tab = context.new_page()
                for address in (A, "scan@ks.gov.cn", "broken@zjg.gov.cn"):
                    response = tab.goto(f"{running.url}/s/{corpus.token(address)}")
                    assert response is not None and response.status == 200
                    tab.screenshot(path=str(tmp_path / f"{address}.png"), full_page=True)
                    for media in ("screen", "print"):
                        tab.emulate_media(media=media)
                        metrics = context.new_cdp_session(tab).send("Page.getLayoutMetrics")
                        assert metrics["cssContentSize"]["width"] <= 390, (address, media, metrics["cssContentSize"])
                context.close()
            finally:
                browser.close()
    finally:
        running.stop()


def test_pages_off_without_applicant_url_and_refused_without_a_secret(env: Env, tmp_path: Path) -> None:
    """GIVEN no [web] applicant_url THEN no reply line and /s/ is 404; GIVEN one without a secret THEN one line."""
    from mailintake.applicant.tokens import derive, issue, status_line
    from mailintake.config.settings import load_settings
    from mailintake.errors import ConfigError

    settings = env.settings(web={"secret_key": SECRET})
    with env.session_factory() as session, session.begin():
        assert status_line(session, settings, A) is None
        token = issue(session, settings, A)
    assert token == derive(SECRET, A.upper(), 0)
    with TestClient(create_app(settings, env.session_factory)) as client:
        assert client.get(f"/s/{token}").status_code == 404
    with pytest.raises(ConfigError) as refused:
        load_settings(environ={}, overrides={"web": {"applicant_url": APPLICANT_URL}})
    assert str(refused.value) == (
        "config: [web]: applicant_url is set but secret_key is not (or is shorter than 16 characters): the links are "
        "signed with it; set MAILINTAKE_WEB__SECRET_KEY for the worker and the console; fix it in the config file")


def test_the_offices_own_blank_form_is_sent_when_configured(env: Env, tmp_path: Path) -> None:
    """GIVEN [campaign] blank_forms naming the office's file THEN that very file is the attachment and what
    `forms --out` writes; a missing one is one line naming the key."""
    from click.testing import CliRunner

    from mailintake.applicant.blank_forms import blank_forms
    from mailintake.cli import cli
    from mailintake.errors import ConfigError

    own = tmp_path / "附件1 申报表（办公室版）.docx"
    own.write_bytes(make_form_docx(2, {"unit": "", "deeds": ""}))
    settings = env.settings(campaign={"blank_forms": str(own)})
    assert blank_forms(settings) == (own.name, own.read_bytes())
    config = tmp_path / "mailintake.toml"
    config.write_text(f'[database]\nurl = "{env.url}"\n[smtp]\nsender = "office@example.gov.cn"\n'
                      f'[campaign]\nblank_forms = "{own}"\n', "utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "forms", "--out", str(tmp_path / "out")],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / own.name).read_bytes() == own.read_bytes()
    with pytest.raises(ConfigError) as missing:
        blank_forms(env.settings(campaign={"blank_forms": str(tmp_path / "none.docx")}))
    assert str(missing.value).startswith(f"config: [campaign] blank_forms {tmp_path / 'none.docx'} does not exist; ")


def test_a_unit_reminded_before_it_wrote_sees_an_empty_page_with_the_deadline(env: Env) -> None:
    """GIVEN a 催报 to a roster address that never wrote THEN its link opens a page saying nothing arrived yet."""
    from mailintake.applicant.tokens import issue

    settings = env.settings(web={"secret_key": SECRET, "applicant_url": APPLICANT_URL})
    with env.session_factory() as session, session.begin():
        token = issue(session, settings, "unit@example.cn")
    with TestClient(create_app(settings, env.session_factory)) as client:
        page = client.get(f"/s/{token}").text
    assert "本邮箱尚未收到您发送的邮件。" in page and "已收到的邮件（共 0 封）" in page
    assert "2019年12月18日17:30（" in page and "纸质材料" not in page
