"""Small helpers shared by the integration tests: settings pointing at the test servers, mails."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from mailintake.config.settings import Settings, load_settings
from tests.support.servers import ImapServer, SmtpSink

CST = dt.timezone(dt.timedelta(hours=8))
OFFICE = "office@example.gov.cn"
DOCX_TYPE = ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document")


def at(day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    """A December 2019 time in China Standard Time (the campaign's days)."""
    return dt.datetime(2019, 12, day, hour, minute, tzinfo=CST)


def make_settings(tmp_path: Path, *, imap: ImapServer | None = None, smtp: SmtpSink | None = None,
                  db_url: str | None = None, **sections: dict[str, Any]) -> Settings:
    """Settings for a test: local servers, plaintext, a database and storage under tmp_path."""
    overrides: dict[str, dict[str, Any]] = {
        "database": {"url": db_url or f"sqlite:///{tmp_path / 'mailintake.db'}"},
        "storage": {"dir": str(tmp_path / "storage")},
        "smtp": {"sender": OFFICE, "security": "none", "host": "127.0.0.1", "port": 9},
        "mailbox": {"username": OFFICE},
        "report": {"dir": str(tmp_path / "reports")},
    }
    if imap is not None:
        overrides["mailbox"] = {"host": imap.host, "port": imap.port, "security": "none",
                                "username": imap.username, "password": imap.password, "verify_tls": False}
    if smtp is not None:
        overrides["smtp"] = {"host": smtp.host, "port": smtp.port, "security": "none", "sender": OFFICE}
    for section, values in sections.items():
        overrides[section] = {**overrides.get(section, {}), **values}
    return load_settings(environ={}, overrides=overrides)


def poll_config(path: Path, imap: ImapServer, db_url: str, storage: Path | str, *, fetch_batch: int = 5) -> Path:
    """A config file for a ``mailintake poll`` subprocess against a local plaintext IMAP server."""
    path.write_text(
        f'[mailbox]\nhost = "{imap.host}"\nport = {imap.port}\nsecurity = "none"\n'
        f'username = "{imap.username}"\npassword = "{imap.password}"\nfetch_batch = {fetch_batch}\n'
        f'[database]\nurl = "{db_url}"\n[storage]\ndir = "{storage}"\n'
        f'[smtp]\nsender = "{OFFICE}"\n', "utf-8")
    return path


def mail(sender: str, subject: str, *, message_id: str, attachments: dict[str, bytes] | None = None,
         body: str = "您好，申报材料请查收。", headers: dict[str, str] | None = None) -> bytes:
    """A plain mail as a modern client sends it (UTF-8, attachments with RFC 2231 names)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = OFFICE
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message["Date"] = "Mon, 16 Dec 2019 10:00:00 +0800"
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    for filename, data in (attachments or {}).items():
        message.add_attachment(data, maintype=DOCX_TYPE[0], subtype=DOCX_TYPE[1], filename=filename)
    return message.as_bytes()
