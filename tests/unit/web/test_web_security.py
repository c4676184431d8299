"""The console against a stranger: login throttling per (account, address) and per address, counted
atomically; password checks bounded in number (and so in memory); weak passwords and case-twin logins
refused; one's own password changed; idle sessions ended; request bodies limited; failed logins
audited without an actor; unit names with ``/`` and 20-digit page numbers."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select
from starlette.testclient import TestClient

from mailintake.cli import cli
from mailintake.db.audit import Actor
from mailintake.db.models import AuditEntry, LoginFailure
from mailintake.office.users import ANONYMOUS, UserError, add_user, find_user, set_password
from mailintake.web.app import create_app
from mailintake.web.server import start_in_thread
from tests.support.web_support import CLERK, PASSWORD, VIEWER, Filled, fill

A, B = ("203.0.113.5", 40000), ("198.51.100.7", 40000)


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Filled:
    return fill(tmp_path_factory.mktemp("websec") / "demo")


@pytest.fixture(autouse=True)
def clean_failures(filled: Filled) -> Iterator[None]:
    yield
    with filled.factory() as session, session.begin():
        session.execute(delete(LoginFailure))


def client_at(filled: Filled, address: tuple[str, int] = A, **web: object) -> TestClient:
    settings = filled.settings
    if web:
        settings = settings.model_copy(update={"web": settings.web.model_copy(update=web)})
    return TestClient(create_app(settings, filled.factory), follow_redirects=False, client=address)


def token_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def try_login(client: TestClient, user: str, password: str) -> int:
    token = token_of(client.get("/login").text)
    return client.post("/login", data={"username": user, "password": password, "csrf_token": token}).status_code


def audit_rows(filled: Filled, action: str) -> list[AuditEntry]:
    with filled.factory() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_a_strangers_failures_never_lock_the_clerk_out_from_another_address(filled: Filled) -> None:
    with client_at(filled, A) as stranger, client_at(filled, B) as clerk:
        assert [try_login(stranger, CLERK, f"guess {n}") for n in range(10)] == [401] * 10
        assert try_login(stranger, CLERK, PASSWORD) == 429
        assert try_login(stranger, CLERK.upper(), PASSWORD) == 429  # the account, whatever its case
        assert try_login(clerk, CLERK, PASSWORD) == 303
        assert try_login(stranger, VIEWER, PASSWORD) == 303  # the address may still use other accounts


def test_twenty_failures_from_one_address_stop_every_account_from_there(filled: Filled) -> None:
    with client_at(filled, A) as stranger, client_at(filled, B) as clerk:
        codes = [try_login(stranger, f"user{n}", "guess guess guess") for n in range(20)]
        assert codes == [401] * 20
        assert try_login(stranger, VIEWER, PASSWORD) == 429
        assert try_login(clerk, VIEWER, PASSWORD) == 303


def test_failed_logins_are_audited_without_an_actor_and_filtered_on_the_audit_page(filled: Filled) -> None:
    typed = "<b>junk-" + secrets.token_hex(4)
    with client_at(filled, A) as c:
        assert try_login(c, typed, "guess guess guess") == 401
        last = audit_rows(filled, "login_failed")[-1]
        expected = (ANONYMOUS, A[0], f"登录失败：账号或密码错误（输入的账号：{typed}）")
        assert (last.actor, last.origin, last.detail) == expected
        assert all(r.actor == ANONYMOUS for r in audit_rows(filled, "login_failed"))
        assert try_login(c, CLERK, PASSWORD) == 303
        page = c.get("/audit", params={"action": "login_failed"}).text
        assert "登录失败" in page and "&lt;b&gt;junk-" in page and "<b>junk" not in page
        rows = re.findall(r"<tr><td class=\"nowrap\">", page)
        assert len(rows) == len(audit_rows(filled, "login_failed"))
        mine = c.get("/audit", params={"actor": CLERK, "action": "login"}).text
        assert mine.count("登录成功") == len([r for r in audit_rows(filled, "login") if r.actor == CLERK])
        tomorrow = (dt.datetime.now(filled.settings.campaign.tz).date() + dt.timedelta(days=1)).isoformat()
        assert "尚无记录" in c.get("/audit", params={"from": tomorrow}).text


def test_parallel_guesses_get_exactly_ten_checks_and_at_most_two_run_at_once(filled: Filled) -> None:
    """30 parallel guesses at one account (and 30 with random names) from one address on a real server:
    exactly 10 (and 20) password checks; never more than two at once, so memory stays bounded."""
    app = create_app(filled.settings, filled.factory)
    server = start_in_thread(app)
    try:
        def peak_rss() -> int:
            text = Path("/proc/self/status").read_text()
            return int(re.search(r"VmHWM:\s+(\d+)", text).group(1)) * 1024  # type: ignore[union-attr]

        Path("/proc/self/clear_refs").write_text("5")  # reset the peak
        before = peak_rss()
        for names, checked in (([CLERK] * 30, 10), ([f"rnd{secrets.token_hex(3)}" for _ in range(30)], 20)):
            failed_before = len(audit_rows(filled, "login_failed"))
            codes: list[int] = []

            def attempt(name: str, codes: list[int] = codes) -> None:
                with httpx.Client(base_url=server.url, timeout=60) as c:
                    token = token_of(c.get("/login").text)
                    codes.append(c.post("/login", data={"username": name, "password": "wrong wrong wrong",
                                                         "csrf_token": token}).status_code)

            threads = [threading.Thread(target=attempt, args=(n,)) for n in names]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
            assert sorted(codes) == [401] * checked + [429] * (30 - checked)
            assert len(audit_rows(filled, "login_failed")) - failed_before == checked
            with filled.factory() as session, session.begin():
                session.execute(delete(LoginFailure))
        assert app.state.console.password_checks.peak == 2
        assert peak_rss() - before < 300 * 2**20  # two 64 MiB checks at most (unbounded: 20 × 64 MiB)
    finally:
        server.stop()


def test_weak_passwords_and_case_twin_logins_are_refused(filled: Filled) -> None:
    config = str(filled.directory / "mailintake.toml")
    if not Path(config).exists():
        config = str(next(filled.directory.rglob("*.toml")))

    def user(*args: str, stdin: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, ["--config", config, *args], input=stdin, env={"MAILINTAKE_CONFIG": None})
        return result.exit_code, result.output

    assert user("user", "add", "Mixed.Case", "--role", "viewer", "--password-stdin",
                stdin="a good long passphrase\n") == (0, "added Mixed.Case (viewer)\n")
    assert user("user", "add", "MIXED.case", "--role", "viewer", "--password-stdin", stdin="another passphrase\n") == (
        1, "user: 'MIXED.case' exists already; use `mailintake user passwd MIXED.case` to change it\n")
    assert user("user", "add", "weak1", "--role", "viewer", "--password-stdin", stdin="short pass\n") == (
        1, "user: the password needs at least 12 characters; choose a longer one\n")
    common = "user: the password is on the list of common passwords; choose one nobody would guess\n"
    assert user("user", "add", "weak2", "--role", "viewer", "--password-stdin", stdin="Password1234\n") == (1, common)
    assert user("user", "passwd", "mixed.case", "--password-stdin", stdin="1qaz2wsx3edc\n") == (1, common)
    with filled.factory() as session:
        assert find_user(session, "weak1") is None and find_user(session, "weak2") is None
        found = find_user(session, "mixed.CASE")
        assert found is not None and found.login == "Mixed.Case"
        with pytest.raises(UserError):
            set_password(session, Actor("t", "CLI"), "Mixed.Case", "qwertyuiop123")
    with client_at(filled, B) as c:
        assert try_login(c, "MIXED.CASE", "a good long passphrase") == 303


def test_change_own_password(filled: Filled) -> None:
    with filled.factory() as session, session.begin():
        add_user(session, Actor("setup", "CLI"), "changer", "viewer", "first long password")
    with client_at(filled, A) as c, client_at(filled, B) as other:
        assert try_login(c, "changer", "first long password") == 303
        assert try_login(other, "changer", "first long password") == 303
        token = token_of(c.get("/account").text)
        post = {"csrf_token": token, "current": "first long password"}
        wrong = c.post("/account/password", data={**post, "current": "not it at all", "new": "second long secret",
                                                  "repeat": "second long secret"})
        assert wrong.status_code == 400 and "当前密码不正确" in wrong.text
        short = c.post("/account/password", data={**post, "new": "short", "repeat": "short"})
        assert "新密码至少需要 12 个字符" in short.text
        common = c.post("/account/password", data={**post, "new": "password1234", "repeat": "password1234"})
        assert "新密码过于常见" in common.text
        done = c.post("/account/password", data={**post, "new": "second long secret", "repeat": "second long secret"})
        assert done.status_code == 303
        assert "密码已修改" in c.get("/").text  # still signed in here
        assert other.get("/").status_code == 303  # the other session ended
    assert audit_rows(filled, "user_password")[-1].detail == "修改本人账号 changer 的密码"
    with client_at(filled, B) as c:
        assert try_login(c, "changer", "second long secret") == 303


def test_idle_sessions_end(filled: Filled) -> None:
    import time

    with client_at(filled, A, idle_minutes=0.05) as c:
        assert try_login(c, VIEWER, PASSWORD) == 303
        assert c.get("/").status_code == 200
        time.sleep(3.5)
        response = c.get("/")
        assert (response.status_code, response.headers["location"]) == (303, "/login?next=%2F")


def test_request_bodies_are_limited(filled: Filled) -> None:
    with client_at(filled, A) as c:
        token = token_of(c.get("/login").text)
        big = c.post("/login", data={"username": "x" * 300_000, "password": "p", "csrf_token": token})
        assert big.status_code == 413 and "提交的内容过大" in big.text


def test_unit_names_with_a_slash_and_20_digit_page_numbers(filled: Filled) -> None:
    from mailintake.web.page.context import unit_url

    assert unit_url("某区/../单位") == "/units/%E6%9F%90%E5%8C%BA%2F..%2F%E5%8D%95%E4%BD%8D"
    with client_at(filled, A) as c:
        assert try_login(c, VIEWER, PASSWORD) == 303
        for path in ("/mails", "/audit", "/reports", "/submissions?table=1"):
            sep = "&" if "?" in path else "?"
            response = c.get(f"{path}{sep}page=99999999999999999999")
            assert response.status_code == 200, path
        last = c.get("/audit?page=99999999999999999999").text
        pages = re.search(r"第 (\d+) / (\d+) 页", last)
        assert pages is None or pages.group(1) == pages.group(2)
