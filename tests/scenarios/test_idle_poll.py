"""The idle poll (mailintake.quickcheck): nothing new and nothing due is answered without loading the intake;
new mail, a due reply, a retry, a changed UIDVALIDITY or configuration each take the full poll, which
processes the mail. Real pymap, SMTP sink, SQLite and PostgreSQL; `poll` runs as a real process."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from mailintake import dburl
from mailintake.config.settings import load_settings
from mailintake.db.engine import HEAD_REVISION, open_database, resolve_url
from mailintake.db.locking import lock_file_path, worker_lock
from mailintake.db.models import MailboxState, Message, OutboxItem, PollRun
from mailintake.demo.session import write_config
from mailintake.quickcheck import MAX_ATTEMPTS, STATE_FILE, head_revision
from tests.support.helpers import mail
from tests.support.servers import PymapServer, SmtpSink, append_mail

PROJECT = Path(__file__).resolve().parents[2]
FAST = "quick check: nothing new, no reply due: the intake was not loaded"
IDLE_LINE = "fetched 0 mail(s): no new mail; duplicates=0; replies sent=0 retried=0 failed=0"
#: run the CLI in a child and report (last stderr line) which heavy modules it imported
CHILD = """
import sys
from mailintake.cli import cli
try:
    cli(sys.argv[1:], prog_name="mailintake")
except SystemExit as end:
    code = end.code
heavy = ("sqlalchemy", "sqlalchemy.orm", "pydantic", "psycopg", "mailintake.intake.cycle", "mailintake.intake.sandbox",
         "imapclient")
print("loaded:", sorted(name for name in heavy if name in sys.modules), file=sys.stderr)
sys.exit(code)
"""


def poll(config: Path, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str],
                                                                           list[str]]:
    """``mailintake -v --config CONFIG poll ARGS`` in a fresh process; (the run, heavy modules it loaded)."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MAILINTAKE_")}, **(env or {})}
    done = subprocess.run([sys.executable, "-c", CHILD, "-v", "--config", str(config), "poll", *args],
                          cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120)
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("loaded: "), done.stderr
    return done, json.loads(last.removeprefix("loaded: ").replace("'", '"'))


def fast(run: subprocess.CompletedProcess[str], loaded: list[str]) -> bool:
    took = FAST in run.stderr
    assert took == (loaded == []), (run.stderr, loaded)  # the log line tells the truth
    return took


@pytest.fixture
def setup(tmp_path: Path, imap_server: PymapServer, smtp_sink: SmtpSink, db_url: str) -> dict[str, Any]:
    return polled_once(tmp_path, imap_server, smtp_sink, db_url)


def polled_once(tmp_path: Path, imap_server: PymapServer, smtp_sink: SmtpSink, db_url: str) -> dict[str, Any]:
    """A config on ``db_url`` whose first poll processed one mail (and recorded what it validated)."""
    config = write_config(tmp_path / "cfg", imap_host=imap_server.host, imap_port=imap_server.port,
                          username=imap_server.username, password=imap_server.password,
                          smtp_host=smtp_sink.host, smtp_port=smtp_sink.port, database_url=db_url,
                          extra={"report": {"recipients": []}})
    settings = load_settings(config, environ={})
    append_mail(imap_server, mail("张三 <zhangsan@qq.com>", "咨询", message_id="<first@qq.com>"))
    first, loaded = poll(config)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "fetched 1 mail(s): no_form=1; duplicates=0; replies sent=1 retried=0 failed=0"]
    assert "sqlalchemy.orm" in loaded and FAST not in first.stderr
    assert (settings.path(settings.storage.dir) / STATE_FILE).is_file()
    return {"config": config, "settings": settings, "db": open_database(db_url)}


def poll_runs(db: Any) -> int:
    with db() as session:
        return int(session.scalar(select(func.count()).select_from(PollRun)) or 0)


def test_an_idle_poll_does_not_load_the_intake_and_records_the_run(setup: dict[str, Any],
                                                                   smtp_sink: SmtpSink) -> None:
    config, db = setup["config"], setup["db"]
    before = poll_runs(db)
    run, loaded = poll(config)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [IDLE_LINE]
    assert fast(run, loaded)
    no_send, loaded = poll(config, "--no-send", "--json")
    assert fast(no_send, loaded)
    summary = json.loads(no_send.stdout)
    assert {k: v for k, v in summary.items() if k != "duration"} == {
        "fetched": 0, "counts": {}, "duplicates": 0, "retried": 0, "errors": [], "rescanned": False}
    assert poll_runs(db) == before + 2
    with db() as session:
        last = session.scalars(select(PollRun).order_by(PollRun.id.desc()).limit(1)).one()
        state = session.scalars(select(MailboxState)).one()
    assert last.error is None and last.finished_at is not None and last.finished_at >= last.started_at
    assert {k: v for k, v in last.counts.items() if k != "duration"} == {
        "fetched": 0, "counts": {}, "duplicates": 0, "retried": 0, "errors": [], "rescanned": False}
    assert state.last_poll_at == last.finished_at or abs(state.last_poll_at - last.finished_at) < dt.timedelta(1)
    assert len(smtp_sink.messages) == 1  # the first mail's receipt, nothing more


def test_new_mail_takes_the_full_poll(setup: dict[str, Any], imap_server: PymapServer, smtp_sink: SmtpSink) -> None:
    append_mail(imap_server, mail("李四 <lisi@163.com>", "申报", message_id="<second@163.com>"))
    run, loaded = poll(setup["config"])
    assert not fast(run, loaded)
    assert run.stdout.splitlines() == ["fetched 1 mail(s): no_form=1; duplicates=0; replies sent=1 retried=0 failed=0"]
    assert len(smtp_sink.messages) == 2
    again, loaded = poll(setup["config"])
    assert fast(again, loaded) and again.stdout.splitlines() == [IDLE_LINE]


def test_a_due_reply_takes_the_full_poll_unless_no_send(setup: dict[str, Any], smtp_sink: SmtpSink) -> None:
    db = setup["db"]
    with db() as session, session.begin():
        session.execute(update(OutboxItem).values(status="pending", next_attempt_at=dt.datetime.now(dt.UTC)))
    held, loaded = poll(setup["config"], "--no-send")
    assert fast(held, loaded)
    run, loaded = poll(setup["config"])
    assert not fast(run, loaded)
    assert run.stdout.splitlines() == [IDLE_LINE.replace("sent=0", "sent=1")]
    assert len(smtp_sink.messages) == 2
    with db() as session, session.begin():  # a retry an hour from now is not due yet
        session.execute(update(OutboxItem).values(status="pending",
                                                  next_attempt_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)))
    later, loaded = poll(setup["config"])
    assert fast(later, loaded) and later.stdout.splitlines() == [IDLE_LINE]


def test_a_failed_mail_waiting_for_a_retry_takes_the_full_poll(setup: dict[str, Any]) -> None:
    db = setup["db"]
    with db() as session, session.begin():
        session.execute(update(Message).values(status="failed", attempts=1, error="boom"))
    run, loaded = poll(setup["config"], "--json")
    assert not fast(run, loaded)
    assert json.loads(run.stdout)["retried"] == 1
    with db() as session, session.begin():  # given up after MAX_ATTEMPTS: nothing left to retry
        session.execute(update(Message).values(status="failed", attempts=MAX_ATTEMPTS))
    again, loaded = poll(setup["config"])
    assert fast(again, loaded)


def test_a_changed_uidvalidity_takes_the_full_poll_and_rescans(setup: dict[str, Any]) -> None:
    db = setup["db"]
    with db() as session, session.begin():  # as after a server migration: the folder's UIDs mean other mails
        session.execute(update(MailboxState).values(uidvalidity=MailboxState.uidvalidity + 1))
    run, loaded = poll(setup["config"], "--json")
    assert not fast(run, loaded)
    summary = json.loads(run.stdout)
    # the folder is read again from UID 1; its one mail is already in the ledger: nothing recorded twice
    assert (summary["rescanned"], summary["fetched"], summary["duplicates"], summary["counts"]) == (True, 1, 0, {})
    again, loaded = poll(setup["config"])
    assert fast(again, loaded)


def test_a_changed_configuration_or_a_missing_record_takes_the_full_poll(setup: dict[str, Any]) -> None:
    config, settings = setup["config"], setup["settings"]
    config.write_text(config.read_text("utf-8").replace("max_replies_per_hour = 20", "max_replies_per_hour = 19"),
                      "utf-8")
    run, loaded = poll(config)  # validated again (pydantic), then the full poll
    assert not fast(run, loaded) and "pydantic" in loaded
    assert run.stdout.splitlines() == [IDLE_LINE]
    again, loaded = poll(config)
    assert fast(again, loaded)
    overridden, loaded = poll(config, env={"MAILINTAKE_MAILBOX__TIMEOUT": "9"})  # the environment counts too
    assert not fast(overridden, loaded)
    (settings.path(settings.storage.dir) / STATE_FILE).unlink()
    missing, loaded = poll(config)
    assert not fast(missing, loaded)
    broken = config.read_text("utf-8") + "\n[mailbox]\nhostname = 1\n"
    config.write_text(broken, "utf-8")  # a configuration error is still one line, exit 2
    bad, loaded = poll(config)
    assert bad.returncode == 2 and bad.stderr.splitlines()[0].startswith("config: ")


def test_the_record_holds_no_password_and_the_idle_poll_reads_it_from_the_environment(
        tmp_path: Path, imap_server: PymapServer, smtp_sink: SmtpSink) -> None:
    config = write_config(tmp_path / "cfg", imap_host=imap_server.host, imap_port=imap_server.port,
                          username=imap_server.username, password="", smtp_host=smtp_sink.host,
                          smtp_port=smtp_sink.port, extra={"report": {"recipients": []}})
    secret = {"MAILINTAKE_MAILBOX__PASSWORD": imap_server.password}
    first, _loaded = poll(config, env=secret)
    assert first.returncode == 0, first.stderr
    state = (tmp_path / "cfg" / "storage" / STATE_FILE).read_text("utf-8")
    assert imap_server.password not in state and '"password"' not in state
    run, loaded = poll(config, env=secret)
    assert fast(run, loaded) and run.stdout.splitlines() == [IDLE_LINE]
    wrong, loaded = poll(config, env={"MAILINTAKE_MAILBOX__PASSWORD": "wrong"})  # another input: validated again
    assert wrong.returncode == 3 and "pydantic" in loaded


def test_an_idle_poll_waits_for_the_worker_lock_and_refuses_in_one_line(setup: dict[str, Any]) -> None:
    with worker_lock(setup["settings"]):
        run, loaded = poll(setup["config"], "--wait", "0.5")
    assert run.returncode == 7
    assert run.stderr.splitlines()[-2] == (f"another mailintake worker holds the lock on this database "
                                           f"(pid {os.getpid()}); stop it first or use `mailintake status`")
    assert "sqlalchemy.orm" not in loaded and "pydantic" not in loaded


def test_a_schema_behind_the_newest_migration_takes_the_full_poll(setup: dict[str, Any], db_url: str) -> None:
    from alembic import command

    from mailintake.db.engine import alembic_config, make_engine

    engine = make_engine(db_url)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0006")  # as after an upgrade of the code
    engine.dispose()
    run, loaded = poll(setup["config"])
    assert not fast(run, loaded) and "sqlalchemy.orm" in loaded
    assert run.stdout.splitlines() == [IDLE_LINE]
    again, loaded = poll(setup["config"])  # the full poll migrated the schema
    assert fast(again, loaded)


def test_a_database_locked_past_the_busy_timeout_is_one_line_and_exit_5(
        tmp_path: Path, imap_server: PymapServer, smtp_sink: SmtpSink, sqlite_url: str) -> None:
    from tests.scenarios.test_faults import write_lock_held

    config = polled_once(tmp_path, imap_server, smtp_sink, sqlite_url)["config"]
    with write_lock_held(tmp_path / "mailintake.db", 240, until_exit=True):
        run, loaded = poll(config)
    assert run.returncode == 5, run.stderr
    assert run.stderr.splitlines()[-2] == ("database: database is locked; nothing was lost, run the command again "
                                           "when the database is free")
    assert "sqlalchemy.orm" not in loaded  # refused by the idle check: not a second 30 s wait in the full poll
    again, loaded = poll(config)
    assert fast(again, loaded)


def test_the_idle_poll_knows_the_schema_head_and_the_retry_limit() -> None:
    from mailintake.intake.cycle import MAX_ATTEMPTS as PIPELINE_MAX_ATTEMPTS

    assert head_revision() == HEAD_REVISION
    assert MAX_ATTEMPTS == PIPELINE_MAX_ATTEMPTS


@pytest.mark.parametrize("url", [
    "sqlite:///var/mailintake.db", "sqlite:///{tmp}/db.sqlite", "sqlite+pysqlite:///x.db",
    "postgresql+psycopg://intake:p%40ss@db.example:5433/intake", "postgresql://u@/intake?host=/run/postgresql",
])
def test_database_urls_read_without_sqlalchemy_as_the_engine_reads_them(url: str, tmp_path: Path) -> None:
    url = url.format(tmp=tmp_path)
    target = dburl.parse(url, tmp_path)
    resolved = resolve_url(url, tmp_path)
    if target.backend == "sqlite":
        assert resolved.split("///", 1)[1] == str(target.path)
        settings = load_settings(environ={}, overrides={"database": {"url": url}})
        assert lock_file_path(settings.model_copy(update={"base_dir": str(tmp_path)})) == Path(f"{target.path}.lock")
    else:
        assert target.backend == "postgresql"
        from psycopg.conninfo import conninfo_to_dict

        libpq = resolved.replace("postgresql+psycopg://", "postgresql://")
        assert conninfo_to_dict(target.conninfo) == conninfo_to_dict(libpq)
    assert dburl.parse("mysql://x/y").backend == dburl.UNKNOWN
    assert dburl.parse("sqlite:///a.db?mode=ro").backend == dburl.UNKNOWN
