"""The campaign calendar's console pages over HTTP: 催报 (preview and 发送催报), office decisions on a
submission, and the hand-off downloads, on a database filled by a real poll of pymap."""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from collections.abc import Iterator

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlalchemy import func, select
from starlette.testclient import TestClient

from mailintake.campaign.sources import load_sources
from mailintake.db.models import Decision, OutboxItem, ReminderSent, Submission
from mailintake.office.handoff import candidate_lists
from mailintake.web.app import create_app
from mailintake.web.routes.downloads import content_disposition
from tests.support.web_support import CLERK, VIEWER, Filled, fill
from tests.unit.web.test_web_http import audit, login

#: the demo's units whose forms are in and whose paper copies are not recorded, with their addresses
PAPER_MISSING = {
    "张家港市行政审批局": "zjgspj@zjg.gov.cn", "昆山市行政审批局": "ksxzspj@ks.gov.cn",
    "苏州市吴中区行政审批局": "lijing_wz@qq.com", "苏州市公共资源交易中心": "szggzy@szggzy.gov.cn",
    "常熟市便民服务中心": "csbmfw@qq.com", "苏州市吴中区便民服务中心": "wzbmzx@szwz.gov.cn",
    "苏州市行政审批局政务服务处": "zwfwc_sz@163.com",
}


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Filled:
    return fill(tmp_path_factory.mktemp("calendar") / "demo")


@pytest.fixture
def client(filled: Filled) -> Iterator[TestClient]:
    with TestClient(create_app(filled.settings, filled.factory), follow_redirects=False) as c:
        yield c


def flashes(page: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r'<p class="flash \w+" role="status">([^<]*)</p>', page)]


def count(filled: Filled, model: type, *where: object) -> int:
    with filled.factory() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


def submission_id(filled: Filled, unit: str, table: int) -> tuple[int, int]:
    with filled.factory() as session:
        row = session.execute(select(Submission.id, Submission.message_pk).where(
            Submission.unit == unit, Submission.table_no == table, Submission.current.is_(True))).one()
    return row.id, row.message_pk


def test_reminders_preview_then_send_exactly_once(client: TestClient, filled: Filled) -> None:
    """GIVEN the demo after its deadline THEN the preview lists the units whose paper copies are missing;
    发送催报 queues exactly those, audited; a second press the same day queues nothing."""
    token = login(client, VIEWER)
    page = client.get("/reminders").text
    assert "发送催报" not in page and 'name="key"' not in page
    assert client.post("/reminders/send", data={"csrf_token": token, "key": "paper_missing|昆山市行政审批局"}
                       ).status_code == 403
    client.post("/logout", data={"csrf_token": token})
    token = login(client, CLERK)
    page = client.get("/reminders").text
    keys = re.findall(r'<input type="hidden" name="key" value="([^"]+)">', page)
    assert sorted(keys) == sorted(f"paper_missing|{unit}" for unit in PAPER_MISSING)
    for unit, address in PAPER_MISSING.items():
        assert f"<td class=\"wrap\">{address}</td>" in page and unit in page
    assert "邮件催报（共 7 条）" in page and "<button type=\"submit\">发送催报</button>" in page
    assert "需电话催报（共 0 条）" in page
    before = count(filled, OutboxItem, OutboxItem.kind == "reminder")
    response = client.post("/reminders/send", data={"csrf_token": token, "key": keys})
    assert (response.status_code, response.headers["location"]) == (303, "/reminders")
    after = client.get("/reminders").text
    assert flashes(after) == ["已将 7 封催报邮件放入发件队列，后台服务将尽快发送。"]
    assert "当前没有需要发送的催报邮件。" in after and "发送催报</button>" not in after
    with filled.factory() as session:
        rows = session.scalars(select(OutboxItem).where(OutboxItem.kind == "reminder").order_by(OutboxItem.id)).all()
        assert len(rows) == before + 7
        assert sorted(r.recipients[0] for r in rows[before:]) == sorted(PAPER_MISSING.values())
        assert {(r.unit, r.kind) for r in session.scalars(select(ReminderSent))} == {
            (u, "paper_missing") for u in PAPER_MISSING}
    entries = audit(filled, "reminder_sent")
    assert sorted(e.unit or "" for e in entries) == sorted(PAPER_MISSING)
    assert {(e.actor, e.origin) for e in entries} == {(CLERK, "testclient")}
    # the same form pressed again the same day
    client.post("/reminders/send", data={"csrf_token": token, "key": keys})
    assert flashes(client.get("/reminders").text) == ["另有 7 条催报未发送：今日已发送过，或该单位已不需要催报。"]
    assert count(filled, OutboxItem, OutboxItem.kind == "reminder") == before + 7
    assert len(audit(filled, "reminder_sent")) == 7


def test_send_queues_only_the_posted_keys(filled: Filled) -> None:
    """GIVEN a deadline still ahead THEN silent units are listed as 需电话催报 (no address in the roster),
    and a posted key that the preview did not show queues nothing."""
    now = dt.datetime.now(dt.UTC)
    campaign = filled.settings.campaign.model_copy(update={"deadline": now + dt.timedelta(days=2)})
    settings = filled.settings.model_copy(update={"campaign": campaign})
    with TestClient(create_app(settings, filled.factory), follow_redirects=False) as c:
        token = login(c, CLERK)
        page = c.get("/reminders").text
        phone = re.search(r"需电话催报（共 (\d+) 条）", page)
        assert phone is not None and int(phone.group(1)) == 29
        assert "<td>市税务局窗口</td>" not in page and ">市税务局窗口</a></td>" in page
        assert page.count("<td>名录未登记邮箱</td>") == 29
        before = count(filled, OutboxItem, OutboxItem.kind == "reminder")
        c.post("/reminders/send", data={"csrf_token": token, "key": ["not_applied|市税务局窗口", "nonsense"]})
        assert flashes(c.get("/reminders").text) == ["另有 1 条催报未发送：今日已发送过，或该单位已不需要催报。"]
        assert count(filled, OutboxItem, OutboxItem.kind == "reminder") == before


def test_a_decision_changes_the_pages_and_the_audit(client: TestClient, filled: Filled) -> None:
    """GIVEN 张家港's overlong 表1 THEN 同意受理 with a reason shows on the mail page, the submissions list,
    the unit page and the hand-off list, with one audit row; without a reason nothing is recorded."""
    sid, mail = submission_id(filled, "张家港市行政审批局", 1)
    token = login(client, VIEWER)
    assert f'action="/submissions/{sid}/decision"' not in client.get(f"/mails/{mail}").text
    response = client.post(f"/submissions/{sid}/decision", data={"csrf_token": token, "kind": "accept",
                                                                 "reason": "领导同意", "next": f"/mails/{mail}"})
    assert response.status_code == 403
    client.post("/logout", data={"csrf_token": token})
    token = login(client, CLERK)
    page = client.get(f"/mails/{mail}").text
    assert f'action="/submissions/{sid}/decision"' in page and "通知申报单位" in page
    response = client.post(f"/submissions/{sid}/decision", data={"csrf_token": token, "kind": "accept",
                                                                 "reason": "  ", "next": f"/mails/{mail}"})
    assert (response.status_code, response.headers["location"]) == (303, f"/mails/{mail}")
    assert flashes(client.get(f"/mails/{mail}").text) == ["未记录决定：请填写理由后再提交。"]
    assert count(filled, Decision) == 0 and audit(filled, "decision") == []
    assert "张家港市行政审批局" not in client.get("/handoff").text
    before = count(filled, OutboxItem)
    reason = "经局领导同意，字数超出部分不影响受理"
    client.post(f"/submissions/{sid}/decision", data={"csrf_token": token, "kind": "accept", "reason": reason,
                                                      "next": f"/mails/{mail}"})
    page = client.get(f"/mails/{mail}").text
    assert flashes(page) == [f"已记录决定：申报表记录 {sid}（张家港市行政审批局）同意受理。"]
    shown = re.search(rf'<p class="decision-line" id="decision-{sid}">(.*?)</p>', page)
    assert shown is not None
    assert re.sub(r"<[^>]+>", "", shown.group(1)).startswith(
        f"办公室决定：同意受理 经局领导同意，字数超出部分不影响受理（{CLERK}，")
    assert count(filled, OutboxItem) == before  # 通知申报单位 not ticked
    entry = audit(filled, "decision")[-1]
    assert (entry.actor, entry.submission_id, entry.message_pk, entry.detail) == (
        CLERK, sid, mail, "同意受理：经局领导同意，字数超出部分不影响受理")
    assert '<span class="decision d-accept">同意受理</span> 经局领导同意' in client.get("/submissions?table=1").text
    assert '<span class="decision d-accept">同意受理</span>' in client.get("/units/张家港市行政审批局").text
    assert ">张家港市行政审批局</a></td>" in client.get("/handoff").text


def test_withdrawal_with_notice_leaves_the_hand_off(client: TestClient, filled: Filled) -> None:
    sid, mail = submission_id(filled, "苏州市吴中区便民服务中心", 2)
    token = login(client, CLERK)
    assert ">苏州市吴中区便民服务中心</a></td>" in client.get("/handoff").text
    client.post(f"/submissions/{sid}/decision", data={"csrf_token": token, "kind": "withdraw", "notify": "1",
                                                      "reason": "单位来电撤回", "next": "/submissions?table=2"})
    page = client.get("/submissions?table=2").text
    assert flashes(page) == [f"已记录决定：申报表记录 {sid}（苏州市吴中区便民服务中心）撤回。通知邮件已放入发件队列。"]
    assert '<span class="decision d-withdraw">撤回</span> 单位来电撤回' in page
    with filled.factory() as session:
        notice = session.scalars(select(OutboxItem).where(OutboxItem.kind == "decision")).one()
        assert (notice.message_pk, notice.recipients) == (mail, ["wzbmzx@szwz.gov.cn"])
    handoff = client.get("/handoff").text
    assert ">苏州市吴中区便民服务中心</a></td>" not in handoff and "本表没有候选对象。" in handoff
    response = client.post(f"/submissions/{sid}/decision", data={"csrf_token": token, "kind": "maybe",
                                                                  "reason": "x", "next": "//evil.example.com/"})
    assert response.headers["location"] == "/"
    assert flashes(client.get("/").text) == ["请选择“同意受理”或“撤回”。"]


def test_hand_off_downloads(client: TestClient, filled: Filled) -> None:
    """The 公示名单 workbook and the 民主测评票 download with their types and names, one row per candidate."""
    login(client, VIEWER)
    with filled.factory() as session:
        lists = candidate_lists(session, filled.settings, load_sources(filled.settings))
    page = client.get("/handoff").text
    assert '<a class="button" href="/handoff/workbook" download>下载公示名单.xlsx</a>' in page
    for table in lists:
        assert f"表{table.table} {table.name}（共 {len(table.candidates)} 个" in page
    workbook = client.get("/handoff/workbook")
    assert workbook.status_code == 200
    assert workbook.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert workbook.headers["content-disposition"] == content_disposition("公示名单.xlsx") == (
        "attachment; filename=\"____.xlsx\"; filename*=UTF-8''%E5%85%AC%E7%A4%BA%E5%90%8D%E5%8D%95.xlsx")
    book = load_workbook(io.BytesIO(workbook.content))
    assert len(book.worksheets) == len(lists) == 4
    for sheet, table in zip(book.worksheets, lists, strict=True):
        rows = list(sheet.iter_rows(min_row=3, values_only=True))
        assert [(r[0], r[1]) for r in rows] == [(c.seq, c.name) for c in table.candidates]
    ballot = client.get("/handoff/ballot")
    assert ballot.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    assert ballot.headers["content-disposition"] == content_disposition("民主测评票.docx")
    grids = Document(io.BytesIO(ballot.content)).tables
    assert [len(g.rows) - 1 for g in grids] == [len(t.candidates) for t in lists]
    assert client.get("/handoff/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert client.get("/handoff/secrets").status_code == 404


def test_overview_and_navigation_link_the_calendar_pages(client: TestClient) -> None:
    login(client, VIEWER)
    page = client.get("/").text
    assert '<a href="/reminders">催报</a>' in page and '<a href="/handoff">名单移交</a>' in page
    nav = page.split("<nav>")[1].split("</nav>")[0]
    assert re.findall(r">([^<>]+)</a>", nav) == [
        "总览", "邮件", "单位", "申报表", "催报", "名单移交", "日报", "操作记录"]
    for path in ("/reminders", "/handoff"):
        assert client.get(path).status_code == 200
        client.cookies.clear()
        assert client.get(path).status_code == 303
        login(client, VIEWER)


