"""The console over HTTP (Starlette's TestClient): login, logout, throttling, CSRF, roles, redirects,
downloads and escaping, on a database filled by a real poll of pymap."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from mailintake.db.models import AttachmentRow, AuditEntry, Message, PaperCopy, User
from mailintake.web.app import create_app
from tests.support.env import Env
from tests.support.web_support import (
    CLERK,
    HOSTILE_FILE,
    HOSTILE_FROM,
    PASSWORD,
    VIEWER,
    Filled,
    fill,
)

UNIT_WZ = "苏州市吴中区行政审批局"


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Filled:
    return fill(tmp_path_factory.mktemp("web") / "demo")


@pytest.fixture
def client(filled: Filled) -> Iterator[TestClient]:
    with TestClient(create_app(filled.settings, filled.factory), follow_redirects=False) as c:
        yield c


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def login(client: TestClient, user: str = CLERK, password: str = PASSWORD) -> str:
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"username": user, "password": password, "csrf_token": token, "next": "/"})
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/").text)


def audit(filled: Filled, action: str) -> list[AuditEntry]:
    with filled.factory() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def hostile_pk(filled: Filled) -> int:
    with filled.factory() as session:
        pk = session.scalar(select(Message.id).where(Message.from_addr == HOSTILE_FROM))
    assert pk is not None
    return pk


@pytest.mark.parametrize("path", ["/", "/mails", "/mails/1", "/units", "/submissions?table=2", "/reports",
                                  "/audit", "/attachments/1", "/mails/1/raw", "/reports/1/xlsx", "/reminders",
                                  "/handoff", "/handoff/workbook"])
def test_anonymous_requests_are_sent_to_the_login(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=" + path.replace("/", "%2F").replace("?", "%3F").replace(
        "=", "%3D")


def test_anonymous_posts_are_refused(client: TestClient) -> None:
    assert client.post("/paper/received", data={"unit": "苏州市吴中区行政审批局"}).status_code == 403
    assert client.post("/mails/1/resend").status_code == 403
    assert client.post("/reminders/send", data={"key": "paper_missing|昆山市行政审批局"}).status_code == 403
    assert client.post("/submissions/1/decision", data={"kind": "withdraw", "reason": "x"}).status_code == 403


def test_healthz_needs_no_login_and_names_nobody(client: TestClient, filled: Filled) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert sorted(body) == ["imap", "last_poll", "smtp", "status"] and body["status"] == "ok"
    assert body["smtp"] == body["imap"] == {"state": "ok"}
    assert dt.datetime.fromisoformat(body["last_poll"]).tzinfo is not None
    assert "@" not in response.text and CLERK not in response.text


def test_login_form_session_cookie_and_logout(client: TestClient, filled: Filled) -> None:
    page = client.get("/login").text
    assert 'name="username"' in page and 'name="password"' in page
    token = csrf_of(page)
    response = client.post("/login", data={"username": CLERK, "password": PASSWORD, "csrf_token": token,
                                           "next": "/mails?status=late"})
    assert response.status_code == 303 and response.headers["location"] == "/mails?status=late"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("mailintake_session=")
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower() and "secure" not in cookie.lower()
    assert "Max-Age=43200" in cookie
    assert client.get("/mails?status=late").status_code == 200
    assert audit(filled, "login")[-1].actor == CLERK
    stolen = dict(client.cookies)
    token = csrf_of(client.get("/").text)
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert client.get("/").status_code == 303
    client.cookies.update(stolen)  # a copy of the old cookie is dead too
    assert client.get("/").status_code == 303
    assert audit(filled, "logout")[-1].actor == CLERK


def test_login_without_csrf_token_is_forbidden(client: TestClient) -> None:
    client.get("/login")
    assert client.post("/login", data={"username": CLERK, "password": PASSWORD}).status_code == 403


def test_wrong_password_is_refused_and_audited(client: TestClient, filled: Filled) -> None:
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"username": VIEWER, "password": "wrong password", "csrf_token": token})
    assert response.status_code == 401
    assert "账号或密码错误" in response.text
    assert PASSWORD not in response.text
    last = audit(filled, "login_failed")[-1]
    assert (last.actor, last.origin, last.detail) == (
        "（未登录）", "testclient", f"登录失败：账号或密码错误（输入的账号：{VIEWER}）")


def test_secure_cookie_when_the_console_is_served_over_https(filled: Filled) -> None:
    settings = filled.settings.model_copy(update={"web": filled.settings.web.model_copy(
        update={"base_url": "https://intake.example.gov.cn"})})
    with TestClient(create_app(settings, filled.factory), base_url="https://testserver",
                    follow_redirects=False) as c:
        token = csrf_of(c.get("/login").text)
        response = c.post("/login", data={"username": VIEWER, "password": PASSWORD, "csrf_token": token})
        assert response.status_code == 303
        assert "; secure" in response.headers["set-cookie"].lower()


def test_ten_failures_throttle_the_account_until_the_window_passes(client: TestClient, filled: Filled) -> None:
    from mailintake.db.audit import Actor
    from mailintake.office.users import add_user, check_login

    with filled.factory() as session, session.begin():
        add_user(session, Actor("setup", "CLI"), "target", "viewer", PASSWORD)
    token = csrf_of(client.get("/login").text)
    for _ in range(10):
        response = client.post("/login", data={"username": "target", "password": "guess", "csrf_token": token})
        assert response.status_code == 401
    response = client.post("/login", data={"username": "target", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 429
    assert "15 分钟后再试" in response.text
    # another account is not affected
    assert client.post("/login", data={"username": VIEWER, "password": PASSWORD,
                                       "csrf_token": token}).status_code == 303
    with filled.factory() as session:
        assert check_login(session, "target", PASSWORD, "testclient").outcome == "throttled"
        later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15, seconds=5)
        assert check_login(session, "target", PASSWORD, "testclient", now=later).outcome == "ok"
        session.commit()


def test_post_without_csrf_token_or_from_a_viewer_is_forbidden(client: TestClient, filled: Filled) -> None:
    unit = "苏州市吴中区行政审批局"
    token = login(client, VIEWER)
    assert client.post("/paper/received", data={"unit": unit, "csrf_token": token}).status_code == 403
    client.post("/logout", data={"csrf_token": token})
    token = login(client, CLERK)
    assert client.post("/paper/received", data={"unit": unit}).status_code == 403
    assert client.post("/paper/received", data={"unit": unit, "csrf_token": "forged"}).status_code == 403
    with filled.factory() as session:
        assert session.scalar(select(PaperCopy).where(PaperCopy.unit == unit)) is None
    response = client.post("/paper/received", data={"unit": unit, "csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"] == f"/units/{quote(unit, safe='')}"
    page = client.get(response.headers["location"]).text
    today = dt.datetime.now(filled.settings.campaign.tz).date().isoformat()
    assert f"已登记：{unit} 纸质材料于 {today} 收到。" in page
    entry = audit(filled, "paper_received")[-1]
    assert (entry.actor, entry.origin, entry.unit) == (CLERK, "testclient", unit)
    assert client.post("/paper/undo", data={"unit": unit, "csrf_token": token}).status_code == 303
    with filled.factory() as session:
        assert session.scalar(select(PaperCopy).where(PaperCopy.unit == unit)) is None
    assert audit(filled, "paper_undo")[-1].unit == unit


def test_every_post_route_checks_the_csrf_token(filled: Filled) -> None:
    from starlette.routing import Route

    app = create_app(filled.settings, filled.factory)
    posts = [r for r in app.routes if isinstance(r, Route) and "POST" in (r.methods or set())]
    assert {r.path for r in posts} >= {"/login", "/logout", "/paper/received", "/paper/undo",
                                       "/mails/{pk:int}/resend", "/mails/{pk:int}/reprocess", "/reminders/send",
                                       "/submissions/{pk:int}/decision"}
    for route in posts:
        assert route.path == "/login" or getattr(route.endpoint, "csrf_checked", False), route.path


def test_attachment_download_by_id_with_rfc5987_name(client: TestClient, filled: Filled) -> None:
    login(client, VIEWER)
    with filled.factory() as session:
        name = "表3 窗口服务明星申报表-王晓雯.docx"
        row = session.scalars(select(AttachmentRow).where(AttachmentRow.path == name)).one()
        stored = filled.settings.path(filled.settings.storage.dir) / (row.storage_path or "")
    response = client.get(f"/attachments/{row.id}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"_3 _________-___.docx\"; filename*=UTF-8''"
        "%E8%A1%A83%20%E7%AA%97%E5%8F%A3%E6%9C%8D%E5%8A%A1%E6%98%8E%E6%98%9F%E7%94%B3%E6%8A%A5%E8%A1%A8-"
        "%E7%8E%8B%E6%99%93%E9%9B%AF.docx")
    assert hashlib.sha256(response.content).hexdigest() == row.sha256 == hashlib.sha256(stored.read_bytes()).hexdigest()
    assert response.headers["x-content-type-options"] == "nosniff"
    raw = client.get(f"/mails/{row.message_pk}/raw")
    assert raw.status_code == 200 and raw.content.startswith(b"") and b"Subject:" in raw.content
    assert raw.headers["content-disposition"] == (
        f"attachment; filename=\"mail-{row.message_pk}.eml\"; filename*=UTF-8''mail-{row.message_pk}.eml")
    assert client.get("/attachments/999999").status_code == 404
    assert client.get("/attachments/..%2F..%2Fetc%2Fpasswd").status_code == 404


def test_hostile_attachment_name_is_neutralised(client: TestClient, filled: Filled) -> None:
    login(client, VIEWER)
    with filled.factory() as session:
        row = session.scalars(select(AttachmentRow).where(AttachmentRow.path == HOSTILE_FILE)).one()
    disposition = client.get(f"/attachments/{row.id}").headers["content-disposition"]
    assert disposition == ("attachment; filename=\"<img src=x onerror=alert(3)>_3.docx\"; "
                           "filename*=UTF-8''%3Cimg%20src%3Dx%20onerror%3Dalert%283%29%3E%E8%A1%A83.docx")


def test_applicant_markup_is_escaped_and_no_script_may_run(client: TestClient, filled: Filled) -> None:
    login(client, VIEWER)
    pk = hostile_pk(filled)
    for path in (f"/mails/{pk}", "/mails", "/submissions?table=3", "/units", "/reminders", "/handoff"):
        response = client.get(path)
        assert response.status_code == 200
        assert "<script" not in response.text.lower(), path
        assert "<img" not in response.text.lower() and "<svg" not in response.text.lower(), path
        csp = response.headers["content-security-policy"]
        assert "script-src 'none'" in csp and "unsafe-inline" not in csp
    page = client.get(f"/mails/{pk}").text
    assert "&lt;script&gt;alert(&#34;subject&#34;)&lt;/script&gt;申报表" in page
    assert "&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;" in page


def test_search_covers_senders_subjects_units_people_and_files(client: TestClient) -> None:
    login(client, VIEWER)

    def found(**params: str) -> list[str]:
        return re.findall(r'<a href="/mails/(\d+)">', client.get("/mails", params=params).text)

    assert len(found()) == 11  # the demo's ten (no .doc) and the hostile one
    assert len(found(q="刘芳")) == 1  # a person in a zipped 表3
    assert found(q="刘芳") == found(q="szggzy") == found(q="交易中心双争双创") == found(q="赵磊）.docx")
    assert len(found(q="张家港市行政审批局")) == 1  # a unit
    assert len(found(status="needs_correction")) == 2
    assert found(q="100%_") == []
    assert "没有符合条件的邮件" in client.get("/mails", params={"q": "不存在的名字"}).text


def test_every_page_renders_for_a_viewer_without_clerk_buttons(client: TestClient, filled: Filled) -> None:
    login(client, VIEWER)
    pages = ["/", "/mails", "/mails?page=2", f"/mails/{hostile_pk(filled)}", "/units",
             "/units/" + quote("苏州市吴中区行政审批局"),
             "/submissions?table=1", "/submissions?table=4&sort=words&dir=desc", "/reports", "/audit",
             "/reports/1/html", "/reminders", "/handoff"]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert "/resend\"" not in response.text and "纸质材料已收到</button>" not in response.text
        assert "发送催报</button>" not in response.text and "同意受理</button>" not in response.text
    overview = client.get("/").text
    assert "已截止" in overview and "2019-12-18 17:30" in overview
    assert '<a href="/reports/1/xlsx">汇总表.xlsx</a>' in overview
    xlsx = client.get("/reports/1/xlsx")
    assert xlsx.content.startswith(b"PK")
    assert "filename*=UTF-8''%E5%8F%8C%E4%BA%89" in xlsx.headers["content-disposition"]
    assert client.get("/mails/999999").status_code == 404
    assert client.get("/submissions?table=9").status_code == 404


def test_a_disabled_account_loses_its_session(client: TestClient, filled: Filled) -> None:
    from mailintake.db.audit import Actor
    from mailintake.office.users import add_user, disable_user

    with filled.factory() as session, session.begin():
        add_user(session, Actor("setup", "CLI"), "leaver", "clerk", PASSWORD)
    login(client, "leaver")
    with filled.factory() as session, session.begin():
        disable_user(session, Actor("setup", "CLI"), "leaver")
    assert client.get("/").status_code == 303
    token = csrf_of(client.get("/login").text)
    assert client.post("/login", data={"username": "leaver", "password": PASSWORD,
                                       "csrf_token": token}).status_code == 401
    with filled.factory() as session:
        assert session.scalar(select(User.disabled).where(User.login == "leaver")) is True


def test_clerk_resends_a_reply_and_reprocesses_a_mail(client: TestClient, filled: Filled) -> None:
    from mailintake.db.models import OutboxItem

    token = login(client, CLERK)
    with filled.factory() as session:
        message = session.scalars(select(Message).where(Message.from_addr == "zwfwc_sz@163.com")).one()
        before = session.scalar(select(OutboxItem.id).order_by(OutboxItem.id.desc()).limit(1))
    page = client.get(f"/mails/{message.id}").text
    assert "重新发送回复" in page and "重新处理" in page
    response = client.post(f"/mails/{message.id}/resend", data={"csrf_token": token})
    assert response.status_code == 303
    assert "已将回复重新放入发件队列（zwfwc_sz@163.com）" in client.get(f"/mails/{message.id}").text
    with filled.factory() as session:
        queued = session.scalars(select(OutboxItem).where(OutboxItem.id > (before or 0))).one()
        assert (queued.message_pk, queued.status, queued.kind) == (message.id, "pending", "receipt")
    entry = audit(filled, "resend")[-1]
    assert (entry.actor, entry.message_pk) == (CLERK, message.id)
    assert client.post(f"/mails/{message.id}/reprocess", data={"csrf_token": token}).status_code == 303
    assert "已重新处理，当前状态：已受理。" in client.get(f"/mails/{message.id}").text
    entry = audit(filled, "reprocess")[-1]
    assert (entry.actor, entry.message_pk, entry.detail) == (CLERK, message.id, "重新处理：accepted → accepted")


def test_audit_page_lists_logins_newest_first(client: TestClient) -> None:
    login(client, VIEWER)
    page = client.get("/audit").text
    first = re.search(r"<td class=\"nowrap\">(登录|登录失败|退出|[^<]+)</td><td>", page)
    assert first is not None
    assert page.index(">登录<") < page.index(">新建账号<")


def test_pages_search_and_actions_on_sqlite_and_postgresql(db_env: Env, imap_server: Any) -> None:
    """GIVEN the demo's sample mails polled from pymap into either database THEN every page renders,
    the search finds a person in a zipped form, and 纸质材料已收到 is stored and audited."""
    from mailintake.db.audit import Actor
    from mailintake.demo.session import sample_mails
    from mailintake.intake.cycle import poll_once
    from mailintake.office.users import add_user
    from tests.support.servers import append_mail
    from tests.support.web_support import SECRET

    for sample in sample_mails(with_doc=False):
        append_mail(imap_server, sample.raw, sample.internaldate)
    settings = db_env.settings(imap=imap_server, web={"secret_key": SECRET})
    factory = db_env.session_factory
    poll_once(settings, factory)
    with factory() as session, session.begin():
        add_user(session, Actor("setup", "CLI"), CLERK, "clerk", PASSWORD)
    with TestClient(create_app(settings, factory), follow_redirects=False) as client:
        token = login(client, CLERK)
        with factory() as session:
            first = session.scalar(select(Message.id).order_by(Message.id).limit(1))
        for path in ("/", "/mails", f"/mails/{first}", "/units", "/units/" + quote(UNIT_WZ), "/submissions?table=3",
                     "/submissions?table=1&sort=unit&dir=desc", "/reports", "/audit", "/healthz", "/reminders",
                     "/handoff", "/handoff/workbook", "/handoff/ballot"):
            assert client.get(path).status_code == 200, path
        rows = re.findall(r'<a href="/mails/(\d+)">', client.get("/mails", params={"q": "刘芳"}).text)
        assert len(rows) == 1
        assert len(re.findall(r'<a href="/mails/(\d+)">', client.get("/mails", params={"q": "QQ.COM"}).text)) == 4
        assert client.post("/paper/received", data={"unit": UNIT_WZ, "csrf_token": token}).status_code == 303
    with factory() as session:
        assert session.scalar(select(PaperCopy.unit)) == UNIT_WZ
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "paper_received")).one()
        assert (entry.actor, entry.unit) == (CLERK, UNIT_WZ)
    factory.kw["bind"].dispose()


def test_overview_warns_when_the_worker_is_quiet_and_counts_down(filled: Filled) -> None:
    from mailintake.web.queries.overview import time_left

    deadline = dt.datetime(2019, 12, 18, 17, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert time_left(deadline, deadline - dt.timedelta(days=2, hours=3, minutes=20)) == ("2 天 3 小时", False)
    assert time_left(deadline, deadline - dt.timedelta(minutes=95)) == ("1 小时 35 分钟", False)
    assert time_left(deadline, deadline) == ("已截止", True)
    quiet = filled.settings.model_copy(update={"schedule": filled.settings.schedule.model_copy(
        update={"poll_interval": 0})})
    with TestClient(create_app(quiet, filled.factory), follow_redirects=False) as c:
        login(c, VIEWER)
        assert "后台服务可能未在运行" in c.get("/").text
    with TestClient(create_app(filled.settings, filled.factory), follow_redirects=False) as c:
        login(c, VIEWER)
        assert "后台服务可能未在运行" not in c.get("/").text


def test_login_never_redirects_off_site(client: TestClient) -> None:
    for target in ("//evil.example.com/", "https://evil.example.com/", "\\\\evil"):
        client.cookies.clear()
        token = csrf_of(client.get("/login").text)
        response = client.post("/login", data={"username": VIEWER, "password": PASSWORD, "csrf_token": token,
                                               "next": target})
        assert (response.status_code, response.headers["location"]) == (303, "/")


def test_a_mailbox_outage_on_the_overview_and_healthz(client: TestClient, filled: Filled) -> None:
    """GIVEN the IMAP mailbox recorded unreachable WHEN the clerk opens the overview THEN it says so and that
    no mail is lost; /healthz says degraded with imap.since; once the row is gone both are back to normal."""
    from mailintake.db.models import ServiceHealth

    since = dt.datetime(2019, 12, 17, 1, 0, tzinfo=dt.UTC)
    with filled.factory() as session:
        session.add(ServiceHealth(name="mailbox", down_since=since, checked_at=since,
                                  cause="cannot connect to imap.qq.com:993 (timed out)", fix=""))
        session.commit()
    try:
        health = client.get("/healthz").json()
        assert (health["status"], health["imap"]) == (
            "degraded", {"state": "unreachable", "since": "2019-12-17T01:00:00+00:00"})
        login(client)
        overview = client.get("/").text
        assert ("收件邮箱（IMAP）自 2019-12-17 09:00 起无法连接，新来信暂留在邮箱服务器上，恢复后将自动收取，不会丢失。"
                "原因：cannot connect to imap.qq.com:993 (timed out)。") in overview
    finally:
        with filled.factory() as session:
            session.delete(session.get(ServiceHealth, "mailbox"))
            session.commit()
    assert client.get("/healthz").json()["status"] == "ok"
    assert "收件邮箱（IMAP）" not in client.get("/").text


def test_smtp_outage_on_the_overview_and_healthz_and_resend_failed_behind_a_confirmation(
    client: TestClient, filled: Filled
) -> None:
    """GIVEN SMTP recorded unreachable and one reply that gave up WHEN the clerk opens the overview THEN it names
    the outage and links to /outbox/failed, /healthz says degraded; the confirmation page lists the reply, and
    confirming queues it once (audited once); a second confirmation queues nothing."""
    from mailintake.db.models import OutboxItem, ServiceHealth

    since = dt.datetime(2019, 12, 17, 1, 0, tzinfo=dt.UTC)
    with filled.factory() as session:
        row = session.scalars(select(OutboxItem).where(OutboxItem.kind == "receipt").order_by(OutboxItem.id)).first()
        assert row is not None
        saved = (row.status, row.attempts, row.last_error, row.created_at, row.next_attempt_at)
        row.status, row.last_error = "failed", "gave up after 3 attempts: cannot reach 127.0.0.1:25"
        session.add(ServiceHealth(name="smtp", down_since=since, checked_at=since, cause="cannot reach x", fix=""))
        session.commit()
        row_id = row.id
    try:
        health = client.get("/healthz").json()
        assert health["status"] == "degraded"
        assert health["smtp"]["state"] == "unreachable" and health["smtp"]["since"] == "2019-12-17T01:00:00+00:00"
        token = login(client)
        overview = client.get("/").text
        assert "发件服务器（SMTP）自 2019-12-17 09:00 起无法连接" in overview and "原因：cannot reach x" in overview
        assert 'href="/outbox/failed"' in overview
        confirm = client.get("/outbox/failed").text
        assert "确认全部重新发送（1 封）" in confirm and "cannot reach 127.0.0.1:25" in confirm
        assert client.post("/outbox/resend-failed", data={}).status_code == 403  # no CSRF token
        done = client.post("/outbox/resend-failed", data={"csrf_token": token})
        assert (done.status_code, done.headers["location"]) == (303, "/")
        assert client.post("/outbox/resend-failed", data={"csrf_token": token}).status_code == 303
        entries = audit(filled, "resend_failed")
        assert [e.detail for e in entries] == [f"重新发送发送失败的邮件（1 封，发件队列 {row_id}–{row_id}）"]
        with filled.factory() as session:
            again = session.get(OutboxItem, row_id)
            assert again is not None and (again.status, again.attempts) == ("pending", 0)
    finally:
        with filled.factory() as session:
            again = session.get(OutboxItem, row_id)
            assert again is not None
            again.status, again.attempts, again.last_error, again.created_at, again.next_attempt_at = saved
            health_row = session.get(ServiceHealth, "smtp")
            if health_row is not None:
                session.delete(health_row)
            session.commit()


def test_the_form_list_is_filtered_by_the_days_its_mails_were_received(client: TestClient, filled: Filled) -> None:
    """GIVEN table 1's forms received over several days WHEN the clerk picks one day (自/至, campaign zone)
    THEN exactly that day's forms are listed, and the range stays in the sort links."""
    from mailintake.db.models import Submission

    tz = filled.settings.campaign.tz
    with filled.factory() as session:
        received = session.scalars(select(Submission.received_at).where(
            Submission.table_no == 1, Submission.current.is_(True))).all()
    days = sorted({moment.astimezone(tz).date() for moment in received})
    assert (days, len(received)) == ([dt.date(2019, 12, 16), dt.date(2019, 12, 18)], 2)
    day = days[0]
    expected = sum(1 for moment in received if moment.astimezone(tz).date() == day)
    login(client, VIEWER)
    everything = client.get("/submissions?table=1&size=200").text
    one_day = client.get(f"/submissions?table=1&size=200&from={day}&to={day}").text
    assert (everything.count("#form-"), one_day.count("#form-"), expected) == (2, 1, 1)
    assert f'value="{day}"' in one_day and f"from={day}&amp;to={day}" in one_day
    later = client.get(f"/submissions?table=1&size=200&from={days[1]}").text
    assert later.count("#form-") == len(received) - expected
