"""Faults around the worker: IMAP drops and restarts, UIDVALIDITY resets, SMTP 4xx/5xx, a busy
database and a full storage directory. Real servers on 127.0.0.1 throughout.

The promise each test checks: the worker goes on, loses nothing, retries what can be retried and
reports (one line, a recorded status) what it could not do.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from mailintake.config.settings import Settings
from mailintake.db.engine import open_database
from mailintake.db.models import Ledger, Message, OutboxItem
from mailintake.demo.samples.forms import make_form_docx
from mailintake.errors import MailboxError
from mailintake.intake.cycle import poll_once
from mailintake.outbox.sender import deliver_due
from tests.support.env import Env
from tests.support.helpers import at, mail
from tests.support.servers import PymapServer, SmtpSink, append_mail, reset_uidvalidity

REPO = Path(__file__).resolve().parents[2]
FORM = make_form_docx(2, {"unit": "苏州工业园区行政审批局", "deeds": "推行“一件事一窗办”。"})


def add_mails(server: PymapServer, first: int, count: int, *, padding: int = 0) -> None:
    for n in range(first, first + count):
        body = "您好，申报材料请查收。" + "。" * padding
        append_mail(server, mail(f"u{n} <u{n}@qq.com>", f"表2申报{n}", message_id=f"<f{n}@qq.com>",
                                 attachments={"表2.docx": FORM}, body=body), at(16, 9, n % 60))


def counts(session_factory: sessionmaker[Session]) -> tuple[int, int, int]:
    """(messages, distinct ledger UIDs, outbox rows)."""
    with session_factory() as session:
        return (
            session.scalar(select(func.count()).select_from(Message)) or 0,
            session.scalar(select(func.count(func.distinct(Ledger.uid)))) or 0,
            session.scalar(select(func.count()).select_from(OutboxItem)) or 0,
        )


def message_ids(session_factory: sessionmaker[Session]) -> list[str]:
    with session_factory() as session:
        return sorted(session.scalars(select(Message.message_id)))


def expected_ids(count: int) -> list[str]:
    return sorted(f"<f{n}@qq.com>" for n in range(count))


def write_config(path: Path, settings: Settings, imap: PymapServer, *, smtp: SmtpSink | None = None) -> Path:
    smtp_line = f'host = "{smtp.host}"\nport = {smtp.port}\n' if smtp else 'host = "127.0.0.1"\nport = 9\n'
    path.write_text(
        f'[mailbox]\nhost = "{imap.host}"\nport = {imap.port}\nsecurity = "none"\n'
        f'username = "{imap.username}"\npassword = "{imap.password}"\nfetch_batch = 2\n'
        f'[database]\nurl = "{settings.database.url}"\n[storage]\ndir = "{settings.storage.dir}"\n'
        f'[smtp]\nsender = "office@example.gov.cn"\nsecurity = "none"\n{smtp_line}'
        f'[report]\ndir = "{path.parent / "reports"}"\n'
        f'[campaign]\nforms = "{REPO / "config/forms.toml"}"\nroster = "{REPO / "config/units.csv"}"\n'
        f'templates = "{REPO / "config/templates"}"\n',
        "utf-8",
    )
    path.chmod(0o600)
    return path


def run_cli(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MAILINTAKE_CONFIG": str(config)}
    return subprocess.run([sys.executable, "-m", "mailintake", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


# --------------------------------------------------------------------------------------- database


def test_database_connection_killed_mid_mail_marks_nothing_failed(imap_server, tmp_path, postgres_server):
    """GIVEN 4 mails on PostgreSQL WHEN the server ends the poll's connection while the third mail is
    being written THEN the poll stops with the database's error, the third mail is not recorded as
    failed (it was not the mail's fault), and the next poll records it and the fourth."""
    import psycopg
    from sqlalchemy import event

    add_mails(imap_server, 0, 4)
    ground = Env(tmp_path, postgres_server.create_database())
    settings = ground.settings(imap=imap_server)
    session_factory = ground.session_factory
    engine = session_factory.kw["bind"]
    inserts: list[str] = []

    def kill_on_third(connection, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO messages"):
            inserts.append(statement)
            if len(inserts) == 3:
                pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
                with psycopg.connect(ground.url.replace("postgresql+psycopg", "postgresql")) as other:
                    other.execute("SELECT pg_terminate_backend(%s)", (pid,))

    event.listen(engine, "before_cursor_execute", kill_on_third)
    try:
        with pytest.raises(Exception, match="terminat") as caught:
            poll_once(settings, session_factory)
        assert caught.value.connection_invalidated  # type: ignore[attr-defined]
    finally:
        event.remove(engine, "before_cursor_execute", kill_on_third)
    assert counts(session_factory) == (2, 2, 2)
    result = poll_once(settings, session_factory)
    assert (result.fetched, result.counts, result.duplicates) == (2, {"accepted": 2}, 0)
    assert counts(session_factory) == (4, 4, 4)
    assert message_ids(session_factory) == expected_ids(4)
    ground.close()


# ------------------------------------------------------------------------------------------- IMAP


@pytest.mark.parametrize("fault", ["drop", "restart"])
def test_connection_lost_mid_poll_then_next_poll_completes(imap_server, env, fault):
    """GIVEN 12 mails fetched 2 at a time WHEN the server drops every connection (or restarts) after
    the third batch THEN the poll stops with a one-line MailboxError, what it committed stays, and
    the next poll records the rest — each mail once, each reply queued once."""
    add_mails(imap_server, 0, 12)
    settings = env.settings(imap=imap_server, mailbox={"fetch_batch": 2, "timeout": 10})
    session_factory = env.session_factory

    def cut(done: int, total: int) -> None:
        if done == 6:
            imap_server.drop_connections() if fault == "drop" else imap_server.restart()

    with pytest.raises(MailboxError) as caught:
        poll_once(settings, session_factory, progress=cut)
    assert "\n" not in str(caught.value)
    assert counts(session_factory) == (6, 6, 6)

    result = poll_once(settings, session_factory)
    assert (result.fetched, result.counts, result.duplicates) == (6, {"accepted": 6}, 0)
    assert counts(session_factory) == (12, 12, 12)
    assert message_ids(session_factory) == expected_ids(12)


def test_connection_dropped_while_a_fetch_is_in_flight(imap_server, env):
    """GIVEN large mails WHEN another thread cuts the connection while the poll is fetching THEN
    nothing half-read is recorded and a second poll completes the set."""
    add_mails(imap_server, 0, 8, padding=400_000)
    settings = env.settings(imap=imap_server, mailbox={"fetch_batch": 4, "timeout": 10})
    session_factory = env.session_factory
    stop = threading.Event()

    def dropper() -> None:
        while not stop.is_set():
            imap_server.drop_connections()
            time.sleep(0.02)

    thread = threading.Thread(target=dropper, daemon=True)
    thread.start()
    try:
        with pytest.raises(MailboxError):
            poll_once(settings, session_factory)
    finally:
        stop.set()
        thread.join(5)
    recorded = counts(session_factory)
    assert recorded[0] == recorded[1] == recorded[2] < 8

    poll_once(settings, session_factory)
    assert counts(session_factory) == (8, 8, 8)
    assert message_ids(session_factory) == expected_ids(8)


def test_server_restarted_between_polls(imap_server, env):
    add_mails(imap_server, 0, 3)
    settings = env.settings(imap=imap_server)
    session_factory = env.session_factory
    assert poll_once(settings, session_factory).counts == {"accepted": 3}
    imap_server.restart()
    add_mails(imap_server, 3, 2)
    result = poll_once(settings, session_factory)
    assert (result.fetched, result.counts) == (2, {"accepted": 2})
    assert counts(session_factory) == (5, 5, 5)


def test_uidvalidity_reset_with_new_mail_records_only_the_new(imap_server, env):
    """GIVEN 3 processed mails WHEN UIDVALIDITY changes and 2 mails arrive THEN the rescan sees 5,
    records the 2 new ones and answers only them."""
    add_mails(imap_server, 0, 3)
    settings = env.settings(imap=imap_server)
    session_factory = env.session_factory
    poll_once(settings, session_factory)
    reset_uidvalidity(imap_server)
    add_mails(imap_server, 3, 2)
    result = poll_once(settings, session_factory)
    assert (result.rescanned, result.fetched, result.duplicates, result.counts) == (True, 5, 3, {"accepted": 2})
    assert counts(session_factory)[0] == 5 and counts(session_factory)[2] == 5
    assert message_ids(session_factory) == expected_ids(5)


# ------------------------------------------------------------------------------------------- SMTP


def queued(imap_server: PymapServer, env: Env, smtp_sink: SmtpSink,
           count: int) -> tuple[Settings, sessionmaker[Session]]:
    add_mails(imap_server, 0, count)
    settings = env.settings(imap=imap_server, smtp=smtp_sink)
    session_factory = env.session_factory
    poll_once(settings, session_factory)
    return settings, session_factory


def outbox(session_factory: sessionmaker[Session]) -> list[tuple[str, int, str | None]]:
    with session_factory() as session:
        rows = session.scalars(select(OutboxItem).order_by(OutboxItem.id))
        return [(r.status, r.attempts, r.last_error) for r in rows]


def delivered(sink: SmtpSink) -> Counter[str]:
    import email

    found: Counter[str] = Counter()
    for message in sink.messages:
        found[str(email.message_from_bytes(message.raw)["In-Reply-To"])] += 1
    return found


@pytest.mark.parametrize("code", [421, 451])
def test_smtp_temporary_failure_is_retried_later_and_sent_once(imap_server, smtp_sink, env, code):
    """GIVEN 3 queued replies WHEN the server answers the first DATA with 4xx THEN that reply is kept
    for a retry with backoff, the others go out, and the retry delivers it — each reply once."""
    settings, session_factory = queued(imap_server, env, smtp_sink, 3)
    smtp_sink.fail_next(code, "Try again later")
    now = dt.datetime.now(dt.UTC)
    first = deliver_due(settings, session_factory, now=now)
    assert (first.sent, first.retried, first.failed) == (2, 1, 0)
    assert outbox(session_factory)[0] == ("pending", 1, f"{code} Try again later")
    assert [s for s, _, _ in outbox(session_factory)[1:]] == ["sent", "sent"]

    assert deliver_due(settings, session_factory, now=now).sent == 0  # not due yet: backoff
    second = deliver_due(settings, session_factory, now=now + dt.timedelta(minutes=2))
    assert (second.sent, second.retried, second.failed) == (1, 0, 0)
    assert outbox(session_factory) == [("sent", 2, None), ("sent", 1, None), ("sent", 1, None)]
    assert delivered(smtp_sink) == Counter({f"<f{n}@qq.com>": 1 for n in range(3)})


def test_smtp_unreachable_keeps_every_reply_for_later(imap_server, env):
    add_mails(imap_server, 0, 2)
    settings = env.settings(imap=imap_server)  # SMTP port 9: nobody listens
    session_factory = env.session_factory
    poll_once(settings, session_factory)
    result = deliver_due(settings, session_factory)
    assert (result.sent, result.retried, result.failed) == (0, 2, 0)
    assert [(s, a) for s, a, _ in outbox(session_factory)] == [("pending", 1), ("pending", 1)]
    assert all(e and e.startswith("cannot reach 127.0.0.1:9") for _, _, e in outbox(session_factory))


def test_smtp_550_is_recorded_failed_and_shown_in_export_and_report(imap_server, smtp_sink, tmp_path, env):
    """GIVEN a reply the server refuses with 550 THEN the row is failed with the server's answer,
    not retried, and the export and the daily report both show it."""
    settings, session_factory = queued(imap_server, env, smtp_sink, 2)
    smtp_sink.fail_next(550, "Mailbox unavailable", stage="RCPT")
    result = deliver_due(settings, session_factory)
    assert (result.sent, result.retried, result.failed) == (1, 0, 1)
    status, attempts, error = outbox(session_factory)[0]
    assert (status, attempts) == ("failed", 1)
    assert error == "recipient refused: u0@qq.com: 550 Mailbox unavailable"
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert deliver_due(settings, session_factory, now=later).sent == 0
    assert delivered(smtp_sink) == Counter({"<f1@qq.com>": 1})

    config = write_config(tmp_path / "mailintake.toml", settings, imap_server, smtp=smtp_sink)
    exported = run_cli(config, "export", "--format", "json")
    assert exported.returncode == 0, exported.stderr
    replies = {m["message_id"]: m["replies"] for m in json.loads(exported.stdout)["messages"]}
    assert [(r["kind"], r["sent_at"]) for r in replies["<f0@qq.com>"]] == [("receipt", None)]
    workbook_path = tmp_path / "export.xlsx"
    exported = run_cli(config, "export", "--format", "xlsx", "--out", str(workbook_path))
    assert exported.returncode == 0, exported.stderr
    from openpyxl import load_workbook

    cells = [str(c) for ws in load_workbook(workbook_path).worksheets for row in ws.iter_rows(values_only=True)
             for c in row if c is not None]
    assert [c for c in cells if "550 Mailbox unavailable" in c] == [
        "回执：发送失败（recipient refused: u0@qq.com: 550 Mailbox unavailable） → u0@qq.com"]

    from mailintake.report.build import build_report

    with session_factory() as session, session.begin():
        files = build_report(settings, session, out_dir=tmp_path / "report")
    html = files.html_path.read_text("utf-8")
    assert "u0@qq.com" in html and "550 Mailbox unavailable" in html
    assert files.summary["failed_replies"] == 1


# --------------------------------------------------------------------------------------- database


@contextlib.contextmanager
def write_lock_held(db_path: Path, seconds: float, *, until_exit: bool = False) -> Iterator[threading.Thread]:
    """Another connection takes the SQLite write lock and keeps it for ``seconds`` (with ``until_exit``:
    until the ``with`` block ends, at most ``seconds``, so a slow start under load cannot outlast it)."""
    ready = threading.Event()
    released = threading.Event()

    def hold() -> None:
        connection = sqlite3.connect(db_path, timeout=1, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("UPDATE mailbox_state SET last_uid = last_uid")
            ready.set()
            if until_exit:
                released.wait(seconds)
            else:
                time.sleep(seconds)
            connection.execute("COMMIT")
        finally:
            connection.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield thread
    finally:
        released.set()
        thread.join(seconds + 10)


def test_poll_waits_for_a_database_write_lock_and_loses_nothing(imap_server, tmp_path, env):
    """GIVEN another connection holding the SQLite write lock for 3 s THEN the poll waits and records all."""
    add_mails(imap_server, 0, 4)
    settings = env.settings(imap=imap_server)
    session_factory = env.session_factory
    started = time.monotonic()
    with write_lock_held(tmp_path / "mailintake.db", 3):
        result = poll_once(settings, session_factory)
    assert time.monotonic() - started >= 3
    assert result.counts == {"accepted": 4}
    assert counts(session_factory) == (4, 4, 4)


def test_poll_refuses_with_one_line_while_another_worker_holds_the_database(imap_server, tmp_path, env):
    """GIVEN a running worker holding this database's lock WHEN `mailintake poll --wait 1` starts THEN
    it exits 7 with one line; once the lock is free a poll records everything."""
    from mailintake.db.locking import worker_lock

    add_mails(imap_server, 0, 3)
    settings = env.settings(imap=imap_server)
    open_database(settings.database.url)
    config = write_config(tmp_path / "mailintake.toml", settings, imap_server)
    with worker_lock(settings):
        refused = run_cli(config, "poll", "--no-send", "--wait", "1")
    assert refused.returncode == 7
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "another mailintake worker holds the lock" in refused.stderr
    done = run_cli(config, "poll", "--no-send", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["counts"] == {"accepted": 3}


def test_poll_fails_with_one_line_when_the_database_stays_locked(imap_server, tmp_path, env):
    """GIVEN the SQLite write lock held longer than the 30 s busy timeout THEN `mailintake poll` exits
    with one line naming the database (exit 5), and the next poll records every mail."""
    add_mails(imap_server, 0, 2)
    settings = env.settings(imap=imap_server)
    session_factory = env.session_factory
    config = write_config(tmp_path / "mailintake.toml", settings, imap_server)
    with write_lock_held(tmp_path / "mailintake.db", 240, until_exit=True):
        failed = run_cli(config, "poll", "--no-send")
    assert failed.returncode == 5, failed.stderr
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("database: ") and "locked" in lines[0]
    assert counts(session_factory) == (0, 0, 0)
    done = run_cli(config, "poll", "--no-send", "--json")
    assert done.returncode == 0, done.stderr
    assert counts(session_factory) == (2, 2, 2)


# ---------------------------------------------------------------------------------------- storage


@pytest.fixture
def small_storage(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs as the storage directory (skips when mounting is not permitted)."""
    directory = tmp_path / "storage"
    directory.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(directory)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], capture_output=True)


def test_storage_full_reports_and_loses_nothing(imap_server, tmp_path, env, small_storage):
    """GIVEN a storage directory with room for about two mails WHEN 8 mails arrive THEN the poll stops
    with one line naming the full storage (exit 6), the mails it could not store are not recorded,
    and after space is freed the next poll records every mail once."""
    add_mails(imap_server, 0, 8, padding=8_000)  # ~80 kB each, the same form in all
    filler = small_storage / "filler.bin"
    filler.write_bytes(b"\0" * (1024 * 1024 - 250 * 1024))
    settings = env.settings(imap=imap_server)
    session_factory = env.session_factory
    config = write_config(tmp_path / "mailintake.toml", settings, imap_server)

    full = run_cli(config, "poll", "--no-send")
    assert full.returncode == 6, full.stderr
    lines = full.stderr.strip().splitlines()
    assert lines == [f"storage: {small_storage} is full; free disk space or move [storage] dir"]
    first = counts(session_factory)
    assert first[0] == first[1] == first[2] < 8
    assert not [p for p in small_storage.rglob(".tmp-*")]

    filler.unlink()
    done = run_cli(config, "poll", "--no-send", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["counts"] == {"accepted": 8 - first[0]}
    assert counts(session_factory) == (8, 8, 8)
    assert message_ids(session_factory) == expected_ids(8)


def test_connection_lost_while_fetching_the_header_of_a_too_large_mail(imap_server, env):
    """GIVEN a mail over the size limit (only its header is fetched) WHEN the connection drops just
    before that fetch THEN the poll fails with one MailboxError line and the next poll records it."""
    from mailintake.mailbox.client import MailboxClient

    add_mails(imap_server, 0, 1, padding=50_000)
    settings = env.settings(imap=imap_server, mailbox={"max_message_bytes": 100_000})
    with MailboxClient(settings.mailbox) as client:
        client.select()
        uids = sorted(client.uids_above(0))
        imap_server.drop_connections()
        with pytest.raises(MailboxError) as caught:
            client.fetch_headers(uids)
    assert "\n" not in str(caught.value) and "lost during" in str(caught.value)
    session_factory = env.session_factory
    result = poll_once(settings, session_factory)
    assert result.counts == {"too_large": 1}
