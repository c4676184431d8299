"""催报: reminders of each kind go to the right units once per calendar day, never `not_applied` after the
deadline, never to a unit that has applied, never to an address that bounced; units without an address
are listed as 需电话催报. Real SQLite/PostgreSQL, real SMTP (aiosmtpd); the clock is passed in."""

from __future__ import annotations

import datetime as dt
import email
from email import policy
from pathlib import Path

import lxml.html
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailintake.campaign.sources import load_sources
from mailintake.config.settings import Settings, load_settings
from mailintake.db.audit import Actor
from mailintake.db.engine import open_database
from mailintake.db.models import AuditEntry, OutboxItem, ReminderSent
from mailintake.office.reminders import Reminder, preview_reminders, send_reminders
from mailintake.outbox.sender import deliver_due
from mailintake.report.build import build_report
from mailintake.report.export import export_json
from tests.support.env import Env
from tests.support.report_story import INCOMPLETE_T4, Story, at, t2, t34
from tests.support.servers import PymapServer, SmtpSink

PROJECT = Path(__file__).resolve().parents[3]

ROSTER = """name,aliases,category,email,contact,phone
甲市行政审批局,甲审批局,市、区审批局,jia@example.cn,赵一,0512-1111
乙市行政审批局,,市、区审批局,yi@example.cn,钱二,0512-2222
丙市行政审批局,,市、区审批局,,孙三,0512-3333
丁市行政审批局,,市、区审批局,ding@example.cn,李四,0512-4444
戊市行政审批局,,市、区审批局,wu@example.cn,周五,0512-5555
"""
CLERK = Actor("wangyan", "127.0.0.1")


def settings_for(env: Env, smtp_port: int = 9) -> Settings:
    """The reminder tests' settings, with their roster written under the test's folder."""
    roster = env.root / "units.csv"
    roster.write_text(ROSTER, "utf-8")
    return env.load(
        campaign={"roster": str(roster)},
        report={"dir": str(env.root / "reports")},
        storage={"dir": str(env.root / "storage")},
        smtp={"sender": "office@example.cn", "host": "127.0.0.1", "port": smtp_port, "security": "none"},
    )


def seed(session: Session) -> Story:
    """乙 sent forms needing correction on 12-16 10:00; 戊 applied on 12-16 09:00; 丁's address bounced."""
    story = Story(session)
    story.mail("needs_correction", at(16, 10), "yi@example.cn", receipt_no="2019-0002",
               forms=[t34(4, "钱二", "乙市行政审批局", flags=[INCOMPLETE_T4])])
    story.mail("accepted", at(16, 9), "wu@example.cn", receipt_no="2019-0001", forms=[t2("戊市行政审批局")])
    session.add(OutboxItem(kind="receipt", recipients=["ding@example.cn"], subject="x", raw=b"x", status="failed",
                           last_error="550 5.1.1 user unknown"))
    session.commit()
    return story


def view(reminders: list[Reminder]) -> list[tuple[str, str, str | None, str]]:
    return [(r.unit, r.kind, r.address, r.no_mail_reason) for r in reminders]


def test_each_kind_once_per_day_to_the_right_units(db_env: Env, smtp_sink: SmtpSink) -> None:
    settings = settings_for(db_env, smtp_sink.port)
    sources = load_sources(settings)
    factory = db_env.session_factory
    with factory() as session:
        story = seed(session)
        day1 = at(17, 10, 30)
        due = preview_reminders(session, settings, sources, day1)
        assert view(due) == [
            ("甲市行政审批局", "not_applied", "jia@example.cn", ""),
            ("乙市行政审批局", "correction_pending", "yi@example.cn", ""),
            ("丙市行政审批局", "not_applied", None, "名录未登记邮箱"),
            ("丁市行政审批局", "not_applied", None, "邮箱 ding@example.cn 曾退信"),
        ]
        assert [(r.contact, r.phone) for r in due if r.address is None] == [("孙三", "0512-3333"),
                                                                             ("李四", "0512-4444")]
        correction = due[1].text
        assert ("贵单位于2019年12月16日10:00发送的“双争双创”活动先进荣誉申报材料（回执编号：2019-0002）需要更正"
                in correction)
        assert f"- {INCOMPLETE_T4['message']}" in correction
        assert "请在2019年12月18日17:30前将修改后的完整申报表重新发送至本邮箱" in correction
        assert "王琰，电话 69820106、13862103167" in correction
        result = send_reminders(session, settings, sources, day1, CLERK, only=due)
        session.commit()
        assert [r.unit for r in result.queued] == ["甲市行政审批局", "乙市行政审批局"]
        assert [r.unit for r in result.skipped] == ["丙市行政审批局", "丁市行政审批局"]
        # the same day again: only the phone list; sending again queues nothing
        assert view(preview_reminders(session, settings, sources, at(17, 16))) == view(due)[2:]
        assert send_reminders(session, settings, sources, at(17, 16), CLERK).queued == []
        session.commit()
        # 甲 applies in the afternoon
        story.mail("accepted", at(17, 15), "jia@example.cn", receipt_no="2019-0003", forms=[t2("甲审批局")])
        session.commit()
        day2 = at(18, 9)
        assert view(preview_reminders(session, settings, sources, day2)) == [
            ("乙市行政审批局", "correction_pending", "yi@example.cn", ""),
            ("乙市行政审批局", "paper_missing", "yi@example.cn", ""),
            ("丙市行政审批局", "not_applied", None, "名录未登记邮箱"),
            ("丁市行政审批局", "not_applied", None, "邮箱 ding@example.cn 曾退信"),
            ("戊市行政审批局", "paper_missing", "wu@example.cn", ""),
        ]
        send_reminders(session, settings, sources, day2, CLERK)
        session.commit()
        # after the deadline: no not_applied, no correction; paper copies still (甲's from 12-17 + 2 days)
        after = at(19, 9)
        assert view(preview_reminders(session, settings, sources, after)) == [
            ("甲市行政审批局", "paper_missing", "jia@example.cn", ""),
            ("乙市行政审批局", "paper_missing", "yi@example.cn", ""),
            ("戊市行政审批局", "paper_missing", "wu@example.cn", ""),
        ]
        ledger = session.execute(select(ReminderSent.day, ReminderSent.unit, ReminderSent.kind)
                                 .order_by(ReminderSent.id)).all()
        assert [tuple(r) for r in ledger] == [
            (dt.date(2019, 12, 17), "甲市行政审批局", "not_applied"),
            (dt.date(2019, 12, 17), "乙市行政审批局", "correction_pending"),
            (dt.date(2019, 12, 18), "乙市行政审批局", "correction_pending"),
            (dt.date(2019, 12, 18), "乙市行政审批局", "paper_missing"),
            (dt.date(2019, 12, 18), "戊市行政审批局", "paper_missing"),
        ]
        audit = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert [(a.action, a.unit, a.actor) for a in audit] == [("reminder_sent", u, "wangyan") for _, u, _ in ledger]
        assert audit[0].detail == "催报（尚未报送）→ jia@example.cn"

    delivery = deliver_due(settings, factory, now=after)
    assert (delivery.sent, delivery.failed) == (5, 0)
    delivered = smtp_sink.wait_for(5)
    assert sorted(tuple(m.rcpt_tos) for m in delivered) == [
        ("jia@example.cn",), ("wu@example.cn",), ("yi@example.cn",), ("yi@example.cn",), ("yi@example.cn",)]
    first = email.message_from_bytes(delivered[0].raw, policy=policy.default)
    assert first["Auto-Submitted"] == "auto-generated"
    assert first["X-Auto-Response-Suppress"] == "All"
    assert first["Subject"].startswith("【催报】“双争双创”活动先进荣誉申报：")
    # the unit that has not applied gets the blank 附件1; the others get none
    from mailintake.applicant.blank_forms import blank_forms

    files_of = {m.rcpt_tos[0]: [(p.get_filename(), p.get_content()) for p in
                                email.message_from_bytes(m.raw, policy=policy.default).iter_attachments()]
                for m in delivered}
    assert files_of["jia@example.cn"] == [blank_forms(settings)]
    assert files_of["wu@example.cn"] == files_of["yi@example.cn"] == []

    with factory() as session:
        reminders = export_json(session)["reminders"]
        assert [(r["kind"], r["reminder"], r["unit"], r["to"], r["status"]) for r in reminders[:2]] == [
            ("reminder", "not_applied", "甲市行政审批局", ["jia@example.cn"], "sent"),
            ("reminder", "correction_pending", "乙市行政审批局", ["yi@example.cn"], "sent")]
        files = build_report(settings, session, now=at(19, 9, 30))
        session.commit()
    doc = lxml.html.fromstring(files.html_path.read_text("utf-8"))
    section = doc.get_element_by_id("reminders")
    assert section.xpath("./h2")[0].text_content() == "催报（已发 5 封，需电话催报 0 家）"
    assert len(section.xpath(".//table[@id='reminders-sent']/tbody/tr")) == 5


def test_phone_list_in_the_report(db_env: Env) -> None:
    settings = settings_for(db_env)
    factory = db_env.session_factory
    with factory() as session:
        seed(session)
        files = build_report(settings, session, now=at(17, 10))
        session.commit()
    doc = lxml.html.fromstring(files.html_path.read_text("utf-8"))
    rows = [[td.text_content() for td in tr.xpath("./td")]
            for tr in doc.get_element_by_id("phone-reminders").xpath("./tbody/tr")]
    assert rows == [["丙市行政审批局", "尚未报送", "孙三", "0512-3333", "名录未登记邮箱"],
                    ["丁市行政审批局", "尚未报送", "李四", "0512-4444", "邮箱 ding@example.cn 曾退信"]]


def test_a_bounce_received_blocks_its_address(tmp_path: Path, db_env: Env) -> None:
    """GIVEN a delivery failure report naming jia@example.cn in the mailbox THEN 甲 is reminded by phone."""
    from mailintake.db.storage import Storage
    from mailintake.demo.samples.mails import builder

    settings = settings_for(db_env)
    raw = builder().to("jia@example.cn").bounce().build()
    _, rel = Storage(tmp_path / "storage").put(raw)
    with db_env.session_factory() as session:
        story = Story(session)
        bounce = story.mail("ignored", at(16, 8), "MAILER-DAEMON@example.cn")
        bounce.automatic_reason, bounce.raw_path = "退信（multipart/report）", rel
        session.commit()
        due = preview_reminders(session, settings, load_sources(settings), at(16, 9))
        assert view(due)[0] == ("甲市行政审批局", "not_applied", None, "邮箱 jia@example.cn 曾退信")


def test_reminders_count_against_the_hourly_cap(env: Env) -> None:
    settings = settings_for(env)
    settings = settings.model_copy(update={"smtp": settings.smtp.model_copy(update={"max_replies_per_hour": 1})})
    with env.session_factory() as session:
        seed(session)
        session.add(OutboxItem(kind="receipt", recipients=["jia@example.cn"], subject="x", raw=b"x", status="sent",
                               created_at=at(17, 10, 1)))
        session.commit()
        send_reminders(session, settings, load_sources(settings), at(17, 10, 30), CLERK)
        session.commit()
        rows = session.execute(select(OutboxItem.recipients, OutboxItem.status).where(OutboxItem.kind == "reminder")
                               .order_by(OutboxItem.id)).all()
        assert [tuple(r) for r in rows] == [(["jia@example.cn"], "suppressed"), (["yi@example.cn"], "pending")]
        assert session.scalar(select(func.count()).select_from(ReminderSent)) == 2


UNITS = 300
KILLS = 5


def calibration_config(config: Path, database: Path) -> Path:
    """The same configuration on another (new, migrated) SQLite database."""
    import re

    text = re.sub(r'(?m)^url = ".*"$', lambda _: f'url = "sqlite:///{database}"', config.read_text("utf-8"))
    copy = config.with_name("calibration.toml")
    copy.write_text(text, "utf-8")
    copy.chmod(0o600)
    open_database(f"sqlite:///{database}").kw["bind"].dispose()
    return copy


def test_sigkill_during_remind_send_loses_and_duplicates_nothing(tmp_path: Path, env: Env,
                                                               smtp_sink: SmtpSink) -> None:
    """GIVEN 300 silent roster units WHEN `remind --send` is SIGKILLed at 5 random moments and then runs
    cleanly THEN each unit has one ledger row, one queued reminder and one audit row, and `send` delivers
    each reminder once."""
    import os
    import random
    import subprocess
    import sys
    import time

    from tests.scenarios.test_crash import kill_group

    roster = tmp_path / "units.csv"
    roster.write_text("name,aliases,category,email,contact,phone\n" + "".join(
        f"测试{n:03d}号行政审批局,,市、区审批局,u{n}@example.cn,,\n" for n in range(UNITS)), "utf-8")
    config = tmp_path / "mailintake.toml"
    config.write_text(
        f'[database]\nurl = "{env.url}"\n[storage]\ndir = "{tmp_path / "storage"}"\n'
        f'[smtp]\nsender = "office@example.cn"\nhost = "127.0.0.1"\nport = {smtp_sink.port}\nsecurity = "none"\n'
        f'[campaign]\nroster = "{roster}"\ntemplates = "{PROJECT / "config" / "templates"}"\n',
        "utf-8")
    config.chmod(0o600)
    environ = {**os.environ, "MAILINTAKE_CONFIG": str(config)}
    args = ["-q", "remind", "--send", "--now", "2019-12-16T09:00"]
    # the child imports everything first and says so, so the kills land in the work, not in start-up
    ready = ("import sys; from mailintake.cli import cli; import mailintake.commands.remind, "
             "mailintake.office.reminders, mailintake.db.engine, sqlalchemy.dialects.sqlite; "
             "print('ready', flush=True); sys.stdin.readline(); cli(sys.argv[1:], prog_name='mailintake')")
    factory = env.session_factory
    rng = random.Random(20191216)

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen([sys.executable, "-c", ready, *args], env=environ, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        assert process.stdout is not None and process.stdin is not None
        assert process.stdout.readline() == b"ready\n"
        process.stdin.write(b"go\n")
        process.stdin.flush()
        return process

    def close(process: subprocess.Popen[bytes]) -> None:
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()

    # how long the work takes on this machine now, up to its commit: one run on another (empty) database
    calibration_db = tmp_path / "calibration.db"
    environ = {**os.environ, "MAILINTAKE_CONFIG": str(calibration_config(config, calibration_db))}
    calibration = start()
    began = time.monotonic()
    with open_database(f"sqlite:///{calibration_db}", migrate=False)() as watcher:
        while not watcher.scalar(select(func.count()).select_from(ReminderSent)):
            assert calibration.poll() is None and time.monotonic() - began < 120
            time.sleep(0.005)
    run_seconds = time.monotonic() - began
    assert calibration.wait(120) == 0
    close(calibration)
    print(f"\nremind --send commits after {run_seconds:.2f} s here")
    environ = {**os.environ, "MAILINTAKE_CONFIG": str(config)}
    kills = attempts = 0
    for _ in range(KILLS):
        process = start()
        attempts += 1
        time.sleep(rng.uniform(0.05, 0.7) * run_seconds)  # runs vary: ±30 % on a loaded machine
        kills += kill_group(process)
        close(process)
        with factory() as session:
            if session.scalar(select(func.count()).select_from(ReminderSent)):
                break  # the kill came after the commit: nothing is left for the clean run to queue
    assert kills == attempts
    print(f"{kills} kills landed")
    command = [sys.executable, "-m", "mailintake", *args]
    final = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(ReminderSent)) == UNITS
        queued = select(func.count()).select_from(OutboxItem).where(OutboxItem.kind == "reminder")
        assert session.scalar(queued) == UNITS
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == UNITS
    settings = load_settings(config, environ={})
    while deliver_due(settings, factory, now=at(16, 9, 1)).sent:
        pass
    delivered = smtp_sink.wait_for(UNITS)
    assert sorted(m.rcpt_tos[0] for m in delivered) == sorted(f"u{n}@example.cn" for n in range(UNITS))


def test_worker_sends_scheduled_reminders_when_enabled(env: Env, smtp_sink: SmtpSink) -> None:
    """GIVEN [reminders] enabled with two times WHEN the worker's scheduler is built THEN the future time is a
    job and the long-past one is not; the job queues and delivers the due reminders as the worker."""
    from mailintake.worker.service import Worker

    future = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0) + dt.timedelta(days=2)
    settings = settings_for(env, smtp_sink.port)
    settings = settings.model_copy(update={"reminders": settings.reminders.model_copy(update={
        "enabled": True, "times": [dt.datetime(2019, 12, 15, 9), future]})})
    factory = env.session_factory
    with factory() as session:
        seed(session)
    worker = Worker(settings, factory)
    try:
        scheduler = worker.build_scheduler()
        assert scheduler.get_job("reminders-0") is None
        assert scheduler.get_job("reminders-1").trigger.run_date == future.replace(tzinfo=settings.campaign.tz)
        result = worker.scheduled_reminders(now=at(17, 10, 30))
    finally:
        worker.close()
    assert [r.unit for r in result.queued] == ["甲市行政审批局", "乙市行政审批局"]
    assert sorted(m.rcpt_tos[0] for m in smtp_sink.wait_for(2)) == ["jia@example.cn", "yi@example.cn"]
    with factory() as session:
        assert {(a.actor, a.origin) for a in session.scalars(select(AuditEntry))} == {("mailintake", "worker")}


def test_send_only_what_the_preview_showed(env: Env) -> None:
    """GIVEN a console form posting (unit, kind) keys THEN exactly those still due are queued; a key no
    longer due (the unit applied since) is not."""
    settings = settings_for(env)
    sources = load_sources(settings)
    with env.session_factory() as session:
        story = seed(session)
        shown = preview_reminders(session, settings, sources, at(17, 10))
        assert [r.key for r in shown][:2] == [("甲市行政审批局", "not_applied"),
                                             ("乙市行政审批局", "correction_pending")]
        story.mail("accepted", at(17, 10, 5), "yi@example.cn", forms=[t2("乙市行政审批局")])
        session.commit()
        result = send_reminders(session, settings, sources, at(17, 10, 10), CLERK,
                                only=[("甲市行政审批局", "not_applied"), ("乙市行政审批局", "correction_pending")])
        session.commit()
        assert [r.key for r in result.queued] == [("甲市行政审批局", "not_applied")]
        assert session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.kind == "reminder")) == 1


def test_cli_preview_then_send(tmp_path: Path, env: Env) -> None:
    from click.testing import CliRunner

    from mailintake.cli import cli

    url = env.url
    settings_for(env)  # writes the roster
    with env.session_factory() as session:
        seed(session)
    config = tmp_path / "mailintake.toml"
    config.write_text(f'[database]\nurl = "{url}"\n[storage]\ndir = "{tmp_path / "storage"}"\n'
                      f'[smtp]\nsender = "office@example.cn"\n[campaign]\nroster = "{tmp_path / "units.csv"}"\n',
                      "utf-8")

    def run(*args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(cli, ["--config", str(config), "remind", *args], env={"MAILINTAKE_CONFIG": None})
        return result.exit_code, result.stdout, result.stderr

    code, out, err = run("--preview", "--now", "2019-12-17T10:30")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "尚未报送\t甲市行政审批局\tjia@example.cn",
        "材料待更正\t乙市行政审批局\tyi@example.cn",
        "尚未报送\t丙市行政审批局\t需电话催报 孙三 0512-3333（名录未登记邮箱）",
        "尚未报送\t丁市行政审批局\t需电话催报 李四 0512-4444（邮箱 ding@example.cn 曾退信）",
        "共 4 条，其中需电话催报 2 条",
    ]
    code, out, err = run("--send", "--now", "2019-12-17T10:30")
    assert (code, out, err) == (0, "已排队 2 封催报邮件，由 worker 或 mailintake send 发送；需电话催报 2 家\n", "")
    code, out, err = run("--send", "--now", "2019-12-17T16:00")
    assert (code, out) == (0, "已排队 0 封催报邮件，由 worker 或 mailintake send 发送；需电话催报 2 家\n")
    code, out, err = run()
    assert (code, err.splitlines()[-1]) == (2, "Error: add --preview to list the reminders due now, or --send to "
                                               "queue them")


def test_a_bounce_fetched_over_imap_blocks_its_address(tmp_path: Path, env: Env, imap_server: PymapServer) -> None:
    """GIVEN a delivery failure report for jia@example.cn in the real mailbox WHEN polled THEN 甲 is reminded
    by phone, not by mail."""
    from mailintake.demo.samples.mails import builder
    from mailintake.intake.cycle import poll_once
    from tests.support.servers import append_mail

    roster = tmp_path / "units.csv"
    roster.write_text(ROSTER, "utf-8")
    settings = env.settings(imap=imap_server, campaign={"roster": str(roster)})
    append_mail(imap_server, builder().to("jia@example.cn").bounce().build(), at(16, 8))
    factory = env.session_factory
    poll_once(settings, factory)
    with factory() as session:
        due = preview_reminders(session, settings, load_sources(settings), at(16, 9))
    assert view(due)[0] == ("甲市行政审批局", "not_applied", None, "邮箱 jia@example.cn 曾退信")
