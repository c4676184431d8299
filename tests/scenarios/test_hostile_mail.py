"""Hostile mail through the whole intake, in a real `mailintake poll` process against a real IMAP server.

GIVEN ~45 crafted mails (bombs, entity tricks, traversal names, 3,000 attachments, a 60 MB mail, ...)
followed by one ordinary submission, WHEN one poll runs (as a child process, so its peak memory and
every file it writes can be checked) THEN each mail is recorded once with the exact flag it deserves,
the ordinary mail is accepted, the poll stays within time and memory, and nothing is written outside
the storage directory and the database.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from mailintake.db.models import Message, OutboxItem
from tests.support import hostile
from tests.support.env import Env
from tests.support.helpers import at
from tests.support.servers import PymapServer, append_mail, start_imap_server, start_smtp_sink

MAX_MESSAGE_BYTES = 20 * 1024 * 1024
BIG_ATTACHMENT = 60 * 1024 * 1024
#: the poll child (and its parser children) must stay below this peak resident size
RSS_LIMIT_MB = 600
POLL_SECONDS_LIMIT = 90
REPO = Path(__file__).resolve().parents[2]

#: key -> (status, message flag codes sorted). Mails whose hostility is only in headers carry a
#: valid form and are accepted with the values sanitised (checked separately below).
EXPECTED: dict[str, tuple[str, list[str]]] = {
    "docx-bomb": ("needs_correction", ["unreadable"]),
    "docx-lying-sizes": ("needs_correction", ["unreadable"]),
    "zip-bomb": ("needs_correction", ["unreadable"]),
    "zip-lying-sizes": ("needs_correction", ["unreadable"]),
    "billion-laughs": ("needs_correction", ["unreadable"]),
    "billion-laughs-utf16": ("needs_correction", ["unreadable"]),
    "xxe-passwd": ("needs_correction", ["unreadable"]),
    "xxe-passwd-utf16": ("no_form", ["no_form"]),
    "xxe-http": ("needs_correction", ["unreadable"]),
    "xinclude-passwd": ("no_form", ["no_form"]),
    "rels-outside": ("no_form", ["no_form"]),
    "deep-xml": ("needs_correction", ["unreadable"]),
    "zip-nested-30": ("needs_correction", ["unreadable"]),
    "zip-many-members": ("needs_correction", ["unreadable"]),
    "zip-traversal": ("needs_correction", ["unsupported_format"] * 3),
    "zip-symlink": ("needs_correction", ["unsupported_format"]),
    "zip-encrypted-member": ("needs_correction", ["unreadable"]),
    "7z-corrupt": ("needs_correction", ["unreadable"]),
    "rar-corrupt": ("needs_correction", ["unreadable"]),  # read by libarchive: damaged
    "tnef-corrupt": ("needs_correction", ["unreadable"]),
    "encrypted-docx": ("needs_correction", ["unreadable"]),
    "docm-macro": ("accepted", ["macro_ignored"]),
    "truncated-docx": ("needs_correction", ["unreadable"]),
    "missing-document-xml": ("needs_correction", ["unreadable"]),
    "exe-as-docx": ("needs_correction", ["unsupported_format"]),
    "empty-attachment": ("needs_correction", ["unreadable"]),
    "attachments-3000": ("needs_correction", ["no_form"] * 200 + ["unreadable"]),
    "bad-base64": ("needs_correction", ["unreadable"]),
    "truncated-base64": ("needs_correction", ["unreadable"]),
    "nul-bytes": ("accepted", []),
    "unknown-charset": ("accepted", []),
    "header-1mb": ("no_form", []),
    "subject-1mb": ("accepted", []),
    "crlf-injection": ("accepted", []),
    "attachment-traversal": ("needs_correction", ["unsupported_format"] * 2),
    "html-script": ("needs_correction", ["unreadable"]),
    "long-filename": ("accepted", []),
    "reply-to-flood": ("accepted", []),
    "big-60mb": ("too_large", ["too_large"]),
    "normal-after": ("accepted", []),
}
#: mails without a usable Message-ID get a synthetic one; recognised by their UID instead
HEADERLESS: dict[str, tuple[str, list[str]]] = {"no-headers-garbage": ("no_form", []), "no-from-no-id": ("no_form", [])}

_RUSAGE_WRAPPER = """
import json, resource, subprocess, sys, time
started = time.monotonic()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=300)
print(json.dumps({"rc": done.returncode, "stdout": done.stdout, "stderr": done.stderr[-5000:],
                  "seconds": time.monotonic() - started,
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def big_mail() -> bytes:
    """A 60 MB attachment (random bytes: incompressible) beside a form."""
    data = os.urandom(BIG_ATTACHMENT)
    return hostile.mail_with("<big-60mb@hostile.test>", [hostile.file_part("表2.docx", hostile.form2()),
                                                          hostile.file_part("扫描件.pdf", data, "application/pdf")])


def write_config(path: Path, server: PymapServer, root: Path, *, smtp_port: int = 9) -> Path:
    path.write_text(
        f'[mailbox]\nhost = "{server.host}"\nport = {server.port}\nsecurity = "none"\n'
        f'username = "{server.username}"\npassword = "{server.password}"\nfetch_batch = 10\n'
        f"max_message_bytes = {MAX_MESSAGE_BYTES}\n"
        f'[database]\nurl = "sqlite:///{root / "mailintake.db"}"\n[storage]\ndir = "{root / "storage"}"\n'
        f'[smtp]\nsender = "office@example.gov.cn"\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\n'
        f'[report]\ndir = "{root / "reports"}"\n'
        "[limits]\nparse_timeout = 30\nparse_memory_mb = 1024\n"
        f'[campaign]\nforms = "{REPO / "config/forms.toml"}"\nroster = "{REPO / "config/units.csv"}"\n'
        f'templates = "{REPO / "config/templates"}"\n',
        "utf-8",
    )
    path.chmod(0o600)
    return path


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


class Outcome:
    """What the one hostile poll left behind."""

    def __init__(self, root: Path, run: dict[str, Any], uids: dict[str, int], before: set[str]) -> None:
        self.root = root
        self.run = run
        self.uids = uids
        self.before = before
        self.env = Env.sqlite(root)
        self.settings = self.env.settings()
        self.session_factory = self.env.session_factory


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("hostile")
    for sub in ("cwd", "home", "tmp"):
        (root / sub).mkdir()
    server = start_imap_server()
    try:
        uids: dict[str, int] = {}
        mails = [(key, raw) for key, raw in hostile.hostile_mails() if key != "mime-nested-1000"]
        mails += [("big-60mb", big_mail()), ("normal-after", hostile.valid_mail())]
        for key, raw in mails:
            uid = append_mail(server, raw, at(16))
            assert uid is not None
            uids[key] = uid
        del mails
        config = write_config(root / "mailintake.toml", server, root)
        before = tree(root)
        env = {**os.environ, "MAILINTAKE_CONFIG": str(config), "HOME": str(root / "home"),
               "TMPDIR": str(root / "tmp")}
        done = subprocess.run(
            [sys.executable, "-c", _RUSAGE_WRAPPER, sys.executable, "-m", "mailintake", "poll", "--no-send", "--json"],
            env=env, cwd=root / "cwd", capture_output=True, text=True, timeout=400,
        )
        assert done.returncode == 0, done.stderr
        run = json.loads(done.stdout)
        client = server.client()
        try:
            client.select_folder("INBOX", readonly=True)
            run["mailbox_flags"] = {int(uid): [f.decode() for f in flags]
                                    for uid, flags in client.get_flags(client.search("ALL")).items()}
        finally:
            client.logout()
        yield Outcome(root, run, uids, before)
    finally:
        server.stop()


def test_no_mail_is_deleted_or_marked_read(outcome):
    """THEN every mail is still in the INBOX, none \\Seen or \\Deleted (mail is read with BODY.PEEK)."""
    flags = outcome.run["mailbox_flags"]
    assert sorted(flags) == sorted(outcome.uids.values())
    assert [uid for uid, f in flags.items() if "\\Seen" in f or "\\Deleted" in f] == []


def messages_by_key(outcome: Outcome) -> dict[str, Message]:
    by_uid = {uid: key for key, uid in outcome.uids.items()}
    with outcome.session_factory() as session:
        rows = session.scalars(select(Message).options(selectinload(Message.attachments))).all()
        for row in rows:
            session.expunge(row)
    return {by_uid[row.uid]: row for row in rows}


def test_poll_finishes_within_time_and_memory(outcome):
    """THEN the poll exits 0 within its time budget and its peak RSS (parser children included) is bounded."""
    run = outcome.run
    assert run["rc"] == 0, run["stderr"]
    summary = json.loads(run["stdout"])
    assert summary["fetched"] == len(outcome.uids)
    assert summary["errors"] == []
    assert run["seconds"] < POLL_SECONDS_LIMIT
    assert run["maxrss_kb"] / 1024 < RSS_LIMIT_MB


@pytest.mark.parametrize("key", sorted({*EXPECTED, *HEADERLESS}))
def test_each_hostile_mail_is_recorded_once_with_its_flag(outcome, key):
    """THEN every mail has one row with the exact status and flag codes."""
    rows = messages_by_key(outcome)
    assert len(rows) == len(outcome.uids)
    status, codes = {**EXPECTED, **HEADERLESS}[key]
    message = rows[key]
    assert (message.status, sorted(f["code"] for f in message.flags)) == (status, sorted(codes))
    for flag in message.flags:
        assert flag["message"] and "\n" not in flag["message"] and "\r" not in flag["message"]


def test_the_ordinary_mail_after_the_hostile_ones_is_accepted(outcome):
    rows = messages_by_key(outcome)
    normal = rows["normal-after"]
    assert (normal.status, normal.from_addr, normal.subject) == ("accepted", "cs@cs.gov.cn", "申报材料")
    with outcome.session_factory() as session:
        kinds = {row.message_pk: row.kind for row in session.scalars(select(OutboxItem))}
    assert kinds[normal.id] == "receipt"


def test_the_60mb_mail_is_recorded_from_its_header_only(outcome):
    big = messages_by_key(outcome)["big-60mb"]
    assert (big.status, big.raw_path, big.from_addr) == ("too_large", None, "applicant@qq.com")
    assert big.size > BIG_ATTACHMENT


def test_sanitised_header_values(outcome):
    """CR/LF, NUL, unknown charsets and 1 MB lines end up as bounded single-line text."""
    rows = messages_by_key(outcome)
    assert rows["crlf-injection"].subject == "申报 Bcc: victim@evil.example X-Injected: yes"
    assert rows["crlf-injection"].from_name == "张三 Bcc: victim@evil.example"
    assert [a.path for a in rows["crlf-injection"].attachments] == ["表2 Bcc: victim@evil.example.docx"]
    assert rows["nul-bytes"].subject == "申报"
    assert rows["nul-bytes"].from_addr == "nul@qq.com"
    assert rows["unknown-charset"].subject == "申报"
    assert len(rows["subject-1mb"].subject) == 1000
    assert len(rows["long-filename"].attachments[0].path) <= 255
    assert len(rows["reply-to-flood"].reply_to) <= 2000
    for row in rows.values():
        for text in (row.subject, row.from_name, row.from_addr, row.message_id):
            assert "\r" not in text and "\n" not in text and "\x00" not in text


def test_traversal_names_become_display_paths_only(outcome):
    rows = messages_by_key(outcome)
    assert sorted(a.path for a in rows["attachment-traversal"].attachments) == sorted(
        f"{hostile.TOKEN}-{c}.docx" for c in "efg")
    assert sorted(a.path for a in rows["zip-traversal"].attachments) == [
        f"材料.zip/Windows/{hostile.TOKEN}-c.docx", f"材料.zip/{hostile.TOKEN}-d.txt",
        f"材料.zip/tmp/{hostile.TOKEN}-a.docx", f"材料.zip/tmp/{hostile.TOKEN}-b.docx",
    ]
    assert [a.path for a in rows["zip-symlink"].attachments] == ["材料.zip/表2.docx"]


def test_nothing_written_outside_storage_and_database(outcome):
    """THEN the only new files are the database (and its lock/WAL) and content-addressed storage objects."""
    root = outcome.root
    new = tree(root) - outcome.before
    allowed_db = {"mailintake.db", "mailintake.db-wal", "mailintake.db-shm", "mailintake.db.lock"}
    object_path = re.compile(r"^storage(/objects(/[0-9a-f]{2}(/[0-9a-f]{62})?)?)?$")
    strays = sorted(p for p in new if p not in allowed_db and not object_path.match(p))
    assert strays == []
    for sub in ("cwd", "home", "tmp"):
        assert list((root / sub).iterdir()) == []
    for directory in (Path("/tmp"), Path("/etc"), Path("/"), Path("/etc/cron.d"), root.parent, Path.cwd()):
        if directory.is_dir():
            assert not [p for p in directory.iterdir() if hostile.TOKEN in p.name]
    assert not any(hostile.TOKEN in p.name for p in root.rglob("*"))


def test_local_files_never_reach_a_stored_field(outcome):
    """External entities / XInclude / relationships pointing at /etc/passwd read nothing from it."""
    passwd = Path("/etc/passwd").read_text("utf-8", "replace")
    needles = [line for line in passwd.splitlines() if line.count(":") >= 6][:5]
    assert needles
    connection = sqlite3.connect(outcome.root / "mailintake.db")
    try:
        dump = "\n".join(connection.iterdump())
    finally:
        connection.close()
    for needle in needles:
        assert needle not in dump
    assert "root:x:0:0" not in dump


def test_reply_headers_carry_no_injected_header_or_recipient(outcome):
    """GIVEN CR/LF in the sender's name, the subject and a filename THEN the queued reply has the usual
    headers only and goes to the sender alone — also when delivered through a real SMTP server."""
    rows = messages_by_key(outcome)
    message_pk = rows["crlf-injection"].id
    with outcome.session_factory() as session:
        item = session.scalars(select(OutboxItem).where(OutboxItem.message_pk == message_pk)).one()
        raw, recipients, cc = bytes(item.raw), list(item.recipients), list(item.cc)
    assert (recipients, cc) == (["crlf@qq.com"], [])
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    names = {name.lower() for name in parsed}
    assert "bcc" not in names and "x-injected" not in names and "cc" not in names
    assert [str(v) for v in parsed.get_all("To") or []] == [parsed["To"]]
    assert [a.addr_spec for a in parsed["To"].addresses] == ["crlf@qq.com"]
    head = raw.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        assert not line.lower().startswith((b"bcc:", b"x-injected:", b"cc:"))

    from mailintake.outbox.sender import deliver_due

    sink = start_smtp_sink()
    try:
        settings = outcome.env.settings(smtp=sink)
        with outcome.session_factory() as session:
            for other in session.scalars(select(OutboxItem).where(OutboxItem.message_pk != message_pk)):
                other.status = "held-by-test"
            session.commit()
        try:
            result = deliver_due(settings, outcome.session_factory)
        finally:
            with outcome.session_factory() as session:
                for other in session.scalars(select(OutboxItem).where(OutboxItem.status == "held-by-test")):
                    other.status = "pending"
                session.commit()
        assert result.sent == 1
        delivered = sink.wait_for(1)
        assert [m.rcpt_tos for m in delivered] == [("crlf@qq.com",)]
    finally:
        sink.stop()


def test_report_escapes_scripts(outcome):
    """GIVEN <script> in a subject, a sender name, a filename and a form field THEN the report shows it as text."""
    from mailintake.report.build import build_report

    settings = outcome.env.settings()
    with outcome.session_factory() as session, session.begin():
        files = build_report(settings, session, out_dir=outcome.root / "reports-test")
    html = files.html_path.read_text("utf-8")
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert "&lt;script&gt;alert(&#39;subject&#39;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(&#39;img&#39;)&gt;.docx" in html


def test_each_mail_answered_at_most_once(outcome):
    with outcome.session_factory() as session:
        pks = [row.message_pk for row in session.scalars(select(OutboxItem))]
    assert [pk for pk, n in Counter(pks).items() if n > 1] == []


def test_mime_nested_1000_deep_is_flagged(tmp_path, env):
    """GIVEN a mail nested 1,000 multiparts deep (pymap itself cannot store it, so it goes through
    Dovecot when installed, else straight into the intake cycle) THEN it is recorded with a flag."""
    from mailintake.intake.cycle import poll_once
    from tests.support.servers import dovecot_binary, start_dovecot

    raw = hostile.nested_mime("<mime-nested-1000@hostile.test>", 1000)
    if dovecot_binary() is None:
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd)")
    server = start_dovecot(tmp_path / "dovecot")
    try:
        append_mail(server, raw, at(16))
        append_mail(server, hostile.valid_mail(), at(16, 11))
        settings = env.settings(imap=server)
        session_factory = env.session_factory
        started = time.monotonic()
        result = poll_once(settings, session_factory)
        assert time.monotonic() - started < 30
    finally:
        server.stop()
    assert result.counts == {"needs_correction": 1, "accepted": 1}
    with session_factory() as session:
        rows = {m.message_id: (m.status, [f["code"] for f in m.flags]) for m in session.scalars(select(Message))}
    assert rows == {"<mime-nested-1000@hostile.test>": ("needs_correction", ["unreadable"]),
                    "<normal-after@hostile.test>": ("accepted", [])}
