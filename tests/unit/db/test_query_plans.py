"""Every query made per new mail uses an index: no whole-table scan on the hot path at 10,000 rows.

The tables are filled with 10,000 rows each (bulk inserts) and analysed; then one real mail goes
through the intake's store path (``IntakeCycle.commit_one``: ledger, duplicate check, rules, receipt
number, reply with its loop guard) and its reply through ``deliver_due`` to a real SMTP sink, while
every statement sent to the database is recorded. Each recorded SELECT/UPDATE/DELETE is then
explained on the same back-end: SQLite's EXPLAIN QUERY PLAN must show no ``SCAN`` of a big table,
PostgreSQL's EXPLAIN no ``Seq Scan`` on one (with the planner's default settings).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, insert, text
from sqlalchemy.orm import Session, sessionmaker

from mailintake.db.models import AttachmentRow, Ledger, Message, OutboxItem, Submission, utcnow
from mailintake.db.storage import Storage
from mailintake.demo.samples.forms import make_form_docx
from mailintake.intake.cycle import IntakeCycle
from mailintake.intake.model import FetchedMail, ParsedFiles
from mailintake.intake.parse import parse_batch, parse_in_process
from mailintake.intake.read import read_one
from mailintake.intake.record import known_digests
from mailintake.outbox.queue import replies_last_hour
from mailintake.outbox.sender import deliver_due
from tests.support.env import Env
from tests.support.helpers import at, mail, make_settings

ROWS = 10_000
BIG_TABLES = ("messages", "ledger", "attachments", "submissions", "outbox")
SENDER = "zhang@example.cn"  # 3 of its filled replies fall within the last hour


def _sha(value: object) -> str:
    return hashlib.sha256(str(value).encode()).hexdigest()


def _fill(session_factory: sessionmaker[Session]) -> None:
    now = utcnow()
    messages, ledger, attachments, submissions, outbox = [], [], [], [], []
    for n in range(1, ROWS + 1):
        created = now - dt.timedelta(minutes=n * 4)  # spread over four weeks
        sender = SENDER if n <= 3 else f"unit{n % 2000}@example.cn"
        unit = f"单位{n % 2000}"
        messages.append({"id": n, "message_id": f"<m{n}@example.cn>", "sha256": _sha(n), "folder": "INBOX",
                         "uidvalidity": 1, "uid": n, "from_addr": sender, "received_at": created,
                         "status": "accepted", "receipt_no": f"2019-{n:04d}", "created_at": created})
        ledger.append({"folder": "INBOX", "uidvalidity": 1, "uid": n, "message_pk": n, "outcome": "processed"})
        attachments.append({"id": n, "message_pk": n, "path": "表1.docx", "sha256": _sha(f"a{n}"), "size": 1000,
                            "format": "docx"})
        submissions.append({"message_pk": n, "attachment_id": n, "table_no": 1, "title": "改革创新标兵单位申报表",
                            "fields": {"unit": unit}, "word_count": 700, "identity_key": f"1|{unit}|项目{n}",
                            "unit": unit, "current": n > 4000, "received_at": created})
        outbox.append({"message_pk": n, "kind": "receipt", "recipients": [sender], "cc": [],
                       "recipient_key": sender, "cc_key": None, "subject": "回执", "raw": b"x", "status": "sent",
                       "attempts": 1, "next_attempt_at": created, "created_at": created, "sent_at": created})
    with session_factory() as session, session.begin():
        for model, rows in ((Message, messages), (Ledger, ledger), (AttachmentRow, attachments),
                            (Submission, submissions), (OutboxItem, outbox)):
            session.execute(insert(model), rows)
        session.execute(text("UPDATE counters SET value = :n WHERE name = 'receipt_no'"), {"n": ROWS})
        if session.get_bind().dialect.name == "postgresql":  # the ids were given: move the sequences on
            for table in ("messages", "attachments"):
                session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {ROWS})"))
    with session_factory() as session, session.begin():
        session.execute(text("ANALYZE"))


def _one_mail(tmp_path: Path, settings: Any) -> ParsedFiles:
    raw = mail(f"王五 <{SENDER}>", "表1申报材料", message_id="<new-mail@example.cn>",
               attachments={"表1.docx": make_form_docx(1, {"unit": "单位7"})})
    fetched = FetchedMail(folder="INBOX", uidvalidity=1, uid=ROWS + 1, received_at=at(16), size=len(raw), raw=raw)
    [parsed] = parse_batch([read_one(fetched, settings, Storage(tmp_path / "storage"))], settings, parse_in_process)
    return parsed


def _record(engine: Engine) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def before(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool) -> None:
        if not executemany and statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    return seen


def _scans(engine: Engine, statement: str, parameters: Any) -> list[str]:
    """The plan lines of ``statement`` that read a big table whole."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            lines = [str(row[-1]) for row in cursor.fetchall()]
            pattern = re.compile(rf"^SCAN ({'|'.join(BIG_TABLES)})\b")
        else:
            cursor.execute("EXPLAIN " + statement, parameters)
            lines = [str(row[0]) for row in cursor.fetchall()]
            pattern = re.compile(rf"Seq Scan on ({'|'.join(BIG_TABLES)})\b")
        return [line.strip() for line in lines if pattern.search(line.strip())]
    finally:
        raw.close()


def test_per_mail_queries_use_indexes_at_10000_rows(db_env: Env, tmp_path: Path, smtp_sink: Any) -> None:
    """GIVEN 10,000 rows in each big table WHEN one mail is stored and answered THEN no query of
    that path scans a big table, and the loop guard and receipt counter give the exact values."""
    settings = db_env.settings(smtp=smtp_sink)
    session_factory = db_env.session_factory
    engine = session_factory.kw["bind"]
    try:
        _fill(session_factory)
        parsed = _one_mail(tmp_path, settings)
        cycle = IntakeCycle(settings, session_factory, pool=None)  # type: ignore[arg-type]  # no parsing here
        seen = _record(engine)
        with session_factory() as session:
            assert known_digests(session, {_sha(5), _sha(9999), parsed.read.sha256}) == {_sha(5): 5, _sha(9999): 9999}
            assert replies_last_hour(session, SENDER.upper(), utcnow()) == 3
            # the loop guard counts up to its cap only
            assert replies_last_hour(session, SENDER, utcnow(), limit=2) == 2
            assert replies_last_hour(session, SENDER, utcnow(), limit=5) == 3
        cycle.commit_one(parsed)
        delivered = deliver_due(settings, session_factory)
        statements = list(seen)
        assert delivered.sent == 1 and len(smtp_sink.messages) == 1
        with session_factory() as session:
            new = session.query(Message).filter_by(message_id="<new-mail@example.cn>").one()
            # 单位7 has three current projects among the filled rows: the quota rule saw them
            assert (new.status, new.receipt_no) == ("needs_correction", f"2019-{ROWS + 1:04d}")
            assert [f["code"] for s in new.submissions for f in s.flags] == ["quota_exceeded"]
            assert [(r.status, r.recipient_key) for r in new.replies] == [("sent", SENDER)]
        assert len(statements) >= 15  # the ledger, duplicate, quota, supersede, receipt, outbox, sender queries
        scans = {statement: found for statement, parameters in statements
                 if (found := _scans(engine, statement, parameters))}
        assert scans == {}
    finally:
        engine.dispose()


def test_upgrade_fills_the_recipient_keys_and_the_receipt_counter(db_url: str) -> None:
    """GIVEN a database at 0003 with two receipts and their replies WHEN upgraded THEN the outbox rows
    carry their lower-cased address keys and the next receipt number follows the issued ones."""
    from alembic import command

    from mailintake.db.engine import alembic_config, make_engine, upgrade
    from mailintake.intake.record import next_receipt_no

    engine = make_engine(db_url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0003")
        for n in (1, 2):
            connection.execute(text(
                "INSERT INTO messages (id, message_id, sha256, folder, uidvalidity, uid, from_addr, from_name, "
                "reply_to, subject, date_header, received_at, size, status, flags, attempts, receipt_no, created_at) "
                "VALUES (:n, :mid, :sha, 'INBOX', 1, :n, '', '', '[]', '', '', :t, 0, 'accepted', '[]', 1, :r, :t)"),
                {"n": n, "mid": f"<m{n}@x.cn>", "sha": _sha(n), "t": utcnow(), "r": f"2019-{n:04d}"})
        connection.execute(text(
            "INSERT INTO outbox (message_pk, kind, recipients, cc, subject, raw, status, attempts, "
            "next_attempt_at, created_at) VALUES (1, 'receipt', :to, :cc, '', :raw, 'sent', 1, :t, :t)"),
            {"to": '["Zhang@Example.CN"]', "cc": '["li@x.cn"]', "raw": b"x", "t": utcnow()})
    upgrade(engine)
    session_factory = sessionmaker(engine)
    try:
        with session_factory() as session:
            row = session.query(OutboxItem).one()
            assert (row.recipient_key, row.cc_key) == ("zhang@example.cn", "li@x.cn")
            assert replies_last_hour(session, "ZHANG@example.cn", utcnow()) == 1
            settings = make_settings(Path("/nonexistent"), db_url=db_url)
            assert next_receipt_no(session, settings) == "2019-0003"
    finally:
        engine.dispose()
