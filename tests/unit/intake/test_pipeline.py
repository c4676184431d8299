"""The intake cycle against a real IMAP server and a real database: each mail exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from mailintake.db.models import Ledger, Message, OutboxItem, Submission
from mailintake.demo.samples.forms import make_form_docx
from mailintake.intake.cycle import poll_once
from tests.support.helpers import at, mail, poll_config
from tests.support.servers import append_mail, reset_uidvalidity

UNIT = "苏州工业园区行政审批局"


def statuses(session_factory) -> dict[str, str]:
    with session_factory() as session:
        return {m.message_id: m.status for m in session.scalars(select(Message))}


def form2(unit: str = UNIT, deeds: str = "推行“一件事一窗办”，办理时限压缩50%。") -> bytes:
    return make_form_docx(2, {"unit": unit, "deeds": deeds})


def form1(project: str, unit: str = UNIT) -> bytes:
    return make_form_docx(1, {"unit": unit, "contact": "王明 0512-66681234", "project": project,
                              "recognition": "获省级表彰", "summary": "项目实施后办理时间缩短一半。"})


def test_each_mail_recorded_once_with_its_status(any_imap_server, db_env):
    """GIVEN five typical mails WHEN polling twice THEN each has one status, one reply, nothing twice."""
    server = any_imap_server
    append_mail(server, mail("园区审批局 <yq@sipac.gov.cn>", "表2申报", message_id="<ok@sip>",
                             attachments={"表2.docx": form2()}), at(16))
    star = make_form_docx(3, {"name": "", "unit_and_title": "窗口 科员", "deeds": "热情服务",
                              "recommender": "吴江区行政审批局"})
    append_mail(server, mail("吴江 <wj@163.com>", "表3申报", message_id="<inc@wj>",
                             attachments={"表3.docx": star}), at(16, 11))
    append_mail(server, mail("晚到 <late@qq.com>", "表2", message_id="<late@qq>",
                             attachments={"表2.docx": form2("常熟市行政审批局")}), at(18, 17, 31))
    append_mail(server, mail("问 <ask@qq.com>", "请问截止时间", message_id="<ask@qq>"), at(17))
    append_mail(server, mail("Auto <ask@qq.com>", "自动回复：休假", message_id="<auto@qq>",
                             headers={"Auto-Submitted": "auto-replied"}), at(17, 12))
    settings = db_env.settings(imap=server)
    session_factory = db_env.session_factory

    first = poll_once(settings, session_factory)
    second = poll_once(settings, session_factory)

    assert first.fetched == 5
    assert first.counts == {"accepted": 1, "needs_correction": 1, "late": 1, "no_form": 1, "ignored": 1}
    assert second.fetched == 0 and second.counts == {}
    assert statuses(session_factory) == {
        "<ok@sip>": "accepted", "<inc@wj>": "needs_correction", "<late@qq>": "late",
        "<ask@qq>": "no_form", "<auto@qq>": "ignored",
    }
    with session_factory() as session:
        kinds = sorted(session.scalars(select(OutboxItem.kind)).all())
        assert kinds == ["correction", "late", "no_form", "receipt"]
        incomplete = session.scalars(select(Submission).where(Submission.table_no == 3)).one()
        assert [(f["code"], f.get("field")) for f in incomplete.flags] == [("incomplete", "name")]
        late = session.scalars(select(Submission).where(Submission.table_no == 2, Submission.current.is_(False))).one()
        assert late.fields["unit"] == "常熟市行政审批局"
        assert [f["code"] for f in late.flags] == ["late"]
        accepted = session.scalars(select(Message).where(Message.message_id == "<ok@sip>")).one()
        assert accepted.received_at.astimezone(at(1).tzinfo) == at(16)
        assert accepted.receipt_no is not None and accepted.receipt_no.startswith("2019-")
        assert session.scalar(select(func.count()).select_from(Ledger)) == 5


def test_resubmission_supersedes_and_history_is_kept(imap_server, env):
    """GIVEN a 表2 and a later corrected 表2 from the same unit THEN only the later one is current."""
    append_mail(imap_server, mail("a <a@sip.gov.cn>", "表2", message_id="<v1@sip>",
                                  attachments={"表2.docx": form2(deeds="初稿")}), at(16))
    append_mail(imap_server, mail("a <a@sip.gov.cn>", "表2 更正", message_id="<v2@sip>",
                                  attachments={"表2（更正）.docx": form2(deeds="修改稿")}), at(17))
    settings = env.settings(imap=imap_server)
    session_factory = env.session_factory
    poll_once(settings, session_factory)
    with session_factory() as session:
        rows = session.scalars(select(Submission).order_by(Submission.id)).all()
        assert [(r.fields["deeds"], r.current) for r in rows] == [("初稿", False), ("修改稿", True)]
        assert rows[0].superseded_by == rows[1].id


def test_third_project_of_a_unit_is_over_quota(imap_server, env):
    """GIVEN three 表1 projects from one unit (limit 2) THEN the third, in arrival order, is flagged."""
    append_mail(imap_server, mail("a <a@sip.gov.cn>", "表1 两个项目", message_id="<p12@sip>",
                                  attachments={"项目一.docx": form1("项目一"), "项目二.docx": form1("项目二")}), at(16))
    append_mail(imap_server, mail("a <a@sip.gov.cn>", "表1 项目三", message_id="<p3@sip>",
                                  attachments={"项目三.docx": form1("项目三")}), at(17))
    settings = env.settings(imap=imap_server)
    session_factory = env.session_factory
    poll_once(settings, session_factory)
    assert statuses(session_factory) == {"<p12@sip>": "accepted", "<p3@sip>": "needs_correction"}
    with session_factory() as session:
        third = session.scalars(select(Submission).where(Submission.message.has(message_id="<p3@sip>"))).one()
        assert [f["code"] for f in third.flags] == ["quota_exceeded"]


def test_uidvalidity_reset_rescans_without_duplicates(imap_server, env):
    """GIVEN processed mail WHEN the server resets UIDVALIDITY THEN a rescan adds nothing new."""
    for n in range(3):
        append_mail(imap_server, mail(f"u{n} <u{n}@qq.com>", "表2", message_id=f"<r{n}@qq>",
                                      attachments={"表2.docx": form2(f"单位{n}")}), at(16, 9 + n))
    settings = env.settings(imap=imap_server)
    session_factory = env.session_factory
    assert poll_once(settings, session_factory).counts == {"accepted": 3}
    reset_uidvalidity(imap_server)
    result = poll_once(settings, session_factory)
    assert result.rescanned is True
    assert (result.fetched, result.duplicates, result.counts) == (3, 3, {})
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 3
        assert session.scalar(select(func.count()).select_from(OutboxItem)) == 3


def test_mail_over_the_size_limit_is_recorded_not_read(imap_server, env):
    """GIVEN a mail larger than [mailbox] max_message_bytes THEN it is recorded too_large and answered."""
    append_mail(imap_server, mail("big <big@qq.com>", "大附件", message_id="<big@qq>",
                                  attachments={"表2.docx": form2() + b"\0" * 200_000}), at(16))
    settings = env.settings(imap=imap_server, mailbox={"max_message_bytes": 100_000})
    session_factory = env.session_factory
    poll_once(settings, session_factory)
    with session_factory() as session:
        message = session.scalars(select(Message)).one()
        assert (message.status, message.raw_path, message.from_addr) == ("too_large", None, "big@qq.com")
        assert [f["code"] for f in message.flags] == ["too_large"]


def test_killed_poll_loses_nothing_and_duplicates_nothing(imap_server, tmp_path, env):
    """GIVEN 40 mails WHEN `mailintake poll` is SIGKILLed midway and run again THEN each mail is recorded once."""
    for n in range(40):
        append_mail(imap_server, mail(f"u{n} <u{n}@qq.com>", "表2", message_id=f"<k{n}@qq>",
                                      attachments={"表2.docx": form2(f"单位{n}")}), at(16, 9, n))
    settings = env.settings(imap=imap_server, mailbox={"fetch_batch": 5})
    config = poll_config(tmp_path / "mailintake.toml", imap_server, settings.database.url, settings.storage.dir)
    environ = {**os.environ, "MAILINTAKE_CONFIG": str(config)}
    process = subprocess.Popen([sys.executable, "-m", "mailintake", "poll", "--no-send"], env=environ,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    session_factory = env.session_factory
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with session_factory() as session:
            if (session.scalar(select(func.count()).select_from(Message)) or 0) >= 8:
                break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    with session_factory() as session:
        recorded_before = session.scalar(select(func.count()).select_from(Message))
    assert recorded_before is not None and recorded_before < 40

    done = subprocess.run([sys.executable, "-m", "mailintake", "poll", "--no-send", "--json"], env=environ,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["counts"] == {"accepted": 40 - recorded_before}
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 40
        assert session.scalar(select(func.count()).select_from(Submission)) == 40
        assert session.scalar(select(func.count()).select_from(OutboxItem)) == 40
        assert session.scalar(select(func.count(func.distinct(Ledger.uid)))) == 40


@pytest.mark.parametrize("action", ["flag", "move"])
def test_processed_action_only_after_commit_and_never_deletes(imap_server, env, action):
    """GIVEN [mailbox] processed_action THEN processed mail is flagged or moved, and still exists."""
    append_mail(imap_server, mail("a <a@qq.com>", "表2", message_id="<pa@qq>",
                                  attachments={"表2.docx": form2()}), at(16))
    # pymap keeps only the system flags, so the flag used is \Flagged
    settings = env.settings(imap=imap_server,
                            mailbox={"processed_action": action, "processed_flag": "\\Flagged"})
    session_factory = env.session_factory
    poll_once(settings, session_factory)
    client = imap_server.client()
    try:
        if action == "flag":
            client.select_folder("INBOX", readonly=True)
            flags = client.get_flags(client.search("ALL"))
            assert [b"\\Flagged" in f for f in flags.values()] == [True]
            assert not any(b"\\Seen" in f for f in flags.values())
        else:
            client.select_folder("Processed", readonly=True)
            assert len(client.search("ALL")) == 1
    finally:
        client.logout()


def test_units_are_grouped_by_their_roster_name(imap_server, env):
    """GIVEN a unit writing its name two ways (an alias in config/units.csv) THEN its 表2 resubmission
    supersedes the first, and its 表1 projects count against one quota."""
    append_mail(imap_server, mail("a <a@sip.gov.cn>", "表2", message_id="<a1@sip>",
                                  attachments={"表2.docx": form2(UNIT, deeds="初稿")}), at(16))
    append_mail(imap_server, mail("a <a@sip.gov.cn>", "表2 更正", message_id="<a2@sip>",
                                  attachments={"表2.docx": form2("园区审批局", deeds="修改稿")}), at(17))
    append_mail(imap_server, mail("a <a@sip.gov.cn>", "表1", message_id="<a3@sip>",
                                  attachments={"一.docx": form1("项目一"), "二.docx": form1("项目二", "园区审批局"),
                                               "三.docx": form1("项目三", "工业园区审批局")}), at(17, 12))
    settings = env.settings(imap=imap_server)
    session_factory = env.session_factory
    poll_once(settings, session_factory)
    with session_factory() as session:
        table2 = session.scalars(select(Submission).where(Submission.table_no == 2).order_by(Submission.id)).all()
        assert [(s.fields["deeds"], s.current, s.unit) for s in table2] == [
            ("初稿", False, UNIT), ("修改稿", True, UNIT)]
        table1 = session.scalars(select(Submission).where(Submission.table_no == 1).order_by(Submission.id)).all()
        assert [[f["code"] for f in s.flags] for s in table1] == [[], [], ["quota_exceeded"]]
        assert {s.unit for s in table1} == {UNIT}


def test_fetch_groups_stay_within_the_byte_budget():
    """Mails are fetched in groups of at most fetch_batch_bytes; an oversized one goes alone and a mail
    over the message limit (header only) costs nothing."""
    from datetime import UTC, datetime

    from mailintake.intake.fetch import _by_bytes
    from mailintake.mailbox.client import MessageMeta

    sizes = {1: 40, 2: 40, 3: 30, 4: 150, 5: 10, 6: 999, 7: 60}
    arrived = datetime(2026, 12, 1, tzinfo=UTC)
    meta = {uid: MessageMeta(uid, size, arrived, ()) for uid, size in sizes.items()}
    assert list(_by_bytes([1, 2, 3, 4, 5, 6, 7], meta, max_message=500, budget=100)) == [
        [1, 2], [3], [4], [5, 6, 7]]


def test_a_small_byte_budget_still_records_every_mail(imap_server, env):
    """GIVEN a byte budget smaller than one mail THEN mails are fetched one by one and all recorded."""
    for n in range(3):
        append_mail(imap_server, mail(f"u{n} <u{n}@qq.com>", "表2", message_id=f"<b{n}@qq>",
                                      attachments={"表2.docx": form2(f"单位{n}")}), at(16, 9, n))
    settings = env.settings(imap=imap_server, mailbox={"fetch_batch_bytes": 1000})
    result = poll_once(settings, env.session_factory)
    assert (result.fetched, result.counts) == (3, {"accepted": 3})


def test_reprocess_replies_only_when_the_outcome_changes(imap_server, env):
    """GIVEN a form flagged overlong under a 10-字 limit WHEN it is reprocessed under the same limit THEN
    nothing new is queued; WHEN reprocessed after the limit is fixed THEN its old record is superseded
    and a receipt follows the correction."""
    from mailintake.intake.cycle import reprocess_message

    append_mail(imap_server, mail("a <a@sip.gov.cn>", "表2", message_id="<rp@sip>",
                                  attachments={"表2.docx": form2()}), at(16))
    strict = env.settings(imap=imap_server, campaign={"max_chars": 10})
    session_factory = env.session_factory
    poll_once(strict, session_factory)
    with session_factory() as session:
        message = session.scalars(select(Message)).one()
        assert message.status == "needs_correction"
        message_pk = message.id
    assert reprocess_message(strict, session_factory, message_pk) == "needs_correction"
    fixed = env.settings(imap=imap_server, campaign={"max_chars": 1000})
    assert reprocess_message(fixed, session_factory, message_pk) == "accepted"
    with session_factory() as session:
        assert session.scalars(select(OutboxItem.kind).order_by(OutboxItem.id)).all() == ["correction", "receipt"]
        rows = session.scalars(select(Submission).order_by(Submission.id)).all()
        assert [(r.current, [f["code"] for f in r.flags]) for r in rows] == [
            (False, ["overlong"]), (False, ["overlong"]), (True, [])]
