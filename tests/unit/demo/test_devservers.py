"""The local servers themselves: SMTP sink failures, pymap/Dovecot start, restart, login methods."""

from __future__ import annotations

import smtplib
import time
from datetime import datetime, timedelta, timezone

import pytest
from imapclient import IMAPClient

from tests.support.servers import ImapServer, PymapServer, SmtpSink, append_mail, start_imap_server

CST = timezone(timedelta(hours=8))
MAIL = b"From: office@example.gov.cn\r\nTo: unit@example.com\r\nSubject: receipt\r\n\r\nreceived\r\n"


def send(sink: SmtpSink, rcpts: list[str] | None = None) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP(sink.host, sink.port, timeout=5) as client:
        return client.sendmail("office@example.gov.cn", rcpts or ["unit@example.com"], MAIL)


def test_sink_collects_messages(smtp_sink: SmtpSink) -> None:
    assert send(smtp_sink, ["a@example.com", "b@example.com"]) == {}
    (message,) = smtp_sink.wait_for(1, timeout=5)
    assert message.mail_from == "office@example.gov.cn"
    assert message.rcpt_tos == ("a@example.com", "b@example.com")
    assert message.raw == MAIL
    assert message.received_at.tzinfo is not None
    assert smtp_sink.messages == [message]


def test_sink_451_then_success(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next(451, "4.3.0 try again later")
    with pytest.raises(smtplib.SMTPDataError) as caught:
        send(smtp_sink)
    assert caught.value.smtp_code == 451
    assert caught.value.smtp_error == b"4.3.0 try again later"
    assert smtp_sink.messages == []
    assert send(smtp_sink) == {}
    assert [m.raw for m in smtp_sink.wait_for(1, timeout=5)] == [MAIL]


def test_sink_fails_several_times(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next(451, "busy", times=2)
    for _ in range(2):
        with pytest.raises(smtplib.SMTPDataError):
            send(smtp_sink)
    send(smtp_sink)
    assert len(smtp_sink.wait_for(1, timeout=5)) == 1


def test_sink_550_at_rcpt(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next(550, "5.1.1 mailbox unavailable", stage="RCPT")
    with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
        send(smtp_sink)
    assert caught.value.recipients == {"unit@example.com": (550, b"5.1.1 mailbox unavailable")}
    assert smtp_sink.messages == []


def test_sink_550_at_data(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next(550, "5.7.1 message refused")
    with pytest.raises(smtplib.SMTPDataError) as caught:
        send(smtp_sink)
    assert (caught.value.smtp_code, caught.value.smtp_error) == (550, b"5.7.1 message refused")
    assert smtp_sink.messages == []


def test_sink_421_hangs_up(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next(421, "4.3.2 service shutting down")
    client = smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=5)
    with pytest.raises(smtplib.SMTPDataError) as caught:
        client.sendmail("office@example.gov.cn", ["unit@example.com"], MAIL)
    assert caught.value.smtp_code == 421
    assert send(smtp_sink) == {}  # a new connection works
    assert len(smtp_sink.wait_for(1, timeout=5)) == 1


def test_wait_for_returns_what_arrived_after_the_timeout(smtp_sink: SmtpSink) -> None:
    send(smtp_sink)
    started = time.monotonic()
    assert len(smtp_sink.wait_for(2, timeout=0.2)) == 1
    assert 0.15 < time.monotonic() - started < 2


def test_pymap_starts_fast_and_stops() -> None:
    started = time.monotonic()
    server = start_imap_server({"a@example.com": "pw-a", "b@example.com": "pw-b"})
    try:
        assert time.monotonic() - started < 0.5
        assert server.host == "127.0.0.1"
        assert server.port > 0
        assert (server.username, server.password) == ("a@example.com", "pw-a")
        imap = server.client("b@example.com")
        assert imap.select_folder("INBOX")[b"EXISTS"] == 0
        imap.logout()
    finally:
        server.stop()
    with pytest.raises(ConnectionRefusedError):
        IMAPClient(server.host, server.port, ssl=False, timeout=2)


def test_login_methods_and_append_uid(any_imap_server: ImapServer) -> None:
    imap = IMAPClient(any_imap_server.host, any_imap_server.port, ssl=False, timeout=5)
    imap.plain_login(any_imap_server.username, any_imap_server.password)  # AUTHENTICATE PLAIN
    imap.logout()
    first = append_mail(any_imap_server, MAIL, datetime(2019, 12, 16, 19, 5, tzinfo=CST))
    second = append_mail(any_imap_server, MAIL, datetime(2019, 12, 16, 19, 6, tzinfo=CST), flags=[b"\\Seen"])
    assert first is not None
    assert second == first + 1
    imap = any_imap_server.client()
    imap.select_folder("INBOX", readonly=True)
    flags = imap.get_flags([first, second])
    imap.logout()
    assert b"\\Seen" not in flags[first]
    assert b"\\Seen" in flags[second]


def test_restart_keeps_port_and_mail(any_imap_server: ImapServer) -> None:
    uid = append_mail(any_imap_server, MAIL, datetime(2019, 12, 16, 19, 5, tzinfo=CST))
    port = any_imap_server.port
    imap = any_imap_server.client()
    imap.select_folder("INBOX", readonly=True)
    any_imap_server.restart()
    assert any_imap_server.port == port
    with pytest.raises((IMAPClient.AbortError, OSError)):
        imap.noop()
    imap = any_imap_server.client()
    imap.select_folder("INBOX", readonly=True)
    assert imap.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"] == MAIL
    imap.logout()


def test_drop_connections_keeps_listening(imap_server: PymapServer) -> None:
    imap = imap_server.client()
    imap.select_folder("INBOX")
    imap_server.drop_connections()
    with pytest.raises((IMAPClient.AbortError, OSError)):
        imap.noop()
    again = imap_server.client()
    assert again.select_folder("INBOX")[b"EXISTS"] == 0
    again.logout()


def test_add_user(any_imap_server: ImapServer) -> None:
    any_imap_server.add_user("second@example.gov.cn", "pw2")
    append_mail(any_imap_server, MAIL, username="second@example.gov.cn")
    imap = any_imap_server.client("second@example.gov.cn")
    assert imap.select_folder("INBOX", readonly=True)[b"EXISTS"] == 1
    imap.logout()
    imap = any_imap_server.client()
    assert imap.select_folder("INBOX", readonly=True)[b"EXISTS"] == 0
    imap.logout()
