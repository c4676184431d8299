"""Replies keep pace with the intake: no cap per delivery run, and replies leave while a poll goes on."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from sqlalchemy import func, insert, select

from mailintake.db.models import OutboxItem
from mailintake.demo.samples.forms import make_form_docx
from mailintake.intake.cycle import poll_once
from mailintake.outbox.queue import build_mail
from mailintake.outbox.sender import ReplyStream, deliver_due
from tests.support.env import Env
from tests.support.helpers import at, mail
from tests.support.servers import append_mail
from tests.unit.outbox.test_replies import NOW


def test_one_run_delivers_every_due_reply_past_the_batch_size(env: Env, smtp_sink: Any) -> None:
    """GIVEN 450 replies due (more than two batches of 200) WHEN deliver_due runs once THEN all leave, once each."""
    settings = env.settings(smtp=smtp_sink)
    session_factory = env.session_factory
    rows = []
    for n in range(450):
        raw = build_mail(settings, to=[("", f"u{n}@example.cn")], subject=f"回执 {n}", text="收到。").as_bytes()
        rows.append({"kind": "receipt", "recipients": [f"u{n}@example.cn"], "cc": [], "subject": f"回执 {n}",
                     "raw": raw, "status": "pending", "attempts": 0, "next_attempt_at": NOW, "created_at": NOW})
    with session_factory() as session, session.begin():
        session.execute(insert(OutboxItem), rows)

    result = deliver_due(settings, session_factory, now=NOW)

    assert (result.sent, result.retried, result.failed) == (450, 0, 0)
    assert sorted(Counter(m.rcpt_tos for m in smtp_sink.messages).values()) == [1] * 450
    assert deliver_due(settings, session_factory, now=NOW).sent == 0
    assert deliver_due(settings, session_factory, now=NOW, limit=10).sent == 0
    session_factory.kw["bind"].dispose()


def test_replies_leave_while_the_poll_goes_on(imap_server: Any, smtp_sink: Any, env: Env) -> None:
    """GIVEN six mails fetched in batches of two WHEN the poll runs with a reply stream THEN the first
    reply reaches the SMTP server while the poll still has mails to commit, and each reply leaves once."""
    for n in range(6):
        form = make_form_docx(2, {"unit": f"第{n}区行政审批局", "deeds": "推行“一件事一窗办”。"})
        append_mail(imap_server, mail(f"单位{n} <u{n}@example.cn>", "表2申报", message_id=f"<m{n}@example.cn>",
                                      attachments={"表2.docx": form}), at(16, 10, n))
    settings = env.settings(imap=imap_server, smtp=smtp_sink, mailbox={"fetch_batch": 2})
    session_factory = env.session_factory
    seen_during_poll: list[int] = []

    with ReplyStream(settings, session_factory) as stream:
        def on_commit() -> None:
            stream.nudge()
            if not seen_during_poll:  # after the first commit: wait (the poll blocked) for its reply
                seen_during_poll.append(len(smtp_sink.wait_for(1, timeout=20)))

        result = poll_once(settings, session_factory, on_commit=on_commit)
    delivery = stream.finish()

    assert result.counts == {"accepted": 6}
    assert seen_during_poll == [1]
    assert (delivery.sent, delivery.retried, delivery.failed) == (6, 0, 0)
    assert sorted(m.rcpt_tos for m in smtp_sink.messages) == [(f"u{n}@example.cn",) for n in range(6)]
    with session_factory() as session:
        assert session.scalar(select(func.count()).where(OutboxItem.status == "sent")) == 6
    session_factory.kw["bind"].dispose()


def test_a_stream_with_nothing_due_sends_nothing(env: Env, smtp_sink: Any) -> None:
    """GIVEN no reply is due WHEN a stream runs THEN it delivers nothing and finishes cleanly."""
    settings = env.settings(smtp=smtp_sink)
    session_factory = env.session_factory
    with ReplyStream(settings, session_factory, interval=0.05) as stream:
        time.sleep(0.2)
    result = stream.finish()
    assert (result.sent, result.retried, result.failed, len(smtp_sink.messages)) == (0, 0, 0, 0)
    session_factory.kw["bind"].dispose()


def test_a_poll_starts_with_small_fetch_groups() -> None:
    """The first group of a poll is small (its replies leave early), then groups double up to fetch_batch."""
    from mailintake.intake.fetch import _chunks

    assert [len(c) for c in _chunks(list(range(200)), 50)] == [5, 10, 20, 40, 50, 50, 25]
    assert [list(c) for c in _chunks([1, 2, 3], 2)] == [[1, 2], [3]]
    assert [len(c) for c in _chunks(list(range(7)), 1)] == [1] * 7
