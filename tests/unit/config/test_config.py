"""Configuration that fails loudly: every address, range and campaign file is checked once, at load,
with one line naming the key (exit 2); what people naturally write (``名称 <addr>``) works."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from email.header import decode_header, make_header
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from mailintake.cli import COMMANDS, cli
from mailintake.config.settings import load_settings, no_config_message
from mailintake.db.engine import open_database
from mailintake.db.models import Message
from mailintake.demo.samples.mails import MessageBuilder
from mailintake.demo.session import write_config
from tests.support.servers import PymapServer, SmtpSink, append_mail

PROJECT = Path(__file__).resolve().parents[3]
CST = dt.timezone(dt.timedelta(hours=8))
NAMED_SENDER = "苏州市行政审批局办公室 <840573720@qq.com>"


def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env={"MAILINTAKE_CONFIG": "", **(env or {})},
                              catch_exceptions=False)


def config_file(tmp_path: Path, imap: PymapServer | None = None, sink: SmtpSink | None = None,
                **extra: dict[str, object]) -> Path:
    return write_config(tmp_path / "cfg", imap_host=imap.host if imap else "127.0.0.1",
                        imap_port=imap.port if imap else 9, username=imap.username if imap else "office@example.cn",
                        password=imap.password if imap else "pw", smtp_host="127.0.0.1",
                        smtp_port=sink.port if sink else 9, extra=extra)


def question(n: int) -> bytes:
    return (MessageBuilder("qq").sender("常熟市行政审批局", "csspj@qq.com").subject(f"请问纸质材料需要几份？{n}")
            .message_id(f"<q{n}@qq.com>").text("王老师您好，请问纸质材料需要几份？").build())


# ------------------------------------------------------------------------------------ addresses


def test_name_addr_sender_is_split_into_name_and_address(tmp_path: Path) -> None:
    settings = load_settings(config_file(tmp_path, smtp={"sender": NAMED_SENDER}), environ={})
    assert (settings.smtp.sender, settings.smtp.sender_name) == ("840573720@qq.com", "苏州市行政审批局办公室")
    plain = load_settings(config_file(tmp_path, smtp={"sender": "840573720@qq.com", "sender_name": "办公室"}),
                          environ={})
    assert (plain.smtp.sender, plain.smtp.sender_name) == ("840573720@qq.com", "办公室")


def test_empty_sender_falls_back_to_the_login_address(tmp_path: Path) -> None:
    settings = load_settings(config_file(tmp_path, smtp={"sender": ""}), environ={})
    assert settings.smtp.sender == "office@example.cn"


BAD_VALUES = [
    ({"mailbox": {"port": 99999}}, "config: [mailbox] port: Input should be less than or equal to 65535; "
     "fix it in the config file (or set MAILINTAKE_MAILBOX__PORT)"),
    ({"smtp": {"port": 0}}, "config: [smtp] port: Input should be greater than or equal to 1; "
     "fix it in the config file (or set MAILINTAKE_SMTP__PORT)"),
    ({"schedule": {"poll_interval": 0}}, "config: [schedule] poll_interval: Input should be greater than or equal "
     "to 1; fix it in the config file (or set MAILINTAKE_SCHEDULE__POLL_INTERVAL)"),
    ({"schedule": {"poll_interval": -5}}, "config: [schedule] poll_interval: Input should be greater than or equal "
     "to 1; fix it in the config file (or set MAILINTAKE_SCHEDULE__POLL_INTERVAL)"),
    ({"schedule": {"poll_interval": 5}, "mailbox": {"host": "imap.qq.com"}},
     "config: [schedule] poll_interval: 5 s is too often for imap.qq.com (mail providers block such accounts); "
     "use at least 60; fix it in the config file"),
    ({"campaign": {"max_chars": 0}}, "config: [campaign] max_chars: Input should be greater than or equal to 1; "
     "fix it in the config file (or set MAILINTAKE_CAMPAIGN__MAX_CHARS)"),
    ({"campaign": {"paper_copies": -1}}, "config: [campaign] paper_copies: Input should be greater than or equal "
     "to 1; fix it in the config file (or set MAILINTAKE_CAMPAIGN__PAPER_COPIES)"),
    ({"smtp": {"sender": "840573720"}}, "config: [smtp] sender: '840573720' is not an e-mail address; write it as "
     "name@example.com or 名称 <name@example.com>; fix it in the config file (or set MAILINTAKE_SMTP__SENDER)"),
    ({"report": {"recipients": ["office@"]}}, "config: [report] recipients: 'office@' is not an e-mail address; "
     "write it as name@example.com or 名称 <name@example.com>; fix it in the config file "
     "(or set MAILINTAKE_REPORT__RECIPIENTS)"),
    ({"report": {"recipients": ["a@x.cn, b@y.cn"]}}, "config: [report] recipients: 'a@x.cn, b@y.cn' is not one "
     "e-mail address; write it as name@example.com; fix it in the config file "
     "(or set MAILINTAKE_REPORT__RECIPIENTS)"),
    ({"mailbox": {"password": ""}}, "config: [mailbox] password is empty but username office@example.cn is set; "
     "set MAILINTAKE_MAILBOX__PASSWORD (QQ Mail: the 授权码)"),
    ({"smtp": {"username": "office@example.cn"}}, "config: [smtp] password is empty but username "
     "office@example.cn is set; set MAILINTAKE_SMTP__PASSWORD (QQ Mail: the 授权码)"),
    ({"smtp": {"sender": ""}, "mailbox": {"username": "office"}}, "config: [smtp] sender is empty; set the "
     "address replies and the report are sent from (or set MAILINTAKE_SMTP__SENDER)"),
    ({"limits": {"parse_timeout": 0}}, "config: [limits] parse_timeout: Input should be greater than 0; "
     "fix it in the config file (or set MAILINTAKE_LIMITS__PARSE_TIMEOUT)"),
]


@pytest.mark.parametrize(("extra", "line"), BAD_VALUES, ids=[str(v[0]) for v in BAD_VALUES])
def test_bad_value_is_one_line_naming_the_key_and_exit_2(tmp_path: Path, extra: dict[str, dict[str, object]],
                                                          line: str) -> None:
    config = config_file(tmp_path, None, None, **extra)
    for command in ("status", "check-config"):
        result = invoke("--config", str(config), command)
        assert result.exit_code == 2, result.output
        expected = line if command == "status" else f"FAIL config    {line}"
        assert result.stderr.splitlines() == [expected]
    assert not (tmp_path / "cfg" / "mailintake.db").exists()


def test_address_in_an_environment_override_is_checked_too(tmp_path: Path) -> None:
    result = invoke("--config", str(config_file(tmp_path)), "status",
                    env={"MAILINTAKE_REPORT__RECIPIENTS": "office@example.cn,office@"})
    assert (result.exit_code, result.stderr) == (2, "config: [report] recipients: 'office@' is not an e-mail "
                                                     "address; write it as name@example.com or 名称 "
                                                     "<name@example.com>; fix it in the config file "
                                                     "(or set MAILINTAKE_REPORT__RECIPIENTS)\n")


# ------------------------------------------------------------------------------- campaign files


@pytest.mark.parametrize("key", ["forms", "roster", "quotas", "templates"])
def test_check_config_refuses_a_misspelt_campaign_path(tmp_path: Path, key: str) -> None:
    config = config_file(tmp_path, campaign={key: "config/typo.csv"})
    result = invoke("--config", str(config), "check-config", "--no-network")
    assert result.exit_code == 2
    fails = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert fails == [f"FAIL campaign  config: [campaign] {key}: {tmp_path / 'cfg' / 'config' / 'typo.csv'} "
                     "not found; fix the path, or remove the key to use the shipped copy"]


def test_check_config_names_a_broken_roster_and_template(tmp_path: Path) -> None:
    roster = tmp_path / "units.csv"
    roster.write_text("名称,类别\n某单位,不存在的类别\n", "utf-8")
    result = invoke("--config", str(config_file(tmp_path, campaign={"roster": str(roster)})), "check-config",
                    "--no-network")
    assert result.exit_code == 2
    assert next(line for line in result.stdout.splitlines() if line.startswith("FAIL")).startswith(
        f"FAIL campaign  roster: {roster} ")
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "reply_receipt.txt.j2").write_text("{% if %}", "utf-8")
    result = invoke("--config", str(config_file(tmp_path, campaign={"templates": str(templates)})), "check-config",
                    "--no-network")
    assert result.exit_code == 2
    fail = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert len(fail) == 1 and fail[0].startswith("FAIL campaign  config: [campaign] templates: "
                                                 "reply_receipt.txt.j2 does not compile (")


def test_check_config_reports_the_campaign_files(tmp_path: Path) -> None:
    result = invoke("--config", str(config_file(tmp_path)), "check-config", "--no-network")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == ("OK   campaign  forms 4 tables, roster 35 units, quotas 4 honours, "
                                             "templates OK")


# ------------------------------------------------------------------------------ no config file


@pytest.mark.parametrize("command", sorted(set(COMMANDS) - {"demo", "parse"}))
def test_without_a_config_file_every_command_names_how_to_make_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    command: str) -> None:
    monkeypatch.chdir(tmp_path)
    args = {"paper": ["某单位", "--received"], "resend": ["2019-0001"], "reprocess": ["1"],
            "decide": ["1", "--accept", "--reason", "经领导同意"], "remind": ["--preview"],
            "handoff": ["--out", str(tmp_path / "handoff")], "user": ["list"],
            "applicant": ["revoke", "wz@example.cn"], "forms": ["--out", str(tmp_path / "forms")]}.get(command, [])
    result = invoke(command, *args)
    line = no_config_message()
    assert line == (f"config: no configuration file; copy {PROJECT / 'config' / 'mailintake.example.toml'} to "
                    "config/mailintake.toml and fill it in, or pass --config PATH (or set MAILINTAKE_CONFIG)")
    assert (result.exit_code, result.stderr.splitlines()) == (2, [line if command != "check-config"
                                                                   else f"FAIL config    {line}"])
    assert list(tmp_path.iterdir()) == []  # no var/, nothing written


# ------------------------------------------------------------------------ a named sender works


def test_named_sender_answers_mail_and_sends_the_report(tmp_path: Path, imap_server: PymapServer,
                                                       smtp_sink: SmtpSink) -> None:
    """GIVEN ``sender = "苏州市行政审批局办公室 <840573720@qq.com>"`` THEN receipts and the report go out from
    that name and address (RFC 2047), and no mail is failed."""
    config = config_file(tmp_path, imap_server, smtp_sink, smtp={"sender": NAMED_SENDER},
                         report={"recipients": ["王琰 <office-report@example.gov.cn>"]})
    append_mail(imap_server, question(1), dt.datetime(2019, 12, 17, 9, 30, tzinfo=CST))
    polled = invoke("--quiet", "--config", str(config), "poll")
    assert polled.exit_code == 0, polled.output
    report = invoke("--quiet", "--config", str(config), "report", "--send")
    assert report.exit_code == 0, report.output
    assert report.stdout.splitlines()[-1] == ("report queued for office-report@example.gov.cn; "
                                              "sent 1, retry later 0, failed 0")
    sent = smtp_sink.wait_for(2)
    assert [(m.mail_from, m.rcpt_tos) for m in sent] == [
        ("840573720@qq.com", ("csspj@qq.com",)), ("840573720@qq.com", ("office-report@example.gov.cn",))]
    for item in sent:
        parsed = email.message_from_bytes(item.raw, policy=email.policy.compat32)
        assert str(make_header(decode_header(parsed["From"]))) == NAMED_SENDER
        assert parsed["From"].isascii()
    settings = load_settings(config, environ={})
    with open_database(settings.database.url)() as session:
        assert session.scalar(select(func.count()).where(Message.status == "failed")) == 0


def test_a_configuration_error_leaves_mail_unrecorded_not_failed(tmp_path: Path, imap_server: PymapServer,
                                                                 smtp_sink: SmtpSink) -> None:
    append_mail(imap_server, question(2), dt.datetime(2019, 12, 17, 9, 30, tzinfo=CST))
    config = config_file(tmp_path, imap_server, smtp_sink)
    bad = invoke("--quiet", "--config", str(config), "poll", env={"MAILINTAKE_SMTP__SENDER": "840573720"})
    assert bad.exit_code == 2 and len(bad.stderr.splitlines()) == 1
    assert not (tmp_path / "cfg" / "mailintake.db").exists()
    good = invoke("--quiet", "--config", str(config), "poll")
    assert good.exit_code == 0, good.output
    settings = load_settings(config, environ={})
    with open_database(settings.database.url)() as session:
        assert dict(session.execute(select(Message.status, func.count()).group_by(Message.status)).all()) == {
            "no_form": 1}


# ---------------------------------------------------------------------------------- templates


def test_a_missing_template_is_warned_about_once_not_per_reply(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    from mailintake.config.shipped import warn_once
    from mailintake.outbox import templates

    (tmp_path / "own").mkdir()
    settings = load_settings(config_file(tmp_path, campaign={"templates": str(tmp_path / "own")}), environ={})
    warn_once.cache_clear()
    with caplog.at_level("WARNING"):
        texts = [templates.render(settings, "reply_late.txt.j2", {"receipt": f"2019-000{n}"}) for n in range(3)]
    assert len(texts) == 3 and all(text and "逾期未反馈视作不申报" in text for text in texts)
    assert [r.getMessage() for r in caplog.records] == [
        f"template reply_late.txt.j2 not found in {tmp_path / 'own'}; using the shipped copy"]


def test_default_campaign_paths_beside_a_config_elsewhere_use_the_shipped_copies(tmp_path: Path) -> None:
    from mailintake.campaign.files import campaign_path
    from mailintake.config.shipped import shipped

    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "mailintake.toml").write_text('[smtp]\nsender = "office@example.cn"\n', "utf-8")
    settings = load_settings(etc / "mailintake.toml", environ={})
    assert settings.base_dir == str(etc)
    assert [campaign_path(settings, key) for key in ("forms", "roster", "quotas", "templates")] == [
        PROJECT / "config" / "forms.toml", shipped("units.csv"), shipped("quotas.toml"), shipped("templates")]
    assert shipped("units.csv") == PROJECT / "config" / "units.csv"


def test_poll_and_run_refuse_an_empty_mailbox_username_at_once(tmp_path: Path) -> None:
    config = config_file(tmp_path, mailbox={"username": "", "password": ""})
    for command in ("poll", "run"):
        result = invoke("--config", str(config), command)
        assert (result.exit_code, result.stderr) == (2, "config: [mailbox] username is empty; set the mailbox "
                                                        "address to log in as (or set MAILINTAKE_MAILBOX__USERNAME)\n")
    assert invoke("--config", str(config), "status").exit_code == 0  # no IMAP needed there


# ----------------------------------------------------------------------------- office details


def _campaign_without(tmp_path: Path, key: str) -> Path:
    """A config whose campaign file (a copy of the shipped one) lacks ``[campaign] <key>``."""
    text = (PROJECT / "config" / "forms.toml").read_text("utf-8")
    forms = tmp_path / "forms.toml"
    forms.write_text("\n".join(line for line in text.splitlines() if not line.startswith(f"{key} =")), "utf-8")
    config = tmp_path / "mailintake.toml"
    config.write_text(f'[smtp]\nsender = "office@example.cn"\n[campaign]\nforms = "{forms}"\n'
                      f'[database]\nurl = "sqlite:///{tmp_path / "m.db"}"\n', "utf-8")
    return config


@pytest.mark.parametrize("key", ["office_name", "office_contact", "office_address"])
def test_office_details_come_only_from_configuration(tmp_path: Path, key: str) -> None:
    config = _campaign_without(tmp_path, key)
    for command in ("status", "check-config"):
        result = invoke("--config", str(config), command)
        assert result.exit_code == 2, result.output
        line = (f"config: [campaign] {key} is not set; write it in the config file or in the [campaign] table of "
                f"the campaign file ([campaign] forms) (or set MAILINTAKE_CAMPAIGN__{key.upper()})")
        assert result.stderr.splitlines() == [line if command == "status" else f"FAIL config    {line}"]
    assert not (tmp_path / "m.db").exists()
    settings = load_settings(config, environ={f"MAILINTAKE_CAMPAIGN__{key.upper()}": "某办公室"})
    assert getattr(settings.campaign, key) == "某办公室"
    result = invoke("--config", str(config), "status", env={f"MAILINTAKE_CAMPAIGN__{key.upper()}": " "})
    assert (result.exit_code, result.stderr) == (2, f"config: [campaign] {key}: is empty; write the office's "
                                                    "details as replies show them; fix it in the config file "
                                                    f"(or set MAILINTAKE_CAMPAIGN__{key.upper()})\n")


def test_the_shipped_campaign_file_names_the_office_and_the_sender(tmp_path: Path) -> None:
    settings = load_settings(None, environ={})
    assert (settings.campaign.name, settings.campaign.office_name, settings.campaign.office_contact,
            settings.campaign.office_address, settings.smtp.sender_name) == (
        "“双争双创”活动先进荣誉申报", "苏州市行政审批局办公室", "王琰，电话 69820106、13862103167",
        "苏州市平泷路251号城市生活广场A座27楼2702室", "苏州市行政审批局办公室")
    assert settings.campaign.deadline == dt.datetime(2019, 12, 18, 17, 30, tzinfo=CST)
    assert settings.campaign.receipt_number(42) == "2019-0042"
    own = load_settings(None, environ={}, overrides={"campaign": {"receipt_format": "ZY{n:03d}"}})
    assert own.campaign.receipt_number(7) == "ZY007"
    result = invoke("--config", str(config_file(tmp_path, campaign={"receipt_format": "{prefix}"})), "status")
    assert (result.exit_code, result.stderr) == (2, "config: [campaign] receipt_format: '{prefix}' lacks the "
                                                    "running number {n}, e.g. \"{prefix}-{n:04d}\"; fix it in the "
                                                    "config file (or set MAILINTAKE_CAMPAIGN__RECEIPT_FORMAT)\n")
