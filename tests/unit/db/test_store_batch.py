"""A mail's attachments and forms are written in one flush; supersession keeps the one-by-one order."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from mailintake.db.models import Message, Submission
from mailintake.db.storage import Storage
from mailintake.demo.samples.forms import make_form_docx
from mailintake.intake.cycle import IntakeCycle
from mailintake.intake.model import FetchedMail
from mailintake.intake.parse import parse_batch, parse_in_process
from mailintake.intake.read import read_one
from tests.support.env import Env
from tests.support.helpers import at, mail

UNIT = "苏州工业园区行政审批局"


def _commit(cycle: IntakeCycle, tmp_path: Path, uid: int, files: dict[str, bytes]) -> None:
    raw = mail(f"园区 <yq{uid}@sipac.gov.cn>", "表2申报", message_id=f"<m{uid}@sip>", attachments=files)
    fetched = FetchedMail(folder="INBOX", uidvalidity=1, uid=uid, received_at=at(16, 10, uid), size=len(raw), raw=raw)
    read = read_one(fetched, cycle.settings, Storage(tmp_path / "storage"))
    [parsed] = parse_batch([read], cycle.settings, parse_in_process)
    cycle.commit_one(parsed)


def test_two_versions_in_one_mail_the_later_file_wins(db_env: Env, tmp_path: Path) -> None:
    """GIVEN an earlier 表2 of a unit WHEN one mail brings two more versions of it THEN only the mail's
    second file is current; the first supersedes the earlier mail's and is superseded by the second."""
    settings = db_env.settings()
    session_factory = db_env.session_factory
    cycle = IntakeCycle(settings, session_factory, pool=None)  # type: ignore[arg-type]  # parsed in-process here
    _commit(cycle, tmp_path, 1, {"表2.docx": make_form_docx(2, {"unit": UNIT, "deeds": "第一版"})})
    _commit(cycle, tmp_path, 2, {"表2-a.docx": make_form_docx(2, {"unit": UNIT, "deeds": "第二版"}),
                                 "表2-b.docx": make_form_docx(2, {"unit": UNIT, "deeds": "第三版"})})
    with session_factory() as session:
        rows = session.scalars(select(Submission).order_by(Submission.id)).all()
        assert [(r.fields["deeds"], r.current) for r in rows] == [
            ("第一版", False), ("第二版", False), ("第三版", True)]
        assert [r.superseded_by for r in rows] == [rows[1].id, rows[2].id, None]
        second = session.scalars(select(Message).where(Message.uid == 2)).one()
        assert [a.path for a in second.attachments] == ["表2-a.docx", "表2-b.docx"]
        assert [s.attachment_id for s in second.submissions] == [a.id for a in second.attachments]
        assert [r.kind for r in second.replies] == ["receipt"]
    session_factory.kw["bind"].dispose()
