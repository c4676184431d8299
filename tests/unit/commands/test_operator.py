"""Operator commands: ``status`` reads like a status page and names problems; ``resend 0005`` finds
2019-0005."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from click.testing import CliRunner, Result

from mailintake.cli import cli
from mailintake.db.models import OutboxItem, PollRun
from tests.support.env import Env
from tests.unit.outbox.test_replies import add_message


def write_config(env: Env) -> Path:
    config = env.root / "mailintake.toml"
    config.write_text(f'[smtp]\nhost = "127.0.0.1"\nport = 9\nsecurity = "none"\nsender = "office@example.gov.cn"\n'
                      f'[database]\nurl = "{env.url}"\n', "utf-8")
    return config


def invoke(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), *args], env={"MAILINTAKE_CONFIG": None})


def outbox(kind: str, status: str, to: str, message_pk: int | None = None) -> OutboxItem:
    error = "550 no such user" if status == "failed" else None
    return OutboxItem(message_pk=message_pk, kind=kind, recipients=[to], cc=[], subject=f"{kind} {to}",
                      raw=b"x", status=status, attempts=1, last_error=error)


def test_status_reads_like_a_status_page_and_names_the_problems(env: Env) -> None:
    config = write_config(env)
    factory = env.session_factory
    started = dt.datetime(2019, 12, 17, 1, 30, tzinfo=dt.UTC)
    with factory() as session, session.begin():
        accepted = add_message(session, receipt_no="2019-0001", message_id="<a@x>")
        add_message(session, status="failed", receipt_no=None, message_id="<f@x>")
        session.add_all([outbox("receipt", "sent", "zhang@example.com", accepted.id),
                         outbox("receipt", "failed", "li@example.com", accepted.id),
                         outbox("report", "sent", "office@example.gov.cn")])
        session.add(PollRun(started_at=started, finished_at=started + dt.timedelta(seconds=2.5), error=None,
                            counts={"fetched": 2, "counts": {"accepted": 1, "failed": 1}, "duplicates": 0,
                                    "retried": 0, "errors": [], "duration": 2.5, "rescanned": False}))
    result = invoke(config, "status")
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[:3] == [
        "Worker: not running",
        "Last poll: 2019-12-17T09:30:00+08:00, took 2.5 s: OK, 2 new mail(s) (accepted 1, failed 1)",
        "Last report: never",
    ]
    assert "Replies: 1 sent, 0 waiting, 1 failed" in lines  # the office report is not a reply
    assert "Report mails: 1 sent, 0 waiting, 0 failed" in lines
    problems = lines.index("Problems:")
    assert lines[problems + 1:problems + 3] == [
        "  ! 1 mail(s) could not be processed (status failed); see the worker log, fix the cause, then "
        "`mailintake reprocess --status failed`",
        "  ! 1 mail(s) to send failed for good; see `Failed replies` below, then `mailintake resend RECEIPT`",
    ]
    for python_value in ("{", "[]", "False", "None", "'"):
        assert python_value not in result.stdout
    as_json = invoke(config, "status", "--json")
    assert '"replies": {\n    "failed": 1,\n    "sent": 1\n  }' in as_json.stdout


def test_status_says_none_when_all_is_well(env: Env) -> None:
    config = write_config(env)
    lines = invoke(config, "status").stdout.splitlines()
    assert "Problems: none" in lines and "Last poll: never" in lines


def test_resend_finds_a_receipt_by_its_number(env: Env) -> None:
    config = write_config(env)
    factory = env.session_factory
    with factory() as session, session.begin():
        for n in (5, 15, 105):
            message = add_message(session, receipt_no=f"2019-{n:04d}", message_id=f"<m{n}@x>",
                                  from_addr=f"u{n}@example.com")
            session.add(outbox("receipt", "sent", f"u{n}@example.com", message.id))
    for typed in ("0005", "5", "2019-0005"):
        result = invoke(config, "resend", typed)
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("queued receipt reply for 2019-0005 to u5@example.com (outbox ")
    with factory() as session, session.begin():
        add_message(session, receipt_no="2020-0005", message_id="<m2020@x>")
    ambiguous = invoke(config, "resend", "0005")
    assert (ambiguous.exit_code, ambiguous.stderr) == (
        1, "resend: 0005 matches 2019-0005, 2020-0005; give the full receipt number\n")
    unknown = invoke(config, "resend", "0404")
    assert (unknown.exit_code, unknown.stderr) == (
        1, "resend: no mail has receipt number '0404'; check the number (mailintake export lists them)\n")
