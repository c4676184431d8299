"""The schema is managed by Alembic; the shortcut that skips Alembic must know the real head."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from mailintake.db.engine import HEAD_REVISION, MIGRATIONS_DIR, alembic_config, current_revision, make_engine, upgrade


def test_head_constant_matches_the_newest_migration():
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    assert script.get_heads() == [HEAD_REVISION]


def test_upgrade_from_the_first_schema_to_head(db_url):
    """GIVEN a database at revision 0001 WHEN opened THEN it is upgraded and gains the quota index."""
    from alembic import command

    engine = make_engine(db_url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0001")
    assert current_revision(engine) == "0001"
    upgrade(engine)
    assert current_revision(engine) == HEAD_REVISION
    indexes = {index["name"] for index in inspect(engine).get_indexes("submissions")}
    assert indexes == {"ix_submissions_identity", "ix_submissions_unit", "ix_submissions_message_pk"}
    assert "audit_log" in inspect(engine).get_table_names()
    upgrade(engine)  # already at head: nothing to do
    assert current_revision(engine) == HEAD_REVISION


def test_empty_database_has_no_revision(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    assert current_revision(engine) is None


def test_0008_makes_the_loop_guard_indexes_covering_and_back(db_url):
    """GIVEN a database at head WHEN downgraded to 0007 and upgraded again THEN the outbox's address
    indexes go from (key, created_at) to (key, created_at, kind, status) and back."""
    from alembic import command

    engine = make_engine(db_url)
    try:
        upgrade(engine)

        def columns() -> dict[str, list[str | None]]:
            return {index["name"]: index["column_names"] for index in inspect(engine).get_indexes("outbox")
                    if index["name"] in ("ix_outbox_recipient_key", "ix_outbox_cc_key")}

        assert columns() == {"ix_outbox_recipient_key": ["recipient_key", "created_at", "kind", "status"],
                             "ix_outbox_cc_key": ["cc_key", "created_at", "kind", "status"]}
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0007")
        assert columns() == {"ix_outbox_recipient_key": ["recipient_key", "created_at"],
                             "ix_outbox_cc_key": ["cc_key", "created_at"]}
        upgrade(engine)
        assert current_revision(engine) == HEAD_REVISION
        assert columns()["ix_outbox_cc_key"] == ["cc_key", "created_at", "kind", "status"]
    finally:
        engine.dispose()


def test_0011_console_adds_login_failures_answer_state_and_case_free_logins(db_url):
    """GIVEN a database at head WHEN downgraded to 0009 and upgraded again THEN the login-failure table,
    the case-free login index and the messages' answer columns go and come back."""
    from alembic import command

    engine = make_engine(db_url)
    try:
        upgrade(engine)

        def state() -> tuple[bool, set[str], bool]:
            found = inspect(engine)
            with engine.connect() as connection:
                unique = connection.scalar(text(
                    "SELECT count(*) FROM sqlite_master WHERE name = 'ix_users_login_lower'" if engine.dialect.name
                    == "sqlite" else "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_users_login_lower'"))
            return (found.has_table("login_failures"),
                    {c["name"] for c in found.get_columns("messages")} & {"handled", "handled_by", "handled_at"},
                    unique == 1)

        assert state() == (True, {"handled", "handled_by", "handled_at"}, True)
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0009_smtp_health")
        assert state() == (False, set(), False)
        upgrade(engine)
        assert state() == (True, {"handled", "handled_by", "handled_at"}, True)
    finally:
        engine.dispose()


def test_a24_adds_the_other_names_of_a_file_attached_twice_and_back(db_url):
    """GIVEN a database at head WHEN downgraded to 0011 and upgraded again THEN ``attachments.other_names``
    goes and comes back."""
    from alembic import command

    engine = make_engine(db_url)
    try:
        upgrade(engine)

        def has_column() -> bool:
            return "other_names" in {column["name"] for column in inspect(engine).get_columns("attachments")}

        assert has_column()
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0011_console")
        assert not has_column()
        upgrade(engine)
        assert current_revision(engine) == HEAD_REVISION == "a24_other_names" and has_column()
    finally:
        engine.dispose()
