"""`mailintake poll`: the cycle `mailintake run` schedules, run once in a fresh process — nothing new is one
line and a recorded run; new mail, a due reply, a retry and a changed UIDVALIDITY are handled as the worker
handles them. Real pymap, SMTP sink, SQLite and PostgreSQL; `poll` runs as a real process."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from mailintake.config.settings import load_settings
from mailintake.db.engine import open_database
from mailintake.db.locking import worker_lock
from mailintake.db.models import MailboxState, Message, OutboxItem, PollRun
from mailintake.demo.session import write_config
from mailintake.intake.cycle import MAX_ATTEMPTS
from tests.support.helpers import mail
from tests.support.servers import PymapServer, SmtpSink, append_mail

PROJECT = Path(__file__).resolve().parents[3]
NOTHING_NEW = "fetched 0 mail(s): no new mail; duplicates=0; replies sent=0 retried=0 failed=0"
EMPTY = {"fetched": 0, "counts": {}, "duplicates": 0, "retried": 0, "errors": [], "rescanned": False}


def poll(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``mailintake --config CONFIG poll ARGS`` in a fresh process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILINTAKE_")}
    return subprocess.run([sys.executable, "-m", "mailintake", "--config", str(config), "poll", *args],
                          cwd=PROJECT, env=env, capture_output=True, text=True, timeout=180)


def polled_once(tmp_path: Path, imap_server: PymapServer, smtp_sink: SmtpSink, db_url: str) -> dict[str, Any]:
    """A config on ``db_url`` whose first poll processed one mail."""
    config = write_config(tmp_path / "cfg", imap_host=imap_server.host, imap_port=imap_server.port,
                          username=imap_server.username, password=imap_server.password,
                          smtp_host=smtp_sink.host, smtp_port=smtp_sink.port, database_url=db_url,
                          extra={"report": {"recipients": []}})
    append_mail(imap_server, mail("张三 <zhangsan@qq.com>", "咨询", message_id="<first@qq.com>"))
    first = poll(config)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "fetched 1 mail(s): no_form=1; duplicates=0; replies sent=1 retried=0 failed=0"]
    return {"config": config, "settings": load_settings(config, environ={}), "db": open_database(db_url)}


def poll_runs(db: Any) -> int:
    with db() as session:
        return int(session.scalar(select(func.count()).select_from(PollRun)) or 0)


def test_nothing_new_is_one_line_and_a_recorded_run(tmp_path: Path, imap_server: PymapServer,
                                                    smtp_sink: SmtpSink, db_url: str) -> None:
    setup = polled_once(tmp_path, imap_server, smtp_sink, db_url)
    config, db = setup["config"], setup["db"]
    before = poll_runs(db)
    run = poll(config)
    assert (run.returncode, run.stdout.splitlines()) == (0, [NOTHING_NEW]), run.stderr
    no_send = poll(config, "--no-send", "--json")
    assert {k: v for k, v in json.loads(no_send.stdout).items() if k != "duration"} == EMPTY
    assert poll_runs(db) == before + 2
    with db() as session:
        last = session.scalars(select(PollRun).order_by(PollRun.id.desc()).limit(1)).one()
        state = session.scalars(select(MailboxState)).one()
    assert last.error is None and last.finished_at is not None and last.finished_at >= last.started_at
    assert {k: v for k, v in last.counts.items() if k != "duration"} == EMPTY
    assert state.last_poll_at is not None and abs(state.last_poll_at - last.finished_at) < dt.timedelta(1)
    assert len(smtp_sink.messages) == 1  # the first mail's receipt, nothing more


def test_new_mail_a_due_reply_and_a_retry_are_handled_once(tmp_path: Path, imap_server: PymapServer,
                                                           smtp_sink: SmtpSink, sqlite_url: str) -> None:
    setup = polled_once(tmp_path, imap_server, smtp_sink, sqlite_url)
    config, db = setup["config"], setup["db"]
    append_mail(imap_server, mail("李四 <lisi@163.com>", "申报", message_id="<second@163.com>"))
    assert poll(config).stdout.splitlines() == [
        "fetched 1 mail(s): no_form=1; duplicates=0; replies sent=1 retried=0 failed=0"]
    assert len(smtp_sink.messages) == 2
    with db() as session, session.begin():
        session.execute(update(OutboxItem).where(OutboxItem.id == 1).values(
            status="pending", next_attempt_at=dt.datetime.now(dt.UTC)))
    assert poll(config, "--no-send").stdout.splitlines() == ["fetched 0 mail(s): no new mail; duplicates=0"]
    assert poll(config).stdout.splitlines() == [NOTHING_NEW.replace("sent=0", "sent=1")]
    assert len(smtp_sink.messages) == 3
    with db() as session, session.begin():
        session.execute(update(Message).where(Message.id == 1).values(status="failed", attempts=1, error="boom"))
    assert json.loads(poll(config, "--json").stdout)["retried"] == 1
    with db() as session, session.begin():  # given up after MAX_ATTEMPTS: nothing left to retry
        session.execute(update(Message).where(Message.id == 1).values(status="failed", attempts=MAX_ATTEMPTS))
    assert json.loads(poll(config, "--json").stdout)["retried"] == 0


def test_a_changed_uidvalidity_rescans_without_recording_twice(tmp_path: Path, imap_server: PymapServer,
                                                               smtp_sink: SmtpSink, sqlite_url: str) -> None:
    db = polled_once(tmp_path, imap_server, smtp_sink, sqlite_url)["db"]
    with db() as session, session.begin():  # as after a server migration: the folder's UIDs mean other mails
        session.execute(update(MailboxState).values(uidvalidity=MailboxState.uidvalidity + 1))
    summary = json.loads(poll(tmp_path / "cfg" / "mailintake.toml", "--json").stdout)
    # the folder is read again from UID 1; its one mail is already in the ledger: nothing recorded twice
    assert (summary["rescanned"], summary["fetched"], summary["duplicates"], summary["counts"]) == (True, 1, 0, {})


def test_a_poll_waits_for_the_worker_lock_and_refuses_in_one_line(tmp_path: Path, imap_server: PymapServer,
                                                                  smtp_sink: SmtpSink, db_url: str) -> None:
    setup = polled_once(tmp_path, imap_server, smtp_sink, db_url)
    with worker_lock(setup["settings"]):
        run = poll(setup["config"], "--wait", "0.5")
    assert run.returncode == 7
    assert run.stderr.splitlines()[-1] == (f"another mailintake worker holds the lock on this database "
                                           f"(pid {os.getpid()}); stop it first or use `mailintake status`")


def test_a_schema_behind_the_newest_migration_is_brought_up_to_date(tmp_path: Path, imap_server: PymapServer,
                                                                   smtp_sink: SmtpSink, db_url: str) -> None:
    from alembic import command

    from mailintake.db.engine import HEAD_REVISION, alembic_config, make_engine

    setup = polled_once(tmp_path, imap_server, smtp_sink, db_url)
    engine = make_engine(db_url)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0006")  # as after an upgrade of the code
    run = poll(setup["config"])
    assert run.stdout.splitlines() == [NOTHING_NEW], run.stderr
    with engine.connect() as connection:
        from alembic.runtime.migration import MigrationContext

        assert MigrationContext.configure(connection).get_current_revision() == HEAD_REVISION
    engine.dispose()
