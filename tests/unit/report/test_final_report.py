"""The final 截止报告 goes out once, at deadline + final_delay, even when the worker restarts around it."""

from __future__ import annotations

import datetime as dt
import email
from email import policy
from pathlib import Path

import lxml.html
from sqlalchemy import func, select

from mailintake.campaign.sources import load_sources
from mailintake.config.settings import Settings, load_settings
from mailintake.db.engine import open_database
from mailintake.db.models import FinalReport, OutboxItem
from mailintake.demo.session import write_config
from mailintake.report.final_report import send_final_report
from mailintake.worker.service import Worker
from tests.support.env import Env
from tests.support.report_story import at, build_story
from tests.support.servers import PymapServer, SmtpSink
from tests.unit.worker.test_worker import Process

DUE = at(18, 18, 30)  # the shipped deadline 17:30 + the default hour


def settings_for(env: Env, sink: SmtpSink) -> Settings:
    return env.load(report={"dir": str(env.root / "reports"), "recipients": ["boss@example.cn"]},
                    smtp={"sender": "office@example.cn", "host": sink.host, "port": sink.port, "security": "none"})


def count_final(settings: Settings) -> int:
    with open_database(settings.database.url)() as session:
        return int(session.scalar(select(func.count()).select_from(FinalReport)) or 0)


def test_final_report_once_with_candidates_and_silent_units(db_env: Env, smtp_sink: SmtpSink) -> None:
    """GIVEN the story WHEN the worker's job runs before, at and after the due time, and a restarted worker
    runs it again THEN exactly one report is queued and delivered, with the frozen lists."""
    settings = settings_for(db_env, smtp_sink)
    factory = db_env.session_factory
    with factory() as session:
        build_story(session)
        session.commit()
        assert send_final_report(session, settings, load_sources(settings), DUE - dt.timedelta(minutes=1)) is None
    first = Worker(settings, factory)
    assert first.final_report(now=DUE) is not None
    first.close()
    restarted = Worker(settings, factory)  # a restart just after the due time
    assert restarted.final_report(now=DUE + dt.timedelta(minutes=2)) is None
    restarted.close()
    assert count_final(settings) == 1
    [mail] = [m for m in smtp_sink.wait_for(2) if m.rcpt_tos == ("boss@example.cn",)]  # + the story's reply
    assert mail.rcpt_tos == ("boss@example.cn",)
    parsed = email.message_from_bytes(mail.raw, policy=policy.default)
    assert parsed["Subject"] == "“双争双创”活动先进荣誉申报截止报告"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert [a.get_filename() for a in parsed.iter_attachments()] == ["公示名单.xlsx"]
    html = parsed.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    doc = lxml.html.fromstring(html)
    heads = [h.text_content() for h in doc.xpath("//section/h2")]
    assert heads[:4] == ["表1 改革创新标兵单位（共 5 个，名额共20个）",
                         "表2 为民服务工作先进集体（共 1 个，名额共20个）",
                         "表3 窗口服务明星（共 1 个，名额20个）",
                         "表4 先进工作者（共 0 个，名额各地15个+市局视情）"]
    categories = [[td.text_content() for td in tr.xpath("./td")]
                  for tr in doc.get_element_by_id("table-1").xpath(".//table[@class='categories']/tbody/tr")]
    assert categories[0] == ["市、区审批局", "5个左右", "4"]
    silent = [tr.xpath("./td")[0].text_content() for tr in doc.get_element_by_id("not-applied").xpath(".//tbody/tr")]
    # applied on time (candidates or not): 张家港, 昆山, 太仓, 审改处, 市公安局窗口; 吴江 only late
    assert len(silent) == 35 - 5 and silent[:2] == ["常熟市行政审批局", "苏州市吴江区行政审批局"]
    assert not {"张家港市行政审批局", "昆山市行政审批局", "市公安局窗口"} & set(silent)
    with factory() as session:
        [row] = session.scalars(select(OutboxItem).where(OutboxItem.kind == "final_report")).all()
        assert row.status == "sent"


def test_worker_schedules_it_at_the_due_time_or_at_once(env: Env, smtp_sink: SmtpSink) -> None:
    future = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=3)
    settings = settings_for(env, smtp_sink).model_copy(update={
        "campaign": load_settings(None, environ={}).campaign.model_copy(update={"deadline": future})})
    worker = Worker(settings, env.session_factory)
    scheduler = worker.build_scheduler()
    job = scheduler.get_job("final_report")
    assert job.trigger.run_date == future + dt.timedelta(hours=1)
    assert scheduler.get_job("reminders-0") is None  # reminders are opt-in
    worker.close()


def test_run_restarted_after_the_deadline_sends_it_once(tmp_path: Path, imap_server: PymapServer,
                                                       smtp_sink: SmtpSink) -> None:
    """GIVEN a deadline two hours ago WHEN `mailintake run` starts, is stopped and started again THEN the
    截止报告 reaches the office once."""
    deadline = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).replace(microsecond=0).isoformat()
    config = write_config(tmp_path / "run", imap_host=imap_server.host, imap_port=imap_server.port,
                          username=imap_server.username, password=imap_server.password,
                          smtp_host=smtp_sink.host, smtp_port=smtp_sink.port,
                          extra={"campaign": {"deadline": deadline}, "report": {"recipients": ["boss@example.cn"]}})
    for _ in range(2):
        worker = Process(config)
        try:
            worker.wait_for_line("cycle done", timeout=60)
            worker.wait_for_line("worker started")
        finally:
            assert worker.stop() == 0
    assert sum("final report written" in line for line in worker.lines) == 0
    finals = [m for m in smtp_sink.messages if "截止报告" in str(email.message_from_bytes(m.raw, policy=policy.default)
                                                                   ["Subject"])]
    assert len(finals) == 1
    assert count_final(load_settings(config, environ={})) == 1
