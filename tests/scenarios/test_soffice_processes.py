"""No LibreOffice outlives the parser child that started it: SIGKILL of the child (its time limit, its
worker's death) takes soffice, oosplash and soffice.bin down with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mailintake.demo.samples.forms import make_form_docx
from mailintake.intake.sandbox import ParseJob, ParserPool
from parsers.convert import convert, find_soffice
from parsers.records import FileResult
from tests.support.helpers import at, mail, poll_config
from tests.support.processes import Proc, descendants, wait_gone
from tests.support.servers import PymapServer, append_mail

pytestmark = [
    pytest.mark.libreoffice,
    pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) is not installed"),
]


def _soffice(procs: list[Proc]) -> list[Proc]:
    return [p for p in procs if "soffice" in p.cmdline or "oosplash" in p.cmdline]


@pytest.fixture(scope="module")
def doc() -> bytes:
    """A large .doc: its conversion back to .docx keeps LibreOffice busy for seconds."""
    soffice = find_soffice()
    assert soffice is not None
    return convert(make_form_docx(2, {"unit": "苏州市吴中区行政审批局", "deeds": "推行“一件事一窗办”改革。" * 300}),
                   "docx", "doc", soffice=soffice)


def _wait_for_soffice_bin(root: int) -> list[Proc]:
    deadline = time.monotonic() + 90
    running: list[Proc] = []
    while time.monotonic() < deadline and not any("soffice.bin" in p.cmdline for p in running):
        time.sleep(0.02)
        running = _soffice(descendants(root))
    assert any("soffice.bin" in p.cmdline for p in running), "LibreOffice did not start within 90 s"
    return running


def test_sigkill_of_a_poll_converting_a_doc_leaves_no_soffice(doc: bytes, imap_server: PymapServer,
                                                              tmp_path: Path) -> None:
    append_mail(imap_server, mail("王五 <wangwu@qq.com>", "表2", message_id="<doc@qq.com>",
                                  attachments={"申报材料.doc": doc}), at(16))
    config = poll_config(tmp_path / "mailintake.toml", imap_server, f"sqlite:///{tmp_path / 'mi.db'}",
                         tmp_path / "storage")
    env = {**os.environ, "MAILINTAKE_CONFIG": str(config)}
    poll = subprocess.Popen([sys.executable, "-m", "mailintake", "poll", "--no-send"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        running = _wait_for_soffice_bin(poll.pid)
        below = descendants(poll.pid)
    finally:
        poll.send_signal(signal.SIGKILL)
        poll.wait()
    # the parser child dies with the poll, the guard within 0.2 s of it, and LibreOffice with the guard
    left = wait_gone(below, timeout=10)
    assert left == [], [f"{p.pid} {p.cmdline[:100]}" for p in left]
    assert {("soffice.bin" in p.cmdline) for p in running} == {True, False}


def test_sigkill_of_a_parser_child_converting_a_doc_leaves_no_soffice(doc: bytes) -> None:
    job = ParseJob(name="申报材料.doc", data=doc, max_chars=1000, max_file_bytes=50 << 20,
                   max_uncompressed_bytes=200 << 20, max_compression_ratio=200, max_members=500)
    results: list[FileResult] = []
    with ParserPool(workers=1, timeout=120) as pool:
        worker = threading.Thread(target=lambda: results.extend(pool.parse_many([job])))
        worker.start()
        running = _wait_for_soffice_bin(os.getpid())
        guard = next(p for p in running if "import os, signal, subprocess" in p.cmdline)
        child = next(p for p in descendants(os.getpid()) if p.pid == guard.ppid)  # the parser child
        assert child.ppid != os.getpid()  # a child of the forkserver, not the forkserver itself
        os.kill(child.pid, signal.SIGKILL)
        left = wait_gone(running, timeout=3)  # the guard looks every 0.2 s
        assert left == [], [f"{p.pid} {p.cmdline[:100]}" for p in left]
        worker.join(timeout=120)
    assert [(r.file, [f.code for f in r.flags]) for r in results] == [("申报材料.doc", ["unreadable"])]
