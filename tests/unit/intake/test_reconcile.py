"""`mailintake reconcile` on a real IMAP server: after polls with identical copies it finds no difference and
the export's messages plus duplicates equal the mailbox; a mail deleted from the mailbox and a ledger row lost
are both reported (exit 1)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import delete

from mailintake.cli import cli
from mailintake.config.settings import load_settings
from mailintake.db.engine import open_database
from mailintake.db.models import Ledger
from tests.support.servers import PymapServer, SmtpSink, append_mail
from tests.unit.worker.test_worker import CST, config_for, question_mail


def invoke(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--quiet", "--config", str(config), *args], env={"MAILINTAKE_CONFIG": ""})
    return result.exit_code, result.stdout


def test_reconcile_agrees_after_polls_and_reports_real_differences(
    tmp_path: Path, imap_server: PymapServer, smtp_sink: SmtpSink
) -> None:
    config = config_for(tmp_path, imap_server, smtp_sink)
    when = dt.datetime(2019, 12, 17, 9, 30, tzinfo=CST)
    same = question_mail()
    uids = [append_mail(imap_server, raw, when) for raw in (same, question_mail("kspj@163.com"), same)]
    assert invoke(config, "poll")[0] == 0
    code, out = invoke(config, "reconcile")
    assert (code, out.splitlines()) == (0, [
        "INBOX (UIDVALIDITY {}): 3 message(s) in the mailbox, 3 in the ledger (2 mail(s), 1 identical copy)"
        .format(imap_server.client().select_folder("INBOX")[b"UIDVALIDITY"]), "no difference"])
    exported = json.loads(invoke(config, "export")[1])
    rows = [(m["folder"], m["uid"]) for m in exported["messages"]] + \
        [(d["folder"], d["uid"]) for d in exported["duplicates"]]
    assert sorted(rows) == [("INBOX", uid) for uid in uids]
    assert exported["duplicates"][0]["duplicate_of"]["uid"] == uids[0]

    late = append_mail(imap_server, question_mail("wj@163.com"), when)
    code, out = invoke(config, "reconcile")
    assert code == 0 and out.splitlines()[0].endswith(", 1 not yet polled")

    with imap_server.client() as client:  # someone deletes a recorded mail from the mailbox
        client.select_folder("INBOX")
        client.delete_messages([uids[1]])
        client.expunge()
    settings = load_settings(config, environ={})
    with open_database(settings.database.url, settings.base_dir)() as session:  # and a ledger row is lost
        assert invoke(config, "poll")[0] == 0
        session.execute(delete(Ledger).where(Ledger.uid == late))
        session.commit()
    code, out = invoke(config, "reconcile")
    assert code == 1
    assert out.splitlines()[1:] == [
        f"INBOX: 1 message(s) in the mailbox have no ledger row (UID {late}); run `mailintake poll` and reconcile "
        "again",
        f"INBOX: 1 recorded message(s) are no longer in the mailbox (UID {uids[1]}); their copies are in the "
        "storage directory",
    ]
