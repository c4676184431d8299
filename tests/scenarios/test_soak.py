"""The soak: `mailintake run` on Dovecot with a trickle of mail while the test SIGKILLs the worker, sends a
30 MB mail, stops and restarts Dovecot, stops SMTP (for longer than a reply's first retries), and fills the
storage file system (a small tmpfs). Afterwards `reconcile` finds no difference, every reply went out
exactly once (counted in the SMTP sink), `status` named the SMTP outage while it lasted and not after, and
the worker's RSS stayed within 20 % of what it was after its first 100 mails."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from mailintake.demo.samples.mails import MessageBuilder
from mailintake.demo.session import write_config
from tests.support.dovecot import DovecotServer, dovecot_binary, start_dovecot
from tests.support.helpers import small_tmpfs
from tests.support.servers import SmtpSink, append_mail, free_port
from tests.unit.worker.test_worker import PROJECT, Process

pytestmark = [pytest.mark.slow, pytest.mark.dovecot,
              pytest.mark.skipif(dovecot_binary() is None, reason="dovecot is not installed (apt-get install "
                                                                  "dovecot-imapd)")]


STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00 ")


def mail(n: int, *, big: bytes | None = None) -> tuple[str, bytes]:
    message_id = f"<soak-{n}@163.com>"
    builder = (MessageBuilder("163").sender(f"申报单位{n}", f"unit{n}@163.com").subject(f"咨询 {n}")
               .message_id(message_id).text(f"王老师您好：第 {n} 个问题，请问纸质材料需要几份？"))
    if big is not None:
        builder = builder.attach("扫描件.pdf", big, "application/pdf")
    return message_id, builder.build()


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILINTAKE_")}
    return subprocess.run([sys.executable, "-m", "mailintake", "--quiet", "--config", str(config), *args],
                          cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120)


def wait_until(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


class Soak:
    def __init__(self, tmp_path: Path, dovecot: DovecotServer, storage: Path) -> None:
        self.dovecot = dovecot
        self.smtp_port = free_port()
        self.sinks = [SmtpSink(port=self.smtp_port)]
        self.config = write_config(
            tmp_path / "run", imap_host=dovecot.host, imap_port=dovecot.port, username=dovecot.username,
            password=dovecot.password, smtp_host="127.0.0.1", smtp_port=self.smtp_port, extra={
                "report": {"recipients": []}, "storage": {"dir": str(storage)},
                "smtp": {"max_replies_per_hour": 1000, "timeout": 3.0, "retry_window": "PT30M"},
                "mailbox": {"timeout": 10.0}, "schedule": {"poll_interval": 5}})
        self.expected: list[str] = []
        self.count = 0

    def send(self, count: int, *, copies: int = 0, pause: float = 0.1) -> None:
        for _ in range(count):
            self.count += 1
            message_id, raw = mail(self.count)
            append_mail(self.dovecot, raw)
            self.expected.append(message_id)
            time.sleep(pause)
        for _ in range(copies):  # identical copies of the last mail: recorded, never answered twice
            append_mail(self.dovecot, raw)

    def replies(self) -> Counter[str]:
        return Counter(m.raw.split(b"In-Reply-To: ", 1)[1].split(b"\r\n", 1)[0].decode()
                       for sink in self.sinks for m in sink.messages if b"In-Reply-To: " in m.raw)

    def all_answered(self) -> bool:
        return set(self.replies()) >= set(self.expected)

    def committed_sent(self) -> set[str]:
        """The Message-IDs whose reply the database records as sent."""
        with contextlib.closing(sqlite3.connect(self.config.parent / "mailintake.db")) as db:
            return {row[0] for row in db.execute(
                "SELECT m.message_id FROM outbox o JOIN messages m ON m.id = o.message_pk WHERE o.status = 'sent'")}

    def smtp_state(self) -> str:
        done = cli(self.config, "status", "--json")
        return str(json.loads(done.stdout)["smtp"]["state"]) if done.returncode == 0 else f"status {done.returncode}"

    def close(self) -> None:
        for sink in self.sinks:
            sink.stop()


@pytest.mark.timeout(600)
def test_soak_outages_kill_full_disk_and_a_30_mb_mail_lose_and_double_nothing(tmp_path: Path) -> None:
    dovecot = start_dovecot(tmp_path / "dovecot")
    workers: list[Process] = []
    with small_tmpfs(tmp_path / "storage", 160) as storage:
        soak = Soak(tmp_path, dovecot, storage)
        try:
            worker = Process(soak.config)
            workers.append(worker)
            worker.wait_for_line("IMAP IDLE active", timeout=60)
            # 1. a trickle, then SIGKILL while mail is arriving; a new worker takes over
            soak.send(15, copies=2)
            wait_until("a first reply", lambda: len(soak.replies()) > 0, 60)
            os.kill(worker.proc.pid, signal.SIGKILL)
            worker.proc.wait(30)
            # the documented window: a reply the server took (250) whose `sent` the killed worker had not yet
            # committed goes out once more; only such a reply may arrive twice, and one kill makes at most one
            in_window = set(soak.replies()) - soak.committed_sent()
            assert len(in_window) <= 1, in_window
            worker.stop_when_done(30)  # its stderr read to the end: what the children wrote after the kill
            assert [line for line in worker.lines if not STAMP.match(line)] == []  # no untimestamped leftovers
            worker = Process(soak.config)
            workers.append(worker)
            worker.wait_for_line("IMAP IDLE active", timeout=60)
            # 2. a 30 MB mail, then the trickle up to 100 mails handled by this worker: the RSS baseline
            message_id, raw = mail(10_000, big=os.urandom(22 * 1024 * 1024))
            assert len(raw) > 30_000_000
            append_mail(dovecot, raw)
            soak.expected.append(message_id)
            soak.send(100, pause=0.05)
            wait_until("every reply so far", soak.all_answered, 240)
            baseline = rss_kb(worker.proc.pid)
            # 3. Dovecot stops and comes back
            dovecot._kill()
            time.sleep(3)
            dovecot._wait_port_free()
            dovecot._start()
            soak.send(10)
            wait_until("replies after Dovecot's restart", soak.all_answered, 120)
            # 4. SMTP stops for longer than a reply's first retries; status names the outage while it lasts
            soak.sinks[-1].stop()
            soak.send(10)
            wait_until("status naming the SMTP outage", lambda: soak.smtp_state() == "unreachable", 90)
            time.sleep(75)  # past the 1- and 2-minute retries of the first replies queued in the outage
            assert soak.smtp_state() == "unreachable"
            soak.sinks.append(SmtpSink(port=soak.smtp_port))
            soak.send(2)
            wait_until("replies after SMTP's return", soak.all_answered, 120)
            wait_until("status clear of the outage", lambda: soak.smtp_state() == "ok", 60)
            # 5. the storage file system fills; mail waits in the mailbox until space is freed
            filler = storage / "filler.bin"
            with filler.open("wb") as handle, contextlib.suppress(OSError):
                while True:
                    handle.write(b"\0" * (1024 * 1024))
                    handle.flush()
            soak.send(5)
            worker.wait_for_line(f"storage: {storage} is full", timeout=60)
            filler.unlink()
            soak.send(3)
            wait_until("replies after the disk was freed", soak.all_answered, 120)
            final = rss_kb(worker.proc.pid)
            assert worker.proc.poll() is None
            reconciled = cli(soak.config, "reconcile")
        finally:
            for each in workers:
                each.stop()
            soak.close()
            dovecot.stop()
    assert (reconciled.returncode, reconciled.stdout.splitlines()[-1:]) == (0, ["no difference"]), \
        reconciled.stdout + reconciled.stderr
    replies = soak.replies()
    assert set(replies) == set(soak.expected) and len(soak.expected) == 146
    twice = {m for m, n in replies.items() if n != 1}
    assert max(replies.values()) <= 2 and twice <= in_window, (twice, in_window)
    print(f"soak: {len(soak.expected)} mails answered once each, RSS {baseline} kB after the first 100 mails, "
          f"{final} kB at the end")
    assert final <= baseline * 1.2, (baseline, final)
