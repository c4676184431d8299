"""Delivery over SMTP against a real aiosmtpd server: send once, retry 4xx with backoff, record 5xx,
resend a receipt, and the ``send`` / ``resend`` commands."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailintake.cli import cli
from mailintake.config.settings import Settings
from mailintake.db.models import OutboxItem
from mailintake.errors import SmtpError
from mailintake.outbox.queue import OutboxError, build_mail, queue_again
from mailintake.outbox.sender import backoff, deliver_due
from tests.support.env import Env
from tests.support.servers import SmtpSink, free_port
from tests.unit.outbox.test_replies import NOW, add_attachment, add_form, add_message, queue, reply_settings


@pytest.fixture
def settings(env: Env, smtp_sink: SmtpSink) -> Settings:
    return reply_settings(env, smtp={"port": smtp_sink.port})


@pytest.fixture
def db(env: Env) -> sessionmaker[Session]:
    return env.session_factory


def accepted_mail(db: sessionmaker[Session], settings: Settings, n: int = 1) -> int:
    """An accepted mail with its receipt queued; returns the outbox row id."""
    with db() as session:
        message = add_message(session, receipt_no=f"2019-{n:04d}", message_id=f"<orig-{n}@example.com>",
                              from_addr=f"user{n}@example.com")
        add_form(session, message, add_attachment(session, message, "a.docx"), 2, {"unit": "姑苏区行政审批局"}, 321)
        row = queue(session, settings, message)
        assert row is not None
        session.commit()
        return row.id


def get_row(db: sessionmaker[Session], row_id: int) -> OutboxItem:
    with db() as session:
        row = session.get(OutboxItem, row_id)
        assert row is not None
        return row


def test_delivers_once_and_marks_sent(settings: Settings, db: sessionmaker[Session], smtp_sink: SmtpSink) -> None:
    row_id = accepted_mail(db, settings)
    result = deliver_due(settings, db, now=NOW)
    assert (result.sent, result.retried, result.failed, result.errors) == (1, 0, 0, [])
    [delivered] = smtp_sink.wait_for(1)
    assert delivered.mail_from == "office@example.gov.cn"
    assert delivered.rcpt_tos == ("user1@example.com",)
    parsed = email.message_from_bytes(delivered.raw, policy=email.policy.default)
    assert parsed["Subject"] == "Re: 表1申报材料 [申报回执 2019-0001]"
    assert parsed["In-Reply-To"] == "<orig-1@example.com>"
    row = get_row(db, row_id)
    assert (row.status, row.attempts, row.sent_at, row.last_error) == ("sent", 1, NOW, None)
    again = deliver_due(settings, db, now=NOW + timedelta(hours=1))
    assert (again.sent, again.retried, again.failed) == (0, 0, 0)
    assert len(smtp_sink.messages) == 1


def test_451_then_success_delivers_once(settings: Settings, db: sessionmaker[Session], smtp_sink: SmtpSink) -> None:
    row_id = accepted_mail(db, settings)
    smtp_sink.fail_next(451, "4.3.0 Try again later")
    first = deliver_due(settings, db, now=NOW)
    assert (first.sent, first.retried, first.failed) == (0, 1, 0)
    row = get_row(db, row_id)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "451 4.3.0 Try again later")
    assert row.next_attempt_at == NOW + timedelta(minutes=1)
    early = deliver_due(settings, db, now=NOW + timedelta(seconds=30))
    assert (early.sent, early.retried) == (0, 0)
    second = deliver_due(settings, db, now=NOW + timedelta(minutes=2))
    assert (second.sent, second.retried, second.failed) == (1, 0, 0)
    assert len(smtp_sink.wait_for(1)) == 1
    row = get_row(db, row_id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)
    assert len(smtp_sink.messages) == 1


def test_550_is_recorded_as_failed(settings: Settings, db: sessionmaker[Session], smtp_sink: SmtpSink) -> None:
    row_id = accepted_mail(db, settings)
    smtp_sink.fail_next(550, "5.7.1 Message rejected as spam")
    result = deliver_due(settings, db, now=NOW)
    assert (result.sent, result.retried, result.failed) == (0, 0, 1)
    assert result.errors == [f"outbox {row_id}: 550 5.7.1 Message rejected as spam"]
    row = get_row(db, row_id)
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "550 5.7.1 Message rejected as spam")
    assert deliver_due(settings, db, now=NOW + timedelta(hours=2)).sent == 0
    assert smtp_sink.messages == []


def test_recipient_refused_550_at_rcpt(settings: Settings, db: sessionmaker[Session], smtp_sink: SmtpSink) -> None:
    row_id = accepted_mail(db, settings)
    smtp_sink.fail_next(550, "5.1.1 No such user", stage="RCPT")
    result = deliver_due(settings, db, now=NOW)
    assert (result.failed, result.retried) == (1, 0)
    row = get_row(db, row_id)
    assert row.status == "failed"
    assert row.last_error == "recipient refused: user1@example.com: 550 5.1.1 No such user"


def test_one_bad_row_does_not_stop_the_batch(
    settings: Settings, db: sessionmaker[Session], smtp_sink: SmtpSink
) -> None:
    ids = [accepted_mail(db, settings, n) for n in (1, 2, 3)]
    smtp_sink.fail_next(421, "4.4.2 Closing connection")
    result = deliver_due(settings, db, now=NOW)
    assert (result.sent, result.retried, result.failed) == (2, 1, 0)
    assert [get_row(db, i).status for i in ids] == ["pending", "sent", "sent"]
    assert sorted(m.rcpt_tos[0] for m in smtp_sink.wait_for(2)) == ["user2@example.com", "user3@example.com"]


def test_gives_up_after_max_attempts(env: Env, smtp_sink: SmtpSink) -> None:
    settings = reply_settings(env, smtp={"port": smtp_sink.port, "max_attempts": 3})
    db = env.session_factory
    row_id = accepted_mail(db, settings)
    smtp_sink.fail_next(452, "4.3.1 Insufficient storage", times=3)
    when = NOW
    outcomes = []
    for _ in range(3):
        result = deliver_due(settings, db, now=when)
        outcomes.append((result.retried, result.failed))
        when = get_row(db, row_id).next_attempt_at + timedelta(seconds=1)
    assert outcomes == [(1, 0), (1, 0), (0, 1)]
    row = get_row(db, row_id)
    assert (row.status, row.attempts) == ("failed", 3)
    assert row.last_error == "gave up after 3 attempts: 452 4.3.1 Insufficient storage"


def test_unreachable_server_retries_every_row(env: Env) -> None:
    settings = reply_settings(env, smtp={"port": free_port(), "timeout": 2.0})
    db = env.session_factory
    ids = [accepted_mail(db, settings, n) for n in (1, 2)]
    result = deliver_due(settings, db, now=NOW)
    assert (result.sent, result.retried, result.failed) == (0, 2, 0)
    for row_id in ids:
        row = get_row(db, row_id)
        assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, NOW + timedelta(minutes=1))
        assert row.last_error is not None and row.last_error.startswith(f"cannot reach 127.0.0.1:{settings.smtp.port}")


def test_server_without_auth_is_an_operator_error(env: Env, smtp_sink: SmtpSink) -> None:
    # the sink offers no AUTH: asking to log in is a configuration problem, rows stay untouched
    settings = reply_settings(env, smtp={"port": smtp_sink.port, "username": "office@example.gov.cn",
                                         "password": "x"})
    db = env.session_factory
    row_id = accepted_mail(db, settings)
    with pytest.raises(SmtpError) as caught:
        deliver_due(settings, db, now=NOW)
    assert str(caught.value) == ("smtp: 127.0.0.1 lacks a needed feature (SMTP AUTH extension not supported by "
                                 "server.); check [smtp] security, port and username")
    assert caught.value.exit_code == 4
    row = get_row(db, row_id)
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 0, NOW)


def test_report_rows_are_delivered_too(settings: Settings, db: sessionmaker[Session], smtp_sink: SmtpSink) -> None:
    mail = build_mail(settings, to=[("办公室", "boss@example.gov.cn")], subject="申报日报 2019-12-10",
                      text="日报正文", auto_reply=False, now=NOW)
    with db() as session:
        row = OutboxItem(kind="report", recipients=["boss@example.gov.cn"], cc=[], subject="申报日报 2019-12-10",
                         raw=mail.as_bytes(), status="pending", next_attempt_at=NOW, created_at=NOW)
        session.add(row)
        session.commit()
        row_id = row.id
    assert deliver_due(settings, db, now=NOW).sent == 1
    [delivered] = smtp_sink.wait_for(1)
    assert delivered.rcpt_tos == ("boss@example.gov.cn",)
    parsed = email.message_from_bytes(delivered.raw, policy=email.policy.default)
    assert parsed["Auto-Submitted"] is None and parsed["Subject"] == "申报日报 2019-12-10"
    assert get_row(db, row_id).status == "sent"


def test_resend_queues_a_copy_with_a_new_identity(
    settings: Settings, db: sessionmaker[Session], smtp_sink: SmtpSink
) -> None:
    accepted_mail(db, settings, 42)
    deliver_due(settings, db, now=NOW)
    with db() as session:
        row = queue_again(session, settings, "2019-0042", now=NOW + timedelta(days=1))
        session.commit()
        assert (row.kind, row.status, row.recipients) == ("receipt", "pending", ["user42@example.com"])
    assert deliver_due(settings, db, now=NOW + timedelta(days=1)).sent == 1
    first, second = (email.message_from_bytes(m.raw, policy=email.policy.default) for m in smtp_sink.wait_for(2))
    assert first["Subject"] == second["Subject"] == "Re: 表1申报材料 [申报回执 2019-0042]"
    assert first["Message-ID"] != second["Message-ID"]
    assert second["Date"] == "Wed, 11 Dec 2019 02:06:00 +0000"
    assert len(second.get_all("Message-ID") or []) == 1
    with db() as session, pytest.raises(OutboxError) as caught:
        queue_again(session, settings, "2019-9999")
    assert str(caught.value) == (
        "resend: no mail has receipt number '2019-9999'; check the number (mailintake export lists them)"
    )


def test_resend_refuses_a_reply_suppressed_for_its_recipient(settings: Settings, db: sessionmaker[Session]) -> None:
    with db() as session:
        message = add_message(session, from_addr="noreply@example.com", receipt_no="2019-0050")
        queue(session, settings, message)
        session.commit()
        with pytest.raises(OutboxError) as caught:
            queue_again(session, settings, "2019-0050")
    assert str(caught.value) == ("resend: the reply for 2019-0050 was not sent "
                                 "(recipient noreply@example.com is an automatic address); it cannot be resent")


def test_backoff_doubles_and_caps() -> None:
    assert [backoff(n).total_seconds() / 60 for n in range(1, 10)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_send_and_resend_commands(tmp_path: Path, env: Env, smtp_sink: SmtpSink) -> None:
    root = Path(__file__).resolve().parents[3]
    config = tmp_path / "mailintake.toml"
    config.write_text(
        f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_sink.port}\nsecurity = "none"\nsender = "office@example.gov.cn"\n'
        f'[database]\nurl = "{env.url}"\n'
        f'[campaign]\ntemplates = "{root / "config" / "templates"}"\nforms = "{root / "config" / "forms.toml"}"\n',
        "utf-8",
    )
    settings = reply_settings(env)
    db = env.session_factory
    accepted_mail(db, settings, 7)
    runner = CliRunner()
    sent = runner.invoke(cli, ["--config", str(config), "send"], env={})
    assert (sent.exit_code, sent.stdout) == (0, "sent 1, retry later 0, failed 0\n")
    again = runner.invoke(cli, ["--config", str(config), "resend", "2019-0007"], env={})
    assert again.exit_code == 0
    with db() as session:
        newest = session.scalars(select(OutboxItem).order_by(OutboxItem.id.desc())).first()
        assert newest is not None and newest.status == "pending"
        assert again.stdout == f"queued receipt reply for 2019-0007 to user7@example.com (outbox {newest.id})\n"
    unknown = runner.invoke(cli, ["--config", str(config), "resend", "2019-0404"], env={})
    assert unknown.exit_code == 1
    assert unknown.stderr == (
        "resend: no mail has receipt number '2019-0404'; check the number (mailintake export lists them)\n"
    )
    assert runner.invoke(cli, ["--config", str(config), "send"], env={}).stdout == "sent 1, retry later 0, failed 0\n"
    assert len(smtp_sink.wait_for(2)) == 2


def test_claimed_row_is_skipped_until_its_lease_ends(
    settings: Settings, db: sessionmaker[Session], smtp_sink: SmtpSink
) -> None:
    """GIVEN a row claimed by a sender that then died WHEN another run comes THEN it waits for the lease,
    then sends the row exactly once (the crash window the sender's docstring describes)."""
    from mailintake.outbox.sender import MIN_LEASE, _claim

    row_id = accepted_mail(db, settings)
    assert _claim(db, row_id, NOW, MIN_LEASE) is not None
    assert _claim(db, row_id, NOW, MIN_LEASE) is None  # a second sender cannot take it
    assert deliver_due(settings, db, now=NOW + timedelta(minutes=1)).sent == 0
    assert deliver_due(settings, db, now=NOW + MIN_LEASE).sent == 1
    assert len(smtp_sink.wait_for(1)) == 1
    assert get_row(db, row_id).status == "sent"
