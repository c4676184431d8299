"""The audit trail is append-only and records who did what, from where."""

from __future__ import annotations

import pytest

from mailintake.db.audit import CLI_ORIGIN, Actor, list_actions, record_action
from mailintake.db.models import AuditEntry
from tests.support.env import Env


def test_actions_are_listed_newest_first_and_cannot_be_changed(db_env: Env) -> None:
    """GIVEN two recorded actions WHEN listed THEN newest first; an update or delete is refused."""
    factory = db_env.session_factory
    with factory() as session:
        record_action(session, Actor("wangyan", "127.0.0.1"), "login", detail="登录")
        record_action(session, Actor.cli(), "paper_received", unit="吴江区行政审批局", detail="纸质材料已收到")
        session.commit()
    with factory() as session:
        rows = list_actions(session)
        assert [(row.action, row.unit) for row in rows] == [
            ("paper_received", "吴江区行政审批局"), ("login", None)]
        assert rows[0].origin == CLI_ORIGIN
        assert rows[1].actor == "wangyan"
        rows[1].detail = "篡改"
        with pytest.raises(PermissionError):
            session.flush()
        session.rollback()
        session.delete(session.get(AuditEntry, rows[0].id))
        with pytest.raises(PermissionError):
            session.flush()
