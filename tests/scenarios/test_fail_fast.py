"""`mailintake run` stops with its documented exit code on what cannot heal — a missing campaign file (2),
refused credentials (3, after at most two LOGINs counted on the real IMAP server) — and keeps running
through what can."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.support.servers import PymapServer, SmtpSink, append_mail
from tests.unit.worker.test_worker import CST, PROJECT, Process, config_for, question_mail


def test_a_missing_forms_file_stops_run_with_exit_2_before_any_login(
    tmp_path: Path, imap_server: PymapServer, smtp_sink: SmtpSink
) -> None:
    missing = tmp_path / "nowhere" / "forms.toml"
    config = config_for(tmp_path, imap_server, smtp_sink, campaign={"forms": str(missing)})
    worker = Process(config)
    code = worker.stop_when_done(60)
    assert code == 2
    assert worker.lines == [f"config: [campaign] forms: {missing} not found; fix the path, or remove the key to "
                            "use the shipped copy"]
    assert imap_server.commands["LOGIN"] == 0


def test_a_wrong_password_stops_run_with_exit_3_after_one_login(
    tmp_path: Path, imap_server: PymapServer, smtp_sink: SmtpSink
) -> None:
    config = config_for(tmp_path, imap_server, smtp_sink, mailbox={"password": "wrong-password", "idle": True})
    worker = Process(config)
    code = worker.stop_when_done(60)
    assert code == 3
    assert worker.lines[-1].startswith(f"IMAP login to 127.0.0.1:{imap_server.port} failed for user "
                                       f"{imap_server.username} (")
    assert worker.lines[-1].endswith("check [mailbox] username/password")
    assert "wrong-password" not in "\n".join(worker.lines)
    assert imap_server.commands["LOGIN"] == 1


def test_credentials_refused_later_stop_run_with_exit_3_after_at_most_two_logins(
    tmp_path: Path, imap_server: PymapServer, smtp_sink: SmtpSink
) -> None:
    """GIVEN `run` logged in (poller and IDLE thread) WHEN the password changes on the server and the connections
    drop THEN the worker exits 3, with at most two failed LOGINs across both."""
    config = config_for(tmp_path, imap_server, smtp_sink, mailbox={"idle": True}, schedule={"poll_interval": 3600})
    worker = Process(config)
    try:
        worker.wait_for_line("IMAP IDLE active")
        worker.wait_for_line("cycle done")
        before = imap_server.commands["LOGIN"]
        assert before == 2
        imap_server.add_user(imap_server.username, "changed-by-the-provider")
        imap_server.drop_connections()
        append_mail(imap_server, question_mail(), dt.datetime(2019, 12, 17, 9, 30, tzinfo=CST))
        code = worker.stop_when_done(90)
    finally:
        worker.stop()
    assert code == 3
    assert 1 <= imap_server.commands["LOGIN"] - before <= 2
    assert any("stopping: IMAP login to" in line for line in worker.lines)


def test_a_campaign_file_broken_while_running_stops_run_with_exit_2(
    tmp_path: Path, imap_server: PymapServer, smtp_sink: SmtpSink
) -> None:
    forms = tmp_path / "forms.toml"
    forms.write_text((PROJECT / "config" / "forms.toml").read_text("utf-8"), "utf-8")
    config = config_for(tmp_path, imap_server, smtp_sink, mailbox={"idle": True}, campaign={"forms": str(forms)},
                        schedule={"poll_interval": 3600})
    worker = Process(config)
    try:
        worker.wait_for_line("cycle done")
        forms.write_text("[campaign\n", "utf-8")
        append_mail(imap_server, question_mail(), dt.datetime(2019, 12, 17, 9, 30, tzinfo=CST))
        code = worker.stop_when_done(60)
    finally:
        worker.stop()
    assert code == 2
    assert any(f"stopping: campaign: cannot read {forms}" in line for line in worker.lines)
