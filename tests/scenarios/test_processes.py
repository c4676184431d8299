"""No process outlives the worker: SIGKILL of a running ``mailintake poll`` leaves no parser child,
forkserver or resource tracker behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from mailintake.db.models import Message
from mailintake.demo.samples.forms import make_form_docx
from tests.support.env import Env
from tests.support.helpers import at, mail, poll_config
from tests.support.processes import descendants, wait_gone
from tests.support.servers import PymapServer, append_mail


def test_sigkill_of_a_running_poll_leaves_no_process_behind(imap_server: PymapServer, tmp_path: Path,
                                                              env: Env) -> None:
    form = make_form_docx(2, {"unit": "苏州工业园区行政审批局", "deeds": "推行“一件事一窗办”。"})
    for n in range(40):
        append_mail(imap_server, mail(f"u{n} <u{n}@qq.com>", "表2", message_id=f"<orphan{n}@qq>",
                                      attachments={"表2.docx": form}), at(16, 9, n))
    config = poll_config(tmp_path / "mailintake.toml", imap_server, env.url, tmp_path / "storage")
    environ = {**os.environ, "MAILINTAKE_CONFIG": str(config)}
    poll = subprocess.Popen([sys.executable, "-m", "mailintake", "poll", "--no-send"], env=environ,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    session_factory = env.session_factory
    deadline = time.monotonic() + 90
    recorded = 0
    while time.monotonic() < deadline and recorded < 5:
        time.sleep(0.05)
        with session_factory() as session:
            recorded = session.scalar(select(func.count()).select_from(Message)) or 0
    below = descendants(poll.pid)
    poll.send_signal(signal.SIGKILL)
    poll.wait()
    assert recorded >= 5, "the poll recorded nothing within 90 s"
    # the forkserver, the resource tracker and the parser children were all running
    kinds = sorted({"child" if p.ppid != poll.pid else "forkserver" if "forkserver" in p.cmdline else
                    "resource_tracker" if "resource_tracker" in p.cmdline else p.cmdline for p in below})
    assert kinds == ["child", "forkserver", "resource_tracker"], [p.cmdline for p in below]
    left = wait_gone(below, timeout=10)
    assert left == [], [f"{p.pid} {p.cmdline}" for p in left]
