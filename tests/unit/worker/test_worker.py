"""The worker (`mailintake run`), its per-database lock and its logs — against pymap and aiosmtpd."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailintake.config.settings import Settings, load_settings
from mailintake.db.engine import open_database
from mailintake.db.locking import busy_message, lock_file_path, worker_lock
from mailintake.demo.samples.mails import MessageBuilder
from mailintake.demo.session import write_config
from mailintake.errors import WorkerBusyError
from mailintake.util.logging_setup import redact, register_secret, setup_logging
from mailintake.worker.service import Worker, backoff_delay
from tests.support.servers import PymapServer, SmtpSink, append_mail, free_port

CST = dt.timezone(dt.timedelta(hours=8))
PROJECT = Path(__file__).resolve().parents[3]


def question_mail(sender: str = "szzspj@163.com", subject: str = "请问表1可以申报几个项目？") -> bytes:
    return (MessageBuilder("163").sender("盛泽镇行政审批局", sender).subject(subject)
            .text("王老师您好：请问表1最多可以申报几个项目？").build())


def config_for(tmp_path: Path, imap: PymapServer, sink: SmtpSink, **extra: dict[str, object]) -> Path:
    return write_config(tmp_path / "run", imap_host=imap.host, imap_port=imap.port, username=imap.username,
                        password=imap.password, smtp_host=sink.host, smtp_port=sink.port,
                        extra={"report": {"recipients": []}, **extra})


def settings_for(tmp_path: Path, imap: PymapServer, sink: SmtpSink, **extra: dict[str, object]) -> Settings:
    return load_settings(config_for(tmp_path, imap, sink, **extra), environ={})


def subject_of(raw: bytes) -> str:
    return str(email.message_from_bytes(raw, policy=email.policy.default)["Subject"])


# ------------------------------------------------------------------------------------------ lock


def sqlite_settings(tmp_path: Path) -> Settings:
    return load_settings(environ={}, overrides={"database": {"url": f"sqlite:///{tmp_path / 'var' / 'mi.db'}"}})


def test_lock_file_lives_next_to_the_sqlite_database(tmp_path: Path) -> None:
    assert lock_file_path(sqlite_settings(tmp_path)) == tmp_path / "var" / "mi.db.lock"


def test_second_holder_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    """GIVEN a worker holding the lock WHEN another asks without waiting THEN one line names the holder."""
    settings = sqlite_settings(tmp_path)
    with worker_lock(settings):
        with pytest.raises(WorkerBusyError) as caught, worker_lock(settings):
            pass
        assert str(caught.value) == busy_message(os.getpid())
        assert str(caught.value) == (
            f"another mailintake worker holds the lock on this database (pid {os.getpid()}); "
            "stop it first or use `mailintake status`"
        )
        assert caught.value.exit_code == 7
    with worker_lock(settings):  # released: the next one gets it
        pass


def test_waiting_holder_gets_the_lock_once_released(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)
    released = threading.Event()

    def hold() -> None:
        with worker_lock(settings):
            time.sleep(0.4)
        released.set()

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.1)
    started = time.monotonic()
    with worker_lock(settings, wait=True, timeout=5):
        waited = time.monotonic() - started
        assert released.is_set()
    holder.join()
    assert 0.1 < waited < 2.0


def test_waiting_is_bounded(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)
    with worker_lock(settings):
        started = time.monotonic()
        with pytest.raises(WorkerBusyError), worker_lock(settings, wait=True, timeout=0.5):
            pass
        assert 0.5 <= time.monotonic() - started < 1.5


def test_lock_on_both_backends(db_url: str, tmp_path: Path) -> None:
    """PostgreSQL: an advisory lock on a dedicated connection; SQLite: the lock file."""
    settings = load_settings(environ={}, overrides={"database": {"url": db_url}})
    open_database(db_url)
    with worker_lock(settings):
        with pytest.raises(WorkerBusyError) as caught, worker_lock(settings):
            pass
        assert str(caught.value) == busy_message(os.getpid())
    with worker_lock(settings):
        pass


# --------------------------------------------------------------------------------------- backoff


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_delay(n) for n in range(0, 9)] == [0.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 600.0]
    assert backoff_delay(30, cap=60.0) == 60.0


# ---------------------------------------------------------------------------------------- cycles


@pytest.fixture
def worker(tmp_path: Path, imap_server: PymapServer, smtp_sink: SmtpSink) -> Iterator[Worker]:
    settings = settings_for(tmp_path, imap_server, smtp_sink)
    w = Worker(settings, open_database(settings.database.url, settings.base_dir))
    try:
        yield w
    finally:
        w.close()


def test_cycle_polls_replies_and_logs_one_line(worker: Worker, imap_server: PymapServer, smtp_sink: SmtpSink,
                                               caplog: pytest.LogCaptureFixture) -> None:
    """GIVEN a question in the mailbox WHEN one cycle runs THEN it is stored as no_form and answered once."""
    append_mail(imap_server, question_mail(), dt.datetime(2019, 12, 17, 9, 30, tzinfo=CST))
    with caplog.at_level(logging.INFO, logger="mailintake.worker"):
        outcome = worker.poll_cycle()
    assert outcome is not None and outcome.error is None
    assert outcome.poll is not None and outcome.delivery is not None
    assert outcome.poll.fetched == 1
    assert outcome.poll.counts == {"no_form": 1}
    assert (outcome.delivery.sent, outcome.delivery.failed) == (1, 0)
    assert outcome.counts_by_status == {"no_form": 1}
    sent = smtp_sink.wait_for(1)
    assert [m.rcpt_tos for m in sent] == [("szzspj@163.com",)]
    assert subject_of(sent[0].raw).startswith("Re: 请问表1可以申报几个项目？")
    lines = [r for r in caplog.records if r.name == "mailintake.worker" and r.getMessage() == "cycle done"]
    assert len(lines) == 1
    fields = lines[0].fields  # type: ignore[attr-defined]
    assert (fields["fetched"], fields["new_no_form"], fields["replies_sent"], fields["total_no_form"]) == (1, 1, 1, 1)
    again = worker.poll_cycle()
    assert again is not None and again.poll is not None and again.delivery is not None
    assert again.poll.fetched == 0 and again.delivery.sent == 0
    assert len(smtp_sink.messages) == 1


def test_unreachable_mailbox_backs_off(tmp_path: Path, smtp_sink: SmtpSink, imap_server: PymapServer) -> None:
    """GIVEN a mailbox nobody listens on WHEN a cycle runs THEN it fails with one line and backs off."""
    settings = settings_for(tmp_path, imap_server, smtp_sink, mailbox={"port": free_port()})
    w = Worker(settings, open_database(settings.database.url, settings.base_dir))
    try:
        outcome = w.poll_cycle()
        assert outcome is not None and outcome.poll is None
        assert outcome.error is not None and "cannot connect to 127.0.0.1:" in outcome.error
        assert "connection refused" in outcome.error and "\n" not in outcome.error
        assert w.poll_cycle() is None  # within the 5 s backoff: skipped, not hammering the server
    finally:
        w.close()


def test_an_unreachable_mailbox_is_one_recorded_outage_logged_once_and_ended_by_the_next_poll(
        tmp_path: Path, smtp_sink: SmtpSink, imap_server: PymapServer, caplog: pytest.LogCaptureFixture) -> None:
    """GIVEN the mailbox unreachable for two cycles, then a worker that reaches it WHEN they run THEN the
    outage is logged at WARNING once when it starts and once when it ends, and status and /healthz show it
    while it lasts."""
    from mailintake.commands.status import gather_status
    from mailintake.web.routes.health import health

    down = settings_for(tmp_path, imap_server, smtp_sink, mailbox={"port": free_port()})
    factory = open_database(down.database.url, down.base_dir)
    w = Worker(down, factory)
    try:
        with caplog.at_level(logging.INFO, logger="mailintake.worker"):
            assert w.poll_cycle() is not None
            time.sleep(backoff_delay(1) + 0.2)
            assert w.poll_cycle() is not None
    finally:
        w.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert [line[:31] for line in warnings] == ["IMAP mailbox unreachable since "]
    assert warnings[0].endswith("new mail waits on the server and is fetched once it answers (retried "
                                "automatically); `mailintake check-config` tries the connection and the login")
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert sum(m.startswith("IMAP mailbox still unreachable: cannot connect to 127.0.0.1:") for m in infos) == 1
    assert infos.count("cycle failed") == 2  # each cycle's line at INFO: the outage line said it
    status = gather_status(down, factory)
    assert (status["imap"]["state"], status["problems"][0][:31]) == ("unreachable", "IMAP mailbox unreachable since ")
    with factory() as session:
        assert (health(session)["status"], health(session)["imap"]["state"]) == ("degraded", "unreachable")

    caplog.clear()
    up = settings_for(tmp_path, imap_server, smtp_sink)
    again = Worker(up, factory)
    try:
        with caplog.at_level(logging.INFO, logger="mailintake.worker"):
            outcome = again.poll_cycle()
    finally:
        again.close()
    assert outcome is not None and outcome.error is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert [line[:48] for line in warnings] == ["IMAP mailbox reachable again (unreachable since "]
    assert gather_status(up, factory)["imap"] == {"state": "ok"}
    with factory() as session:
        assert (health(session)["status"], health(session)["imap"]) == ("ok", {"state": "ok"})


def test_scheduled_polling_delivers_without_an_explicit_poll(tmp_path: Path, imap_server: PymapServer,
                                                             smtp_sink: SmtpSink) -> None:
    """GIVEN the scheduler running with a 1 s poll interval WHEN a mail arrives THEN its reply goes out."""
    settings = settings_for(tmp_path, imap_server, smtp_sink, schedule={"poll_interval": 1})
    w = Worker(settings, open_database(settings.database.url, settings.base_dir))
    runner = threading.Thread(target=w.run, kwargs={"install_signals": False})
    runner.start()
    try:
        time.sleep(0.5)
        append_mail(imap_server, question_mail(), dt.datetime(2019, 12, 17, 9, 30, tzinfo=CST))
        sent = smtp_sink.wait_for(1, timeout=15)
        assert [m.rcpt_tos for m in sent] == [("szzspj@163.com",)]
    finally:
        w.request_stop()
        runner.join(15)
    assert not runner.is_alive()


def test_daily_report_is_written_and_mailed(tmp_path: Path, imap_server: PymapServer, smtp_sink: SmtpSink) -> None:
    settings = settings_for(tmp_path, imap_server, smtp_sink, report={"recipients": ["office@example.gov.cn"]})
    w = Worker(settings, open_database(settings.database.url, settings.base_dir))
    try:
        files = w.daily_report(for_date=dt.date(2019, 12, 19))
    finally:
        w.close()
    assert files is not None
    assert Path(files.html_path).is_file() and Path(files.xlsx_path).is_file()
    sent = smtp_sink.wait_for(1)
    assert [m.rcpt_tos for m in sent] == [("office@example.gov.cn",)]
    assert "2019-12-19" in subject_of(sent[0].raw)


# ------------------------------------------------------------------------------------------- logs


def test_log_times_are_in_the_campaign_zone_with_its_offset() -> None:
    from zoneinfo import ZoneInfo

    from mailintake.util.logging_setup import set_timezone

    stream = io.StringIO()
    setup_logging(1, stream=stream)
    set_timezone(ZoneInfo("Asia/Shanghai"))
    try:
        logging.getLogger("mailintake.test").info("hello")
    finally:
        set_timezone(None)
    stamp = stream.getvalue().split(" ", 1)[0]
    assert dt.datetime.fromisoformat(stamp).utcoffset() == dt.timedelta(hours=8) and stamp.endswith("+08:00")


def test_logs_are_key_value_lines_without_passwords() -> None:
    stream = io.StringIO()
    setup_logging(1, stream=stream)
    register_secret("s3cret-授权码")
    logging.getLogger("mailintake.test").info("login with %s failed", "s3cret-授权码",
                                              extra={"fields": {"user": "a@qq.com", "note": "two words"}})
    logging.getLogger("mailintake.test").debug("hidden at the default level")
    line = stream.getvalue().strip()
    assert line.endswith('INFO mailintake.test login with *** failed user=a@qq.com note="two words"')
    assert "s3cret" not in line and "hidden" not in line
    assert redact("A1 LOGIN office@qq.com hunter22") == "A1 LOGIN office@qq.com ***"
    # masking hides secrets only: the server's name in a human sentence stays
    assert redact("IMAP login to imap.qq.com:993 failed") == "IMAP login to imap.qq.com:993 failed"
    setup_logging(0, stream=stream)
    assert logging.getLogger().level == logging.WARNING


# -------------------------------------------------------------------------------- mailintake run


class Process:
    """A `mailintake run` subprocess whose stderr is collected line by line."""

    def __init__(self, config: Path, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAILINTAKE_")}
        self.proc = subprocess.Popen([sys.executable, "-m", "mailintake", "--config", str(config), *args, "run"],
                                     cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if text in line:
                    return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no line with {text!r} in {self.lines}")

    def stop_when_done(self, timeout: float) -> int:
        """Wait for the worker to exit by itself (killed after ``timeout``); its exit code."""
        try:
            code = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)
        self._reader.join(5)
        return code

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        self._reader.join(5)
        return code


def test_run_answers_new_mail_through_idle_and_a_second_run_refuses(
    tmp_path: Path, imap_server: PymapServer, smtp_sink: SmtpSink
) -> None:
    """GIVEN `mailintake run` with IDLE and an hour-long poll interval
    WHEN a mail is appended THEN its receipt reaches the SMTP sink without anyone calling poll;
    a second `run` on the same database refuses with one line; SIGTERM stops the first cleanly."""
    config = config_for(tmp_path, imap_server, smtp_sink, mailbox={"idle": True},
                        schedule={"poll_interval": 3600})
    worker = Process(config)
    try:
        worker.wait_for_line("IMAP IDLE active")
        worker.wait_for_line("cycle done")
        append_mail(imap_server, question_mail(), dt.datetime(2019, 12, 17, 9, 30, tzinfo=CST))
        sent = smtp_sink.wait_for(1, timeout=20)
        assert [m.rcpt_tos for m in sent] == [("szzspj@163.com",)]
        assert subject_of(sent[0].raw).startswith("Re: 请问表1可以申报几个项目？")

        second = subprocess.run([sys.executable, "-m", "mailintake", "--config", str(config), "run"],
                                cwd=PROJECT, capture_output=True, text=True, timeout=60)
        assert second.returncode == 7
        assert second.stderr.splitlines() == [busy_message(worker.proc.pid)]
    finally:
        code = worker.stop()
    assert code == 0
    assert any("worker stopped" in line for line in worker.lines)
    assert not any("Traceback" in line for line in worker.lines)
    assert len(smtp_sink.messages) == 1
