"""A question read and answered from the console: the mail's text (quoted history folded), 发送答复
through the outbox (threaded, Re: subject, signature, loop guards) to a real SMTP sink, 已答复 with who
and when, 无需答复 and its undo, saved answers pre-filled, the waiting count on the overview and in the
mails list; the resend confirmation page."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from mailintake.db.models import AuditEntry, Message, OutboxItem
from mailintake.demo.servers.smtp_sink import start_smtp_sink
from mailintake.outbox.sender import deliver_due
from mailintake.web.app import create_app
from tests.support.web_support import CLERK, PASSWORD, VIEWER, Filled, fill

QUESTION = "请问表1可以申报几个项目？"


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Filled:
    return fill(tmp_path_factory.mktemp("answers") / "demo")


@pytest.fixture
def client(filled: Filled) -> Iterator[TestClient]:
    with TestClient(create_app(filled.settings, filled.factory), follow_redirects=False) as c:
        yield c


def login(client: TestClient, user: str = CLERK) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
    assert client.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": token}).status_code == 303
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text).group(1)  # type: ignore[union-attr]


def question(filled: Filled) -> Message:
    with filled.factory() as session:
        found = session.scalars(select(Message).where(Message.subject == QUESTION)).one()
        session.expunge(found)
        return found


def waiting_on_overview(client: TestClient) -> int:
    match = re.search(r'<a href="/mails\?waiting=1">待答复的来信</a> <strong>(\d+)</strong>', client.get("/").text)
    assert match
    return int(match.group(1))


def test_read_and_answer_a_question(client: TestClient, filled: Filled) -> None:
    token = login(client)
    mail = question(filled)
    waiting = waiting_on_overview(client)
    assert waiting >= 1
    listed = client.get("/mails?waiting=1").text
    assert f'href="/mails/{mail.id}"' in listed
    page = client.get(f"/mails/{mail.id}").text
    assert "请问我镇审批局表1最多可以申报几个项目？纸质材料需要几份？谢谢！" in page
    assert '<textarea name="body"' in page and ">发送答复</button>" in page and "待答复" in page
    saved = client.get(f"/mails/{mail.id}?saved=01_申报数量").text
    draft = saved.split('<textarea name="body"', 1)[1].split("</textarea>")[0]
    assert "原则上每家申报不超过2个项目" in draft

    response = client.post(f"/mails/{mail.id}/answer",
                           data={"csrf_token": token, "body": "您好！表1原则上每家申报不超过2个项目。"})
    assert response.status_code == 303
    shown = client.get(f"/mails/{mail.id}").text
    assert "答复已放入发件队列（szzspj@163.com）" in shown
    assert re.search(rf"已答复</span>（{CLERK}，\d{{4}}-\d\d-\d\d \d\d:\d\d）", shown)
    assert waiting_on_overview(client) == waiting - 1
    assert f'href="/mails/{mail.id}"' not in client.get("/mails?waiting=1").text
    with filled.factory() as session:
        [row] = session.scalars(select(OutboxItem).where(OutboxItem.message_pk == mail.id,
                                                         OutboxItem.kind == "answer")).all()
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "answer")).one()
    assert (row.recipients, row.status) == (["szzspj@163.com"], "pending")
    assert (entry.actor, entry.message_pk) == (CLERK, mail.id)

    sink = start_smtp_sink()
    try:
        settings = filled.settings.model_copy(update={"smtp": filled.settings.smtp.model_copy(
            update={"host": sink.host, "port": sink.port, "security": "none", "username": "", "password": ""})})
        deliver_due(settings, filled.factory)
        answers = [m for m in sink.messages if "szzspj@163.com" in m.rcpt_tos]
    finally:
        sink.stop()
    assert len(answers) == 1
    sent = email.message_from_bytes(answers[0].raw, policy=email.policy.default)
    assert sent["In-Reply-To"] == sent["References"] == mail.message_id
    assert str(sent["Subject"]).startswith(f"Re: {QUESTION}")
    assert "Auto-Submitted" not in sent
    text = sent.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
    assert text.startswith("您好！表1原则上每家申报不超过2个项目。\n")
    assert filled.settings.campaign.office_name in text and filled.settings.campaign.office_contact in text


def test_no_reply_mark_and_undo_and_viewers_cannot(client: TestClient, filled: Filled) -> None:
    with filled.factory() as session:
        pk = session.scalars(select(Message.id).where(Message.status == "no_form",
                                                       Message.automatic_reason.is_(None))).first()
    assert pk is not None
    token = login(client, VIEWER)
    assert ">发送答复</button>" not in client.get(f"/mails/{pk}").text
    assert client.post(f"/mails/{pk}/handled", data={"csrf_token": token, "state": "no_reply"}).status_code == 403
    client.post("/logout", data={"csrf_token": token})
    token = login(client)
    assert client.post(f"/mails/{pk}/handled", data={"csrf_token": token, "state": "no_reply"}).status_code == 303
    assert "无需答复</span>（" in client.get(f"/mails/{pk}").text
    assert client.post(f"/mails/{pk}/handled", data={"csrf_token": token, "state": ""}).status_code == 303
    assert "待答复" in client.get(f"/mails/{pk}").text
    with filled.factory() as session:
        actions = [a.action for a in session.scalars(select(AuditEntry).where(AuditEntry.message_pk == pk))]
    assert actions[-2:] == ["no_reply", "handled_undo"]


def test_resend_asks_first(client: TestClient, filled: Filled) -> None:
    token = login(client)
    with filled.factory() as session:
        pk, receipt = session.execute(select(Message.id, Message.receipt_no).where(
            Message.receipt_no.is_not(None)).order_by(Message.id)).first()  # type: ignore[misc]
    page = client.get(f"/mails/{pk}").text
    assert f'href="/mails/{pk}/resend"' in page and f'action="/mails/{pk}/resend"' not in page
    confirm = client.get(f"/mails/{pk}/resend").text
    assert f"将把回执编号 {receipt} 的自动回复" in confirm and ">确认重新发送</button>" in confirm
    assert client.post(f"/mails/{pk}/resend", data={"csrf_token": token}).status_code == 303
