"""Secrets: the IMAP and SMTP passwords never reach logs, the database, exports or the report; a
world-readable config file holding a password draws a one-line warning."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.helpers import at, mail
from tests.support.servers import PymapServer, SmtpSink, append_mail, start_imap_server

REPO = Path(__file__).resolve().parents[2]
IMAP_PASSWORD = "Imap-S3cret-7Qx"
WRONG_PASSWORD = "Wr0ng-Guess-K2p"
SMTP_PASSWORD = "Smtp-S3cret-9Zv"
SECRETS = (IMAP_PASSWORD, WRONG_PASSWORD, SMTP_PASSWORD)


@pytest.fixture
def secret_imap() -> Iterator[PymapServer]:
    server = start_imap_server(users={"office@example.gov.cn": IMAP_PASSWORD})
    try:
        yield server
    finally:
        server.stop()


def write_config(root: Path, imap: PymapServer, sink: SmtpSink, *, password: str, mode: int = 0o600,
                 smtp_login: bool = True) -> Path:
    path = root / "mailintake.toml"
    smtp_auth = f'username = "office@example.gov.cn"\npassword = "{SMTP_PASSWORD}"\n' if smtp_login else ""
    path.write_text(
        f'[mailbox]\nhost = "{imap.host}"\nport = {imap.port}\nsecurity = "none"\n'
        f'username = "office@example.gov.cn"\npassword = "{password}"\n'
        f'[smtp]\nhost = "{sink.host}"\nport = {sink.port}\nsecurity = "none"\nsender = "office@example.gov.cn"\n'
        f"{smtp_auth}"
        f'[database]\nurl = "sqlite:///{root / "mailintake.db"}"\n[storage]\ndir = "{root / "storage"}"\n'
        f'[report]\ndir = "{root / "reports"}"\n'
        f'[campaign]\nforms = "{REPO / "config/forms.toml"}"\nroster = "{REPO / "config/units.csv"}"\n'
        f'templates = "{REPO / "config/templates"}"\n',
        "utf-8",
    )
    path.chmod(mode)
    return path


def cli(config: Path, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILINTAKE_")}
    if password is not None:  # the password kept out of the file, as the README recommends
        env["MAILINTAKE_MAILBOX__PASSWORD"] = password
    return subprocess.run([sys.executable, "-m", "mailintake", "--config", str(config), *args], env=env,
                          capture_output=True, text=True, timeout=120, cwd=config.parent)


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_passwords_never_reach_logs_database_exports_or_report(secret_imap, smtp_sink, tmp_path):
    """GIVEN a wrong and then the right IMAP password, and an SMTP login the server refuses, all at
    debug verbosity THEN neither password appears on stderr/stdout, in any database table, in the
    JSON/CSV/Excel exports or in the report files."""
    from mailintake.demo.samples.forms import make_form_docx

    form = make_form_docx(2, {"unit": "苏州工业园区行政审批局", "deeds": "推行“一件事一窗办”。"})
    append_mail(secret_imap, mail("a <a@qq.com>", "表2", message_id="<s1@qq.com>", attachments={"表2.docx": form}),
                at(16))
    wrong = write_config(tmp_path, secret_imap, smtp_sink, password=WRONG_PASSWORD)
    failed = cli(wrong, "-v", "poll")
    assert failed.returncode == 3
    assert failed.stderr.splitlines()[-1] == (
        f"IMAP login to 127.0.0.1:{secret_imap.port} failed for user office@example.gov.cn "
        "([AUTHENTICATIONFAILED] Invalid authentication credentials.): check [mailbox] username/password")
    assert_no_secret(failed.stdout + failed.stderr)

    right = write_config(tmp_path, secret_imap, smtp_sink, password=IMAP_PASSWORD)
    polled = cli(right, "-v", "poll")
    # the sink offers no AUTH: delivery stops with one line, after the mail was recorded
    assert polled.returncode == 4, polled.stderr
    last = polled.stderr.splitlines()[-1]
    assert last.startswith(f"smtp: {smtp_sink.host} ") and "SMTP AUTH extension not supported" in last
    assert_no_secret(polled.stdout + polled.stderr)
    check = cli(right, "-v", "check-config")
    assert_no_secret(check.stdout + check.stderr)
    status = cli(right, "-v", "status")
    assert status.returncode == 0, status.stderr
    assert_no_secret(status.stdout + status.stderr)

    connection = sqlite3.connect(tmp_path / "mailintake.db")
    try:
        dump = "\n".join(connection.iterdump())
    finally:
        connection.close()
    assert "<s1@qq.com>" in dump
    assert_no_secret(dump)

    for fmt in ("json", "csv"):
        exported = cli(right, "export", "--format", fmt)
        assert exported.returncode == 0, exported.stderr
        assert "s1@qq.com" in exported.stdout or "a@qq.com" in exported.stdout
        assert_no_secret(exported.stdout + exported.stderr)
    workbook = tmp_path / "export.xlsx"
    assert cli(right, "export", "--format", "xlsx", "--out", str(workbook)).returncode == 0
    report = cli(right, "report")
    assert report.returncode == 0, report.stderr
    assert_no_secret(report.stdout + report.stderr)
    files = [workbook, *(tmp_path / "reports").iterdir()]
    assert any(p.suffix == ".html" for p in files)
    for path in files:
        data = path.read_bytes()
        texts = [data.decode("utf-8", "replace")]
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                texts += [archive.read(n).decode("utf-8", "replace") for n in archive.namelist()]
        for text in texts:
            assert_no_secret(text)


def test_world_readable_config_with_a_password_draws_one_warning(secret_imap, smtp_sink, tmp_path):
    readable = write_config(tmp_path, secret_imap, smtp_sink, password=IMAP_PASSWORD, mode=0o644)
    result = cli(readable, "status")
    assert result.returncode == 0, result.stderr
    warning = (f"warning: config file {readable} is readable by every user and holds a password; "
               f"chmod 600 {readable}")
    assert result.stderr.splitlines().count(warning) == 1
    assert_no_secret(result.stdout + result.stderr)

    checked = cli(readable, "check-config", "--no-network")
    assert warning not in checked.stderr  # check-config says it in its own WARN line instead
    assert f"WARN config    {readable} holds a password and every user can read it" in checked.stdout

    readable.chmod(0o600)
    assert "warning: config file" not in cli(readable, "status").stderr


def test_world_readable_config_without_a_password_is_fine(secret_imap, smtp_sink, tmp_path):
    path = write_config(tmp_path, secret_imap, smtp_sink, password="", mode=0o644, smtp_login=False)
    result = cli(path, "status", password=IMAP_PASSWORD)
    assert result.returncode == 0, result.stderr
    assert "warning: config file" not in result.stderr
