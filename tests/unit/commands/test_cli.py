"""The operator's side of the CLI: help for every command, one-line errors with documented exit codes,
status, check-config, reprocess, and the example configuration."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pydantic import BaseModel

from mailintake.cli import COMMANDS, cli
from mailintake.config.settings import Settings
from mailintake.db.engine import open_database
from mailintake.db.locking import worker_lock
from mailintake.demo.samples.mails import MessageBuilder
from mailintake.demo.session import write_config
from mailintake.worker.service import Worker
from tests.support.servers import PymapServer, SmtpSink, append_mail, free_port

PROJECT = Path(__file__).resolve().parents[3]
CST = dt.timezone(dt.timedelta(hours=8))


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"MAILINTAKE_CONFIG": ""}, catch_exceptions=False)


def local_config(tmp_path: Path, imap: PymapServer, sink: SmtpSink, **extra: dict[str, object]) -> Path:
    return write_config(tmp_path / "cfg", imap_host=imap.host, imap_port=imap.port, username=imap.username,
                        password=imap.password, smtp_host=sink.host, smtp_port=sink.port,
                        extra={"report": {"recipients": []}, **extra})


# ------------------------------------------------------------------------------------------- help


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(name: str) -> None:
    result = invoke(name, "--help")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: cli {name} ")


def test_root_help_lists_every_command() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    listed = re.findall(r"^  ([a-z-]+)\s", result.output.split("Commands:")[1], re.M)
    assert listed == sorted(COMMANDS)


def test_cli_start_up_imports_nothing_heavy() -> None:
    code = ("import sys, mailintake.cli, mailintake.worker.service, mailintake.db.locking, "
            "mailintake.util.logging_setup; "
            "print(sorted(m for m in ('apscheduler', 'sqlalchemy', 'mailintake.intake.cycle', 'imapclient', "
            "'openpyxl', 'docx') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]"


# ------------------------------------------------------------------------------ one-line errors


@pytest.fixture
def bad_config(tmp_path: Path) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text('[mailbox]\nhostname = "imap.qq.com"\n', "utf-8")
    return path


@pytest.mark.parametrize("args", [["run"], ["status"], ["poll"], ["reprocess", "1"]])
def test_bad_config_is_one_line_and_exit_2(bad_config: Path, args: list[str]) -> None:
    result = invoke("--config", str(bad_config), *args)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == ["config: unknown key [mailbox] hostname; remove it or check its spelling"]


def test_check_config_reports_a_bad_config_on_one_line(bad_config: Path) -> None:
    result = invoke("--config", str(bad_config), "check-config")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "FAIL config    config: unknown key [mailbox] hostname; remove it or check its spelling"]


def test_missing_config_file_names_the_fix(tmp_path: Path) -> None:
    result = invoke("--config", str(tmp_path / "nope.toml"), "status")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"config: file {tmp_path / 'nope.toml'} not found; copy config/mailintake.example.toml there "
        "or pass --config PATH"]


def test_unreachable_imap_is_one_line_and_exit_3(tmp_path: Path, imap_server: PymapServer,
                                                 smtp_sink: SmtpSink) -> None:
    port = free_port()
    config = local_config(tmp_path, imap_server, smtp_sink, mailbox={"port": port})
    result = invoke("--quiet", "--config", str(config), "poll")
    assert result.exit_code == 3
    assert result.stderr.splitlines() == [
        f"cannot connect to 127.0.0.1:{port} (connection refused): check [mailbox] host/port and the network"]


def test_check_config_names_what_works_and_what_does_not(tmp_path: Path, imap_server: PymapServer,
                                                         smtp_sink: SmtpSink) -> None:
    config = local_config(tmp_path, imap_server, smtp_sink)
    good = invoke("--config", str(config), "check-config")
    assert good.exit_code == 0, good.output
    assert good.stdout.splitlines() == [
        f"OK   config    {config}",
        "OK   campaign  forms 4 tables, roster 35 units, quotas 4 honours, templates OK",
        f"OK   database  sqlite:///{tmp_path / 'cfg' / 'mailintake.db'}",
        f"OK   storage   {tmp_path / 'cfg' / 'storage'}",
        f"OK   imap      127.0.0.1:{imap_server.port} as {imap_server.username}, folder INBOX: 0 mails, "
        "IDLE supported",
        f"OK   smtp      127.0.0.1:{smtp_sink.port}, no login configured",
    ]
    port = free_port()
    broken = local_config(tmp_path, imap_server, smtp_sink, mailbox={"port": port})
    bad = invoke("--config", str(broken), "check-config")
    assert bad.exit_code == 3
    fails = [line for line in bad.stdout.splitlines() if line.startswith("FAIL")]
    assert fails == [f"FAIL imap      cannot connect to 127.0.0.1:{port} (connection refused): "
                     "check [mailbox] host/port and the network"]


def test_check_config_smtp_failure_exit_4(tmp_path: Path, imap_server: PymapServer, smtp_sink: SmtpSink) -> None:
    port = free_port()
    config = local_config(tmp_path, imap_server, smtp_sink, smtp={"port": port})
    result = invoke("--config", str(config), "check-config")
    assert result.exit_code == 4
    assert [line for line in result.stdout.splitlines() if line.startswith("FAIL")] == [
        f"FAIL smtp      cannot talk to SMTP server 127.0.0.1:{port} (Connection refused); "
        "check [smtp] host/port and the network"]


# --------------------------------------------------------------------------------- status, reprocess


def question(subject: str = "请问纸质材料需要几份？") -> bytes:
    return (MessageBuilder("qq").sender("常熟市行政审批局", "csspj@qq.com").subject(subject)
            .message_id("<q1@qq.com>").text("王老师您好，请问纸质材料需要几份？").build())


def test_status_shows_last_poll_counts_and_replies(tmp_path: Path, imap_server: PymapServer,
                                                   smtp_sink: SmtpSink) -> None:
    config = local_config(tmp_path, imap_server, smtp_sink)
    empty = invoke("--config", str(config), "status")
    assert empty.exit_code == 0, empty.output
    assert "Last poll: never" in empty.stdout and "Last report: never" in empty.stdout

    from mailintake.config.settings import load_settings

    settings: Settings = load_settings(config, environ={})
    uid = append_mail(imap_server, question(), dt.datetime(2019, 12, 17, 9, 30, tzinfo=CST))
    worker = Worker(settings, open_database(settings.database.url, settings.base_dir))
    try:
        worker.poll_cycle()
    finally:
        worker.close()
    result = invoke("--config", str(config), "status", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["worker"] == {"running": False, "pid": None}
    assert data["messages"] == {"no_form": 1}
    assert data["replies"] == {"sent": 1}
    assert data["replies_failed"] == [] and data["replies_pending"] == []
    assert data["last_poll"]["error"] is None
    assert data["last_poll"]["counts"]["fetched"] == 1
    assert data["last_poll"]["counts"]["counts"] == {"no_form": 1}
    assert data["mailbox"][0]["folder"] == "INBOX" and data["mailbox"][0]["last_uid"] == uid
    assert data["last_report"] is None
    with worker_lock(settings):
        running = json.loads(invoke("--config", str(config), "status", "--json").stdout)
    assert running["worker"] == {"running": True, "pid": os.getpid()}
    text = invoke("--config", str(config), "status").stdout
    assert "Replies: 1 sent, 0 waiting, 0 failed" in text
    assert re.search(r"│ no_form +│ +1 │", text)


def test_reprocess_by_id_and_by_message_id(tmp_path: Path, imap_server: PymapServer, smtp_sink: SmtpSink) -> None:
    config = local_config(tmp_path, imap_server, smtp_sink)
    from mailintake.config.settings import load_settings

    settings = load_settings(config, environ={})
    append_mail(imap_server, question(), dt.datetime(2019, 12, 17, 9, 30, tzinfo=CST))
    worker = Worker(settings, open_database(settings.database.url, settings.base_dir))
    try:
        worker.poll_cycle()
    finally:
        worker.close()
    by_id = invoke("--quiet", "--config", str(config), "reprocess", "1")
    assert by_id.exit_code == 0, by_id.output
    assert by_id.stdout.splitlines() == ["mail 1: no_form"]
    by_message_id = invoke("--quiet", "--config", str(config), "reprocess", "q1@qq.com")
    assert by_message_id.stdout.splitlines() == ["mail 1: no_form"]
    assert len(smtp_sink.messages) == 1  # the outcome did not change: no second reply
    unknown = invoke("--quiet", "--config", str(config), "reprocess", "<nope@x>")
    assert unknown.exit_code == 2
    assert "no stored mail '<nope@x>'" in unknown.stderr
    by_status = invoke("--quiet", "--config", str(config), "reprocess", "--status", "no_form")
    assert by_status.exit_code == 0, by_status.output
    assert by_status.stdout.splitlines() == ["mail 1: no_form"]
    none = invoke("--quiet", "--config", str(config), "reprocess", "--status", "failed")
    assert none.stdout.splitlines() == ["no stored mail has status failed"]
    both = invoke("--quiet", "--config", str(config), "reprocess", "1", "--status", "failed")
    assert both.exit_code == 2 and "give either MESSAGE or --status STATUS" in both.stderr
    assert len(smtp_sink.messages) == 1


# ---------------------------------------------------------------------------------- example config


def _keys(model: object) -> set[str]:
    assert isinstance(model, type) and issubclass(model, BaseModel)
    return set(model.model_fields)


def test_example_config_is_valid_and_documents_every_key() -> None:
    from mailintake.config.settings import load_settings

    path = PROJECT / "config" / "mailintake.example.toml"
    settings = load_settings(path, environ={})
    assert settings.campaign.deadline == dt.datetime(2019, 12, 18, 17, 30, tzinfo=CST)
    assert (settings.mailbox.host, settings.mailbox.effective_port) == ("imap.qq.com", 993)
    assert (settings.smtp.host, settings.smtp.effective_port) == ("smtp.qq.com", 465)
    text = path.read_text("utf-8")
    data = tomllib.loads(text)
    commented = set(re.findall(r"^# ([a-z_]+) = ", text, re.M))
    for section, field in Settings.model_fields.items():
        if section == "base_dir":
            continue
        model = field.annotation
        assert model is not None
        missing = _keys(model) - set(data.get(section, {})) - commented
        assert missing == set(), f"[{section}] undocumented: {missing}"
    assert "授权码" in text and "office confirms" in text


def test_unwritable_storage_is_one_line_and_exit_6(tmp_path: Path, imap_server: PymapServer,
                                                   smtp_sink: SmtpSink) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", "utf-8")
    config = local_config(tmp_path, imap_server, smtp_sink, storage={"dir": str(blocker / "storage")})
    result = invoke("--config", str(config), "run")
    assert result.exit_code == 6
    assert result.stderr.splitlines() == [
        f"storage: cannot write to {blocker / 'storage'} (Not a directory); fix [storage] dir or its permissions"]
