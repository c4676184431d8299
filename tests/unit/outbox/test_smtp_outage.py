"""Outbound health against a real aiosmtpd server that is stopped and started again: an outage is one state
(logged once, in ``status``), retries last through it, ``send`` delivers every waiting reply at once and
exits 4 while the server is down, and ``resend --failed`` queues each reply that gave up exactly once."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from mailintake.cli import cli
from mailintake.db.models import OutboxItem
from mailintake.demo.samples.mails import MessageBuilder
from mailintake.demo.session import write_config
from mailintake.outbox.health import smtp_outage
from mailintake.outbox.sender import deliver_due, give_up_at
from tests.support.fixtures.env import Env
from tests.support.servers import PymapServer, SmtpSink, append_mail, free_port
from tests.unit.outbox.test_replies import NOW, reply_settings
from tests.unit.outbox.test_sender import accepted_mail, get_row

ROOT = Path(__file__).resolve().parents[3]
CST = dt.timezone(dt.timedelta(hours=8))


def question() -> bytes:
    return (MessageBuilder("qq").sender("常熟市行政审批局", "csspj@qq.com").subject("请问纸质材料需要几份？")
            .message_id("<q1@qq.com>").text("王老师您好，请问纸质材料需要几份？").build())


def config_file(tmp_path: Path, env: Env, port: int, **smtp: object) -> Path:
    extra = "".join(f"{key} = {value}\n" for key, value in smtp.items())
    config = tmp_path / "mailintake.toml"
    config.write_text(
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\nsender = "office@example.gov.cn"\n'
        f"timeout = 5.0\n{extra}"
        f'[database]\nurl = "{env.url}"\n'
        f'[campaign]\ntemplates = "{ROOT / "config" / "templates"}"\nforms = "{ROOT / "config" / "forms.toml"}"\n',
        "utf-8",
    )
    return config


def test_an_outage_is_one_state_logged_once_and_ends_with_everything_sent(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    """GIVEN two replies and no SMTP server WHEN delivery runs twice THEN both wait (no give-up), the outage is
    recorded and logged once; WHEN the server is back THEN one run sends both at once, before their retry time,
    and logs the recovery once."""
    port = free_port()
    settings = reply_settings(env, smtp={"port": port, "timeout": 2.0})
    db = env.session_factory
    ids = [accepted_mail(db, settings, n) for n in (1, 2)]
    caplog.set_level(logging.INFO, logger="mailintake")
    first = deliver_due(settings, db, now=NOW)
    second = deliver_due(settings, db, now=NOW + timedelta(minutes=1))
    assert (first.retried, first.failed, second.retried, second.failed) == (2, 0, 2, 0)
    assert first.unreachable is not None and first.unreachable.startswith(f"cannot reach 127.0.0.1:{port}")
    assert first.summary() == (f"smtp: SMTP unreachable ({first.unreachable}); 2 mail(s) wait and are retried "
                               "automatically, `mailintake send` delivers them at once when the server is back")
    with db() as session:
        outage = smtp_outage(session)
    assert outage is not None and outage.cause == second.unreachable
    lines = [r.getMessage() for r in caplog.records if "SMTP" in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith("SMTP unreachable since ")
    assert lines[0].endswith(f"(2 replies waiting): {first.unreachable}; replies wait and are retried "
                             "automatically; check [smtp] host, port and security and the server, then "
                             "`mailintake send` delivers every waiting reply at once")
    assert [get_row(db, i).next_attempt_at for i in ids] == [NOW + timedelta(minutes=3)] * 2
    with SmtpSink(port=port) as sink:
        back = deliver_due(settings, db, now=NOW + timedelta(minutes=2))  # before the rows' retry time
        assert (back.sent, back.retried, back.failed, back.complete) == (2, 0, 0, True)
        assert sorted(m.rcpt_tos[0] for m in sink.wait_for(2)) == ["user1@example.com", "user2@example.com"]
    with db() as session:
        assert smtp_outage(session) is None
    lines = [r.getMessage() for r in caplog.records if "SMTP" in r.getMessage()]
    assert len(lines) == 2 and lines[1].startswith("SMTP reachable again (unreachable since ")


def test_retries_last_until_the_window_and_the_deadline_then_give_up(env: Env) -> None:
    """GIVEN the default window (48 h, never before the deadline plus a day) WHEN SMTP stays down THEN a reply
    queued 8 days before the deadline is retried until the deadline plus a day, then gives up once."""
    settings = reply_settings(env, smtp={"port": free_port(), "timeout": 2.0})
    assert settings.smtp.retry_window == timedelta(hours=48) and settings.smtp.max_attempts is None
    db = env.session_factory
    row_id = accepted_mail(db, settings)
    end = give_up_at(settings, NOW)
    assert end == settings.campaign.deadline + timedelta(days=1)
    assert deliver_due(settings, db, now=NOW + timedelta(hours=47)).retried == 1
    assert deliver_due(settings, db, now=end - timedelta(seconds=1)).retried == 1
    assert get_row(db, row_id).status == "pending"
    late = deliver_due(settings, db, now=end + timedelta(minutes=15))
    assert (late.retried, late.failed) == (0, 1)
    row = get_row(db, row_id)
    assert row.status == "failed" and row.last_error is not None
    assert row.last_error.startswith("gave up after 3 attempts: cannot reach 127.0.0.1:")


def test_send_exits_4_while_smtp_is_down_and_delivers_everything_by_hand(tmp_path: Path, env: Env) -> None:
    """GIVEN a reply waiting and SMTP down WHEN `send` runs THEN exit 4 with one line; WHEN the server is back
    THEN `send` by hand delivers it at once although its retry time is later, and exits 0."""
    port = free_port()
    config = config_file(tmp_path, env, port, retry_window='"P3650D"')  # the rows are queued in 2019
    settings = reply_settings(env, smtp={"port": port})
    row_id = accepted_mail(env.session_factory, settings)
    runner = CliRunner()
    down = runner.invoke(cli, ["--quiet", "--config", str(config), "send"], env={})
    assert down.exit_code == 4
    assert down.stdout == "sent 0, retry later 1, failed 0\n"
    assert down.stderr.splitlines()[-1].startswith(f"smtp: SMTP unreachable (cannot reach 127.0.0.1:{port}")
    status = runner.invoke(cli, ["--config", str(config), "status", "--json"], env={})
    assert '"state": "unreachable"' in status.stdout
    assert get_row(env.session_factory, row_id).attempts == 1
    with SmtpSink(port=port) as sink:
        up = runner.invoke(cli, ["--quiet", "--config", str(config), "send"], env={})
        assert (up.exit_code, up.stdout) == (0, "sent 1, retry later 0, failed 0\n")
        assert len(sink.wait_for(1)) == 1
    status = runner.invoke(cli, ["--config", str(config), "status", "--json"], env={})
    assert '"state": "ok"' in status.stdout


def test_status_names_the_outage_under_problems(tmp_path: Path, env: Env) -> None:
    port = free_port()
    config = config_file(tmp_path, env, port, retry_window='"P3650D"')
    accepted_mail(env.session_factory, reply_settings(env, smtp={"port": port}))
    runner = CliRunner()
    assert runner.invoke(cli, ["--quiet", "--config", str(config), "send"], env={}).exit_code == 4
    text = runner.invoke(cli, ["--config", str(config), "status"], env={}, terminal_width=400).stdout
    problems = text.split("Problems:", 1)[1].splitlines()
    assert problems[1].strip().startswith("! SMTP unreachable since ")
    assert "(1 replies waiting): cannot reach 127.0.0.1:" in problems[1]
    assert "+08:00" in problems[1]


def test_resend_failed_requeues_each_reply_that_gave_up_once(tmp_path: Path, env: Env) -> None:
    """GIVEN three replies that gave up at once (max_attempts = 1, SMTP down), one of them already answered by a
    later `resend RECEIPT` that went out WHEN `resend --failed` runs twice and `send` delivers THEN the two others
    go out once each, and nobody gets two."""
    port = free_port()
    config = config_file(tmp_path, env, port, max_attempts=1)
    settings = reply_settings(env, smtp={"port": port, "max_attempts": 1})
    db = env.session_factory
    for n in (1, 2, 3):
        accepted_mail(db, settings, n)
    runner = CliRunner()
    down = runner.invoke(cli, ["--quiet", "--config", str(config), "send"], env={})
    assert (down.exit_code, down.stdout) == (4, "sent 0, retry later 0, failed 3\n")
    with SmtpSink(port=port) as sink:
        assert runner.invoke(cli, ["--config", str(config), "resend", "2019-0003"], env={}).exit_code == 0
        assert runner.invoke(cli, ["--quiet", "--config", str(config), "send"], env={}).exit_code == 0
        assert len(sink.wait_for(1)) == 1
        first = runner.invoke(cli, ["--config", str(config), "resend", "--failed"], env={})
        assert (first.exit_code, first.stdout) == (
            0, "queued 2 mail(s) that had given up; `mailintake send` delivers them now\n")
        again = runner.invoke(cli, ["--config", str(config), "resend", "--failed"], env={})
        assert again.stdout == "queued 0 mail(s) that had given up; `mailintake send` delivers them now\n"
        sent = runner.invoke(cli, ["--quiet", "--config", str(config), "send"], env={})
        assert (sent.exit_code, sent.stdout) == (0, "sent 2, retry later 0, failed 0\n")
        per_applicant = Counter(m.rcpt_tos[0] for m in sink.wait_for(3))
    assert per_applicant == {"user1@example.com": 1, "user2@example.com": 1, "user3@example.com": 1}
    with db() as session:
        statuses = Counter(session.scalars(select(OutboxItem.status)))
    assert statuses == {"sent": 3, "failed": 1}  # 2019-0003's first reply stays failed: its resend went out
    usage = runner.invoke(cli, ["--config", str(config), "resend", "--since", "2019-12-01"], env={})
    assert (usage.exit_code, usage.stderr) == (2, "resend: give a receipt number or --failed [--since TIME], "
                                                  "not both\n")


def test_poll_exits_4_when_replies_could_not_be_sent(tmp_path: Path, imap_server: PymapServer) -> None:
    """GIVEN a mail in the mailbox and no SMTP server WHEN `poll` runs THEN the mail is stored and answered in
    the queue, the poll's line is printed, and it exits 4 with one line saying the reply waits."""
    port = free_port()
    config = write_config(tmp_path / "cfg", imap_host=imap_server.host, imap_port=imap_server.port,
                          username=imap_server.username, password=imap_server.password, smtp_host="127.0.0.1",
                          smtp_port=port, extra={"report": {"recipients": []}, "smtp": {"timeout": 2.0,
                                                                                       "retry_window": "P3650D"}})
    append_mail(imap_server, question(), dt.datetime(2019, 12, 17, 9, 30, tzinfo=CST))
    result = CliRunner().invoke(cli, ["--quiet", "--config", str(config), "poll"], env={"MAILINTAKE_CONFIG": ""})
    assert result.exit_code == 4, result.output
    assert result.stdout == ("fetched 1 mail(s): no_form=1; duplicates=0; replies sent=0 retried=1 failed=0\n")
    assert result.stderr.splitlines()[-1].startswith(f"smtp: SMTP unreachable (cannot reach 127.0.0.1:{port}")
