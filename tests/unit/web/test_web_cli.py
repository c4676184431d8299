"""`mailintake web` refuses to start without a secret key; `mailintake user` manages the accounts."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from mailintake.cli import cli
from mailintake.config.settings import load_settings
from mailintake.db.engine import open_database
from mailintake.db.models import AuditEntry, User
from mailintake.office.users import check_login


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "mailintake.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "m.db"}"\n[storage]\ndir = "{tmp_path / "s"}"\n'
                    '[smtp]\nsender = "office@example.cn"\n', "utf-8")
    return path


def invoke(config: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), *args], input=stdin,
                              env={"MAILINTAKE_WEB__SECRET_KEY": "", **(env or {})}, catch_exceptions=False)


def test_web_without_a_secret_key_is_one_line_and_exit_2(config: Path) -> None:
    result = invoke(config, "web")
    assert result.exit_code == 2
    assert result.output == ("config: [web] secret_key is not set; set MAILINTAKE_WEB__SECRET_KEY to a long random "
                             "string (python3 -c 'import secrets; print(secrets.token_urlsafe(32))')\n")
    short = invoke(config, "web", env={"MAILINTAKE_WEB__SECRET_KEY": "short"})
    assert short.exit_code == 2
    assert short.output == ("config: [web] secret_key is shorter than 16 characters; "
                            "set MAILINTAKE_WEB__SECRET_KEY to a long random string\n")


def test_web_section_defaults_and_environment(config: Path) -> None:
    settings = load_settings(config, environ={"MAILINTAKE_WEB__SECRET_KEY": "k" * 32, "MAILINTAKE_WEB__PORT": "9000"})
    web = settings.web
    assert (web.host, web.port, web.secret_key, web.base_url, web.session_hours) == (
        "127.0.0.1", 9000, "k" * 32, "", 12.0)
    assert "k" * 32 not in repr(settings)


def test_user_add_list_passwd_disable(config: Path) -> None:
    added = invoke(config, "user", "add", "wangyan", "--role", "clerk", "--password-stdin",
                   stdin="a long password\n")
    assert (added.exit_code, added.output) == (0, "added wangyan (clerk)\n")
    prompted = invoke(config, "user", "add", "li", "--role", "viewer", stdin="viewer password\nviewer password\n")
    assert prompted.exit_code == 0 and prompted.output.endswith("added li (viewer)\n")
    assert "Repeat the password" in prompted.output
    listed = invoke(config, "user", "list")
    assert listed.output == "li\tviewer\tactive\tlast login never\nwangyan\tclerk\tactive\tlast login never\n"
    again = invoke(config, "user", "add", "wangyan", "--role", "viewer", "--password-stdin", stdin="another one\n")
    assert (again.exit_code, again.output) == (
        1, "user: 'wangyan' exists already; use `mailintake user passwd wangyan` to change it\n")
    weak = invoke(config, "user", "add", "zhao", "--role", "viewer", "--password-stdin", stdin="short\n")
    assert (weak.exit_code, weak.output) == (
        1, "user: the password needs at least 12 characters; choose a longer one\n")
    changed = invoke(config, "user", "passwd", "wangyan", "--password-stdin", stdin="a new long password\n")
    assert (changed.exit_code, changed.output) == (0, "password of wangyan changed\n")
    disabled = invoke(config, "user", "disable", "li")
    assert (disabled.exit_code, disabled.output) == (0, "disabled li\n")
    unknown = invoke(config, "user", "disable", "nobody")
    assert (unknown.exit_code, unknown.output) == (1, "user: no account 'nobody'; `mailintake user list` shows them\n")

    settings = load_settings(config, environ={})
    factory = open_database(settings.database.url, settings.base_dir)
    with factory() as session:
        hashes = {u.login: u.password_hash for u in session.scalars(select(User))}
        assert all(h.startswith("$argon2id$") for h in hashes.values())
        assert check_login(session, "wangyan", "a new long password", "test").outcome == "ok"
        assert check_login(session, "wangyan", "a long password", "test").outcome == "bad"
        assert check_login(session, "li", "viewer password", "test").outcome == "bad"
        session.commit()
        actions = [(a.action, a.origin, a.detail) for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[:4] == [("user_added", "CLI", "新建账号 wangyan（经办人）"),
                           ("user_added", "CLI", "新建账号 li（查看人）"),
                           ("user_password", "CLI", "重设账号 wangyan 的密码"),
                           ("user_disabled", "CLI", "停用账号 li")]
    assert [a[0] for a in actions[4:]] == ["login", "login_failed", "login_failed"]


def test_web_serves_until_interrupted(config: Path) -> None:
    """GIVEN a secret key WHEN `mailintake web --port P` runs THEN /healthz answers on 127.0.0.1:P and
    Ctrl-C stops it cleanly."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import httpx

    from tests.support.servers import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILINTAKE_")}
    env["MAILINTAKE_WEB__SECRET_KEY"] = "a-long-enough-secret-key-for-tests"
    proc = subprocess.Popen([sys.executable, "-m", "mailintake", "--config", str(config), "web", "--port", str(port)],
                            cwd=Path(__file__).resolve().parents[3], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "the console did not start"
                time.sleep(0.2)
        assert response.json() == {"status": "ok", "last_poll": None, "imap": {"state": "ok"}, "smtp": {"state": "ok"}}
        login = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert (login.status_code, login.headers["location"]) == (303, "/login?next=%2F")
        assert "server" not in login.headers
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(30)
    assert code == 0
    assert proc.stderr is not None and "Traceback" not in proc.stderr.read()
