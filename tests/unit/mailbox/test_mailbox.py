"""MailboxClient against real IMAP servers (pymap in-process, and Dovecot where installed)."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import trustme

from mailintake import __version__
from mailintake.errors import MailboxError
from mailintake.mailbox.client import MailboxClient
from mailintake.mailbox.errors import MailboxUnavailable, login_hint
from tests.support.fixtures.servers import mailbox_settings
from tests.support.servers import (
    DEFAULT_USERS,
    DovecotServer,
    ImapServer,
    PymapServer,
    append_mail,
    append_many,
    free_port,
    recreate_folder,
    reset_uidvalidity,
    start_imap_server,
)


def all_uids(box: MailboxClient) -> list[int]:
    """Every UID in the selected folder, ascending (the tests' view of the whole folder)."""
    assert box.state is not None, "select a folder first"
    return sorted(int(uid) for uid in box.imap.search("ALL"))


CST = timezone(timedelta(hours=8))


def make_mail(n: int, body: bytes = b"") -> bytes:
    """A small RFC 5322 message with CRLF line ends (what servers store and return)."""
    return (
        f"From: unit{n}@example.com\r\n"
        f"To: office@example.gov.cn\r\n"
        f"Subject: application {n}\r\n"
        f"Message-ID: <m{n}@example.com>\r\n"
        f"Date: Mon, 16 Dec 2019 19:0{n % 10}:00 +0800\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"mail number {n}\r\n"
    ).encode() + body


def fill(server: ImapServer, count: int = 5, folder: str = "INBOX") -> list[tuple[bytes, datetime]]:
    mails = [(make_mail(i), datetime(2019, 12, 16, 9 + i, 5, 0, tzinfo=CST)) for i in range(1, count + 1)]
    for raw, when in mails:
        append_mail(server, raw, when, folder=folder)
    return mails


def server_flags(server: ImapServer, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
    """Flags as an independent client sees them (read-only select)."""
    imap = server.client()
    try:
        imap.select_folder(folder, readonly=True)
        uids = imap.search("ALL")
        data = imap.fetch(uids, ["FLAGS"]) if uids else {}
        return {uid: tuple(f for f in item[b"FLAGS"] if f != b"\\Recent") for uid, item in data.items()}
    finally:
        imap.logout()


def test_fetch_five_mails_with_size_date_and_body(any_imap_server: ImapServer) -> None:
    """GIVEN five mails appended with INTERNALDATEs, WHEN fetched, THEN sizes, dates and bytes match."""
    mails = fill(any_imap_server)
    with MailboxClient(mailbox_settings(any_imap_server)) as box:
        state = box.select()
        assert state.name == "INBOX"
        assert state.readonly is True
        assert state.exists == 5
        uids = box.uids_above(0)
        assert len(uids) == 5
        assert uids == sorted(uids)
        assert state.uidnext is not None
        assert state.uidnext == uids[-1] + 1
        meta = box.fetch_meta(uids)
        raw = box.fetch_raw(uids)
    assert sorted(meta) == uids
    for uid, (body, when) in zip(uids, mails, strict=True):
        assert meta[uid].uid == uid
        assert meta[uid].size == len(body)
        assert meta[uid].internaldate == when
        assert raw[uid] == body


def test_uids_above_filters_the_highest_uid_that_n_star_always_returns(any_imap_server: ImapServer) -> None:
    """`UID SEARCH UID n:*` matches the highest UID even when it is below n: nothing new must come back."""
    fill(any_imap_server, 3)
    with MailboxClient(mailbox_settings(any_imap_server)) as box:
        box.select()
        uids = box.uids_above(0)
        highest = uids[-1]
        raw_answer = box.imap.search(["UID", f"{highest + 1}:*"])
        assert list(raw_answer) == [highest]  # the server really does this
        assert box.uids_above(highest) == []
        assert box.uids_above(highest + 1000) == []
        assert box.uids_above(uids[0]) == uids[1:]
        assert box.uids_above(-5) == uids
        assert all_uids(box) == uids


def test_uids_above_in_an_empty_folder(any_imap_server: ImapServer) -> None:
    with MailboxClient(mailbox_settings(any_imap_server)) as box:
        state = box.select()
        assert state.exists == 0
        assert box.uids_above(0) == []
        assert box.fetch_meta([]) == {}
        assert box.fetch_raw([]) == {}


def test_internaldate_stays_aware_with_its_instant(any_imap_server: ImapServer) -> None:
    """A 19:05 +08:00 arrival is 11:05Z — never a naive 11:05 or 19:05."""
    arrival = datetime(2019, 12, 18, 19, 5, 0, tzinfo=CST)
    append_mail(any_imap_server, make_mail(1), arrival)
    with MailboxClient(mailbox_settings(any_imap_server)) as box:
        box.select()
        (meta,) = box.fetch_meta(box.uids_above(0)).values()
    assert meta.internaldate.tzinfo is not None
    assert meta.internaldate.astimezone(UTC) == datetime(2019, 12, 18, 11, 5, 0, tzinfo=UTC)
    assert meta.internaldate.astimezone(CST).isoformat() == "2019-12-18T19:05:00+08:00"
    if isinstance(any_imap_server, PymapServer):
        # pymap keeps the offset given at APPEND; Dovecot answers in its own zone (same instant)
        assert meta.internaldate.isoformat() == "2019-12-18T19:05:00+08:00"


def test_body_peek_never_sets_seen(any_imap_server: ImapServer) -> None:
    """Even on a read-write selection (processed action configured) fetching leaves \\Seen unset."""
    fill(any_imap_server, 2)
    settings = mailbox_settings(any_imap_server, processed_action="flag")
    with MailboxClient(settings) as box:
        state = box.select()
        assert state.readonly is False
        uids = box.uids_above(0)
        assert len(box.fetch_raw(uids)) == 2
        meta = box.fetch_meta(uids)
    assert all("\\Seen" not in m.flags for m in meta.values())
    assert all(b"\\Seen" not in flags for flags in server_flags(any_imap_server).values())


def test_rfc822_size_of_a_large_mail_without_fetching_it(any_imap_server: ImapServer) -> None:
    big = make_mail(7, b"x" * 300_000 + b"\r\n")
    append_mail(any_imap_server, big, datetime(2019, 12, 17, 8, 0, tzinfo=CST))
    with MailboxClient(mailbox_settings(any_imap_server)) as box:
        box.select()
        meta = box.fetch_meta(box.uids_above(0))
    assert len(big) == 300_224
    assert [m.size for m in meta.values()] == [300_224]


def test_flag_action_only_when_called_and_never_deletes(any_imap_server: ImapServer) -> None:
    fill(any_imap_server, 3)
    settings = mailbox_settings(any_imap_server, processed_action="flag", processed_flag="\\Flagged")
    with MailboxClient(settings) as box:
        box.select()
        uids = box.uids_above(0)
        box.fetch_meta(uids)
        box.fetch_raw(uids)
        assert all(flags == () for flags in server_flags(any_imap_server).values())
        box.mark_processed(uids[:2])
    assert server_flags(any_imap_server) == {uids[0]: (b"\\Flagged",), uids[1]: (b"\\Flagged",), uids[2]: ()}


def test_keyword_flag_where_the_server_keeps_keywords(any_imap_server: ImapServer) -> None:
    """Dovecot stores any keyword (PERMANENTFLAGS has \\*); pymap's memory backend keeps only system
    flags, like some hosted servers: then the error names the fix instead of silently doing nothing."""
    fill(any_imap_server, 2)
    settings = mailbox_settings(any_imap_server, processed_action="flag")
    with MailboxClient(settings) as box:
        state = box.select()
        uids = box.uids_above(0)
        if "\\*" in state.permanent_flags:
            box.mark_processed(uids[:1])
            assert server_flags(any_imap_server) == {uids[0]: (b"$MailintakeProcessed",), uids[1]: ()}
            return
        with pytest.raises(MailboxError) as caught:
            box.mark_processed(uids[:1])
    assert str(caught.value) == (
        f"IMAP server 127.0.0.1:{any_imap_server.port} cannot store the flag $MailintakeProcessed in 'INBOX' "
        "(it keeps only \\Answered \\Deleted \\Draft \\Flagged \\Seen): "
        'set [mailbox] processed_flag = "\\Flagged" or processed_action = "move"'
    )
    assert server_flags(any_imap_server) == {uids[0]: (), uids[1]: ()}


def test_none_action_changes_nothing(any_imap_server: ImapServer) -> None:
    fill(any_imap_server, 2)
    with MailboxClient(mailbox_settings(any_imap_server)) as box:
        box.select()
        uids = box.uids_above(0)
        box.mark_processed(uids)
    assert server_flags(any_imap_server) == {uids[0]: (), uids[1]: ()}


def test_move_action_moves_and_never_deletes(any_imap_server: ImapServer) -> None:
    mails = fill(any_imap_server, 3)
    settings = mailbox_settings(any_imap_server, processed_action="move", processed_folder="Processed")
    with MailboxClient(settings) as box:
        box.select()
        uids = box.uids_above(0)
        assert box.folder_exists("Processed") is False
        box.mark_processed([uids[0]])
        assert box.folder_exists("Processed") is True
        assert box.uids_above(0) == uids[1:]
        moved_state = box.select("Processed")
        (moved_uid,) = box.uids_above(0)
        assert moved_state.exists == 1
        assert box.fetch_raw([moved_uid]) == {moved_uid: mails[0][0]}
        assert box.fetch_meta([moved_uid])[moved_uid].internaldate == mails[0][1]
    assert all(b"\\Deleted" not in f for f in server_flags(any_imap_server).values())
    assert all(b"\\Deleted" not in f for f in server_flags(any_imap_server, "Processed").values())


def test_bad_password_is_one_line_without_the_password(any_imap_server: ImapServer) -> None:
    settings = mailbox_settings(any_imap_server, password="wrong-Pa55word")
    with pytest.raises(MailboxError) as caught:
        MailboxClient(settings).connect()
    message = str(caught.value)
    assert "\n" not in message
    assert "wrong-Pa55word" not in message
    assert message.startswith(
        f"IMAP login to {any_imap_server.host}:{any_imap_server.port} failed for user office@example.gov.cn ("
    )
    assert message.endswith("): check [mailbox] username/password")
    assert not isinstance(caught.value, MailboxUnavailable)


def test_login_hints_for_chinese_providers() -> None:
    assert login_hint("imap.qq.com") == (
        " (QQ Mail needs the 授权码 from 设置 → 账户 → IMAP/SMTP服务, not the QQ password)"
    )
    assert login_hint("imap.exmail.qq.com").startswith(" (QQ Mail needs the 授权码")
    assert login_hint("imap.163.com") == " (NetEase Mail needs the 客户端授权密码, not the web password)"
    assert login_hint("mail.example.gov.cn") == ""


def test_unreachable_port() -> None:
    port = free_port()
    settings = mailbox_settings(ImapServer("127.0.0.1", port, DEFAULT_USERS))  # nothing listens on `port`
    with pytest.raises(MailboxUnavailable) as caught:
        MailboxClient(settings).connect()
    assert str(caught.value) == (
        f"cannot connect to 127.0.0.1:{port} (connection refused): check [mailbox] host/port and the network"
    )


def test_connect_timeout() -> None:
    """A listener that never answers the greeting: the read timeout fires, one line."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        settings = mailbox_settings(ImapServer("127.0.0.1", port, DEFAULT_USERS), timeout=0.5)
        started = time.monotonic()
        with pytest.raises(MailboxUnavailable) as caught:
            MailboxClient(settings).connect()
        assert time.monotonic() - started < 3
    assert str(caught.value) == (
        f"cannot connect to 127.0.0.1:{port} (timed out): check [mailbox] host/port and the network"
    )


def test_tls_to_a_plaintext_port(any_imap_server: ImapServer) -> None:
    settings = mailbox_settings(any_imap_server, security="ssl", verify_tls=True)
    with pytest.raises(MailboxError) as caught:
        MailboxClient(settings).connect()
    assert str(caught.value) == (
        f"TLS handshake with {any_imap_server.host}:{any_imap_server.port} failed (WRONG_VERSION_NUMBER): "
        'check [mailbox] security and port (security = "ssl" uses port 993, "starttls" port 143)'
    )


def test_starttls_offered_nowhere_is_a_clear_error(imap_server: PymapServer) -> None:
    with pytest.raises(MailboxError) as caught:
        MailboxClient(mailbox_settings(imap_server, security="starttls", verify_tls=True)).connect()
    assert str(caught.value) == (
        f"IMAP server 127.0.0.1:{imap_server.port} does not offer STARTTLS: "
        'set [mailbox] security = "ssl" (port 993) or check [mailbox] port'
    )


@pytest.fixture(scope="module")
def tls_material(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    """A private CA and a server certificate for 127.0.0.1 only."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_file = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return context, ca_file


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_tls_with_a_private_ca(security: str, tls_material: tuple[ssl.SSLContext, Path]) -> None:
    context, ca_file = tls_material
    server = start_imap_server(tls=security, ssl_context=context)  # type: ignore[arg-type]
    try:
        settings = mailbox_settings(server, security=security, verify_tls=True, ca_file=str(ca_file))
        with MailboxClient(settings) as box:
            assert box.select().exists == 0
        # without the CA the certificate is refused
        with pytest.raises(MailboxError) as caught:
            MailboxClient(mailbox_settings(server, security=security, verify_tls=True)).connect()
        assert str(caught.value) == (
            f"TLS certificate verification failed for 127.0.0.1:{server.port} (unable to get local issuer "
            "certificate): check [mailbox] host, or set [mailbox] ca_file for a private certificate authority"
        )
        # the host name is checked too: the certificate names 127.0.0.1, not localhost
        with pytest.raises(MailboxError) as caught:
            MailboxClient(
                mailbox_settings(server, host="localhost", security=security, verify_tls=True, ca_file=str(ca_file))
            ).connect()
        assert str(caught.value).startswith(f"TLS certificate verification failed for localhost:{server.port} (")
        assert "Hostname mismatch" in str(caught.value)
    finally:
        server.stop()


def test_missing_ca_file_is_a_config_error(imap_server: PymapServer, tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(MailboxError) as caught:
        MailboxClient(mailbox_settings(imap_server, security="ssl", verify_tls=True, ca_file=str(missing))).connect()
    assert str(caught.value) == (
        f"cannot read [mailbox] ca_file {missing} (No such file or directory): fix the path or remove it"
    )


def test_missing_folder(any_imap_server: ImapServer) -> None:
    with MailboxClient(mailbox_settings(any_imap_server, folder="申报")) as box, pytest.raises(MailboxError) as caught:
        box.select()
    message = str(caught.value)
    assert message.startswith(f"cannot open IMAP folder '申报' on {any_imap_server.host}:{any_imap_server.port} (")
    assert message.endswith("): check [mailbox] folder (folders on the server: INBOX)")
    assert "\n" not in message


def test_non_ascii_folder_name(any_imap_server: ImapServer) -> None:
    mails = fill(any_imap_server, 1, folder="申报材料")
    with MailboxClient(mailbox_settings(any_imap_server, folder="申报材料")) as box:
        box.select()
        assert list(box.fetch_raw(box.uids_above(0)).values()) == [mails[0][0]]


def test_uidvalidity_changes_when_the_folder_is_recreated(any_imap_server: ImapServer) -> None:
    fill(any_imap_server, 2, folder="Archive")
    settings = mailbox_settings(any_imap_server, folder="Archive")
    with MailboxClient(settings) as box:
        before = box.select()
    new_value = recreate_folder(any_imap_server, "Archive")
    with MailboxClient(settings) as box:
        after = box.select()
        assert len(all_uids(box)) == 2
    assert after.uidvalidity == new_value
    assert after.uidvalidity != before.uidvalidity


def test_inbox_uidvalidity_reset_keeps_the_mail(any_imap_server: ImapServer) -> None:
    mails = fill(any_imap_server, 2)
    with MailboxClient(mailbox_settings(any_imap_server)) as box:
        before = box.select()
    new_value = reset_uidvalidity(any_imap_server)
    with MailboxClient(mailbox_settings(any_imap_server)) as box:
        after = box.select()
        raw = box.fetch_raw(all_uids(box))
    assert after.uidvalidity == new_value != before.uidvalidity
    assert sorted(raw.values()) == sorted(m[0] for m in mails)


def test_idle_times_out_then_sees_new_mail(any_imap_server: ImapServer) -> None:
    with MailboxClient(mailbox_settings(any_imap_server)) as box:
        box.select()
        assert box.has_capability("IDLE")
        started = time.monotonic()
        assert box.idle_wait(0.3) is False
        assert 0.25 < time.monotonic() - started < 2
        timer = threading.Timer(0.2, append_mail, args=(any_imap_server, make_mail(3)))
        timer.start()
        try:
            assert box.idle_wait(5) is True
        finally:
            timer.join()
        assert len(box.uids_above(0)) == 1


def test_server_restart_between_sessions_and_a_dropped_connection(any_imap_server: ImapServer) -> None:
    fill(any_imap_server, 2)
    settings = mailbox_settings(any_imap_server)
    box = MailboxClient(settings).connect()
    box.select()
    uids = box.uids_above(0)
    any_imap_server.restart()
    with pytest.raises(MailboxUnavailable) as caught:
        box.fetch_raw(uids)
    assert str(caught.value).startswith(f"IMAP connection to {any_imap_server.host}:{any_imap_server.port} lost ")
    assert str(caught.value).endswith(": check the network; the next poll retries")
    box.close()
    with MailboxClient(settings) as again:
        again.select()
        assert again.uids_above(0) == uids


def test_operations_need_a_selected_folder(imap_server: PymapServer) -> None:
    with MailboxClient(mailbox_settings(imap_server)) as box, pytest.raises(MailboxError) as caught:
        box.uids_above(0)
    assert str(caught.value) == "no IMAP folder selected: call select() first (a programming error)"


def test_uidnext_shortcut_only_right_after_select(any_imap_server: ImapServer) -> None:
    """A mail arriving after SELECT is not lost: the next search (or poll) finds it."""
    fill(any_imap_server, 2)
    with MailboxClient(mailbox_settings(any_imap_server)) as box:
        state = box.select()
        uids = all_uids(box)
        assert state.uidnext == uids[-1] + 1
        box.select()
        late_uid = append_mail(any_imap_server, make_mail(9))
        assert box.uids_above(uids[-1]) == []  # UIDNEXT as of SELECT says nothing new: no search sent
        box.noop()  # the session learns about the new mail (EXISTS)
        assert box.uids_above(uids[-1]) == [late_uid]  # the next call searches
        box.select()
        assert box.uids_above(uids[-1]) == [late_uid]


def test_connection_dropped_mid_fetch(imap_server: PymapServer) -> None:
    mails = fill(imap_server, 3)
    imap_server.drop_on("FETCH")
    settings = mailbox_settings(imap_server)
    with MailboxClient(settings) as box:
        box.select()
        uids = box.uids_above(0)
        with pytest.raises(MailboxUnavailable) as caught:
            box.fetch_raw(uids)
    assert str(caught.value) == (
        f"IMAP connection to 127.0.0.1:{imap_server.port} lost during FETCH (socket error: EOF): "
        "check the network; the next poll retries"
    )
    with MailboxClient(settings) as box:
        box.select()
        assert list(box.fetch_raw(uids).values()) == [m[0] for m in mails]


def test_append_many_for_benchmarks(any_imap_server: ImapServer) -> None:
    when = datetime(2019, 12, 16, 8, 0, tzinfo=CST)
    count = append_many(any_imap_server, [(make_mail(i), when) for i in range(250)] + [make_mail(999)])
    assert count == 251
    with MailboxClient(mailbox_settings(any_imap_server)) as box:
        assert box.select().exists == 251
        uids = all_uids(box)
        assert box.fetch_meta(uids[:1])[uids[0]].internaldate == when


def test_id_is_sent_after_login(any_imap_server: ImapServer) -> None:
    """163/126 refuse SELECT until the client sends ID; Dovecot logs the ID it receives."""
    with MailboxClient(mailbox_settings(any_imap_server)) as box:
        assert box.has_capability("ID")
        box.select()
    if isinstance(any_imap_server, DovecotServer):
        log = (any_imap_server.base / "dovecot.log").read_text("utf-8")
        assert f"ID sent: name=mailintake, version={__version__}, vendor=mailintake" in log
