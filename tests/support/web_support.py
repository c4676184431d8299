"""A console over a database filled by a real poll of pymap: the demo's sample mailbox plus one mail
whose sender, subject, file name and form fields carry markup. Shared by the console's test files."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from mailintake.config.settings import Settings, load_settings
from mailintake.db.audit import Actor

SECRET = "test-secret-key-for-the-console-0123456789"
CLERK, VIEWER = "wangyan", "viewer1"
PASSWORD = "correct horse battery"
HOSTILE_SUBJECT = '<script>alert("subject")</script>申报表'
HOSTILE_SENDER = '<img src=x onerror=alert("sender")>'
HOSTILE_FILE = '<img src=x onerror=alert(3)>表3.docx'
HOSTILE_PERSON = '<script>alert("name")</script>'
HOSTILE_FROM = "hostile@163.com"


@dataclass
class Filled:
    directory: Path
    settings: Settings
    factory: sessionmaker[Session]


def hostile_mail() -> bytes:
    from mailintake.demo.samples.forms import make_form_docx
    from mailintake.demo.samples.mails import MessageBuilder

    form = make_form_docx(3, {"name": HOSTILE_PERSON, "unit_and_title": "<b onmouseover=alert(5)>某单位</b>",
                              "recommender": "苏州市吴江区行政审批局", "deeds": '"><svg onload=alert(6)>'})
    return (MessageBuilder("163").sender(HOSTILE_SENDER, HOSTILE_FROM).subject(HOSTILE_SUBJECT)
            .html('<p>正文<script>alert("body")</script><img src=x onerror=alert(7)></p>')
            .attach(HOSTILE_FILE, form).build())


def fill(directory: Path, **web: Any) -> Filled:
    """Run the demo's cycle (pymap + SMTP sink, real poll, report), then poll one hostile mail."""
    from mailintake.db.engine import open_database
    from mailintake.demo.session import run_demo
    from mailintake.office.users import add_user
    from tests.support.servers import append_mail

    result, servers, worker = run_demo(directory, with_doc=False)
    try:
        append_mail(servers.imap, hostile_mail(), dt.datetime(2019, 12, 18, 16, 0, tzinfo=dt.UTC))
        worker.poll_cycle()
    finally:
        worker.close()
        servers.stop()
    settings = load_settings(result.config_path, environ={},
                             overrides={"web": {"secret_key": SECRET, **web}})
    factory = open_database(settings.database.url, settings.base_dir)
    with factory() as session, session.begin():
        add_user(session, Actor("setup", "CLI"), CLERK, "clerk", PASSWORD)
        add_user(session, Actor("setup", "CLI"), VIEWER, "viewer", PASSWORD)
    return Filled(directory, settings, factory)
