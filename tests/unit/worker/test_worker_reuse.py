"""The worker keeps what does not change between cycles: its IMAP session and the roster."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from mailintake.campaign.identity import load_unit_namer
from mailintake.config.settings import load_settings
from mailintake.db.engine import open_database
from mailintake.worker.service import Worker
from tests.support.servers import PymapServer, SmtpSink, append_mail
from tests.unit.worker.test_worker import CST, question_mail, settings_for


def test_the_imap_session_is_kept_between_cycles_and_replaced_when_lost(
        tmp_path: Path, imap_server: PymapServer, smtp_sink: SmtpSink) -> None:
    """GIVEN a worker WHEN cycles run THEN they share one IMAP session; once the session is cut, the
    next cycle logs in again and still records the new mail."""
    settings = settings_for(tmp_path, imap_server, smtp_sink)
    w = Worker(settings, open_database(settings.database.url, settings.base_dir))
    try:
        append_mail(imap_server, question_mail(), dt.datetime(2019, 12, 17, 9, 30, tzinfo=CST))
        first = w.poll_cycle()
        session = w._mailbox
        assert session is not None
        socket_before = session.imap
        assert first is not None and first.error is None and first.poll is not None and first.poll.fetched == 1
        second = w.poll_cycle()
        assert second is not None and second.error is None and second.poll is not None
        assert second.poll.fetched == 0
        assert w._mailbox is session and session.imap is socket_before  # no new LOGIN

        socket_before.shutdown()  # the server side sees the connection drop
        append_mail(imap_server, question_mail("wj@163.com", "请问截止时间？"),
                    dt.datetime(2019, 12, 17, 9, 40, tzinfo=CST))
        third = w.poll_cycle()
        assert third is not None and third.error is None and third.poll is not None
        assert third.poll.fetched == 1 and third.poll.counts == {"no_form": 1}
        assert w._mailbox is not None and w._mailbox.imap is not socket_before
        assert sorted(m.rcpt_tos for m in smtp_sink.wait_for(2)) == [("szzspj@163.com",), ("wj@163.com",)]
    finally:
        w.close()
    assert w._mailbox is None


def test_the_roster_is_read_again_only_when_its_file_changes(tmp_path: Path) -> None:
    """GIVEN a roster file WHEN the namer is loaded twice THEN the same one is reused; after the file
    changes, the new roster is read."""
    roster = tmp_path / "units.csv"
    roster.write_text("name,aliases,category,email\n苏州工业园区行政审批局,园区审批局,市、区审批局,\n", "utf-8")
    settings = load_settings(environ={}, overrides={"campaign": {"roster": str(roster)}})
    first = load_unit_namer(settings)
    assert load_unit_namer(settings) is first
    assert first("园区审批局") == "苏州工业园区行政审批局"
    assert first("吴江审批局") == "吴江审批局"

    stat = roster.stat()
    roster.write_text("name,aliases,category,email\n苏州工业园区行政审批局,园区审批局,市、区审批局,\n"
                      "吴江区行政审批局,吴江审批局,市、区审批局,\n", "utf-8")
    os.utime(roster, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime: the size tells the change
    second = load_unit_namer(settings)
    assert second is not first
    assert second("吴江审批局") == "吴江区行政审批局"
