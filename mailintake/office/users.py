"""Console accounts: add, list, change a password, disable, and check a login — each audited.

Passwords are hashed with argon2id (argon2-cffi) and never stored or logged; they need at least 12
characters and must not be on the shipped list of common passwords. Logins are unique without regard
to case. A login is checked in three steps — reserve a try (``login_throttle``), verify the password
(CPU and 64 MiB of memory, outside any transaction; the console runs a few at once), record the
outcome — and a failed login is audited with the typed name as detail, never as the actor.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailintake.db.audit import Actor, record_action
from mailintake.db.models import User, utcnow
from mailintake.errors import MailintakeError
from mailintake.office import login_throttle

ROLES = ("clerk", "viewer")
ROLE_LABELS = {"clerk": "经办人", "viewer": "查看人"}
MIN_PASSWORD = 12
COMMON_PASSWORDS = Path(__file__).with_name("common_passwords.txt")
#: the actor of a failed or refused login: nobody is signed in (the typed name goes into the detail)
ANONYMOUS = "（未登录）"
LOGIN_PATTERN = re.compile(r"^[A-Za-z0-9._@-]{2,64}$")
_HASHER = PasswordHasher()
#: verified against when the login is unknown, so both cases take the same time
_DUMMY_HASH = _HASHER.hash("not a password of anyone")

LoginOutcome = Literal["ok", "bad", "throttled"]


class UserError(MailintakeError):
    """A user-management command named an unknown login, a bad role or a weak password."""

    exit_code = 1


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    user: User | None = None


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text("utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def password_problem(password: str) -> Literal["short", "common"] | None:
    if len(password) < MIN_PASSWORD:
        return "short"
    if password.strip().lower() in common_passwords():
        return "common"
    return None


def hash_password(password: str) -> str:
    problem = password_problem(password)
    if problem == "short":
        raise UserError(f"user: the password needs at least {MIN_PASSWORD} characters; choose a longer one")
    if problem == "common":
        raise UserError("user: the password is on the list of common passwords; choose one nobody would guess")
    return _HASHER.hash(password)


def find_user(session: Session, login: str) -> User | None:
    """The account of ``login``, compared without regard to case."""
    return session.scalars(select(User).where(func.lower(User.login) == login.strip().lower())).first()


def _existing(session: Session, login: str) -> User:
    user = find_user(session, login)
    if user is None:
        raise UserError(f"user: no account {login!r}; `mailintake user list` shows them")
    return user


def add_user(session: Session, actor: Actor, login: str, role: str, password: str) -> User:
    """Create an account; the caller commits."""
    login = login.strip()
    if not LOGIN_PATTERN.match(login):
        raise UserError(f"user: login {login!r} must be 2–64 letters, digits or . _ @ -; choose another")
    if role not in ROLES:
        raise UserError(f"user: role {role!r} is unknown; use clerk or viewer")
    if find_user(session, login) is not None:
        raise UserError(f"user: {login!r} exists already; use `mailintake user passwd {login}` to change it")
    user = User(login=login, password_hash=hash_password(password), role=role, disabled=False)
    session.add(user)
    record_action(session, actor, "user_added", detail=f"新建账号 {login}（{ROLE_LABELS[role]}）")
    return user


def set_password(session: Session, actor: Actor, login: str, password: str) -> User:
    user = _existing(session, login)
    user.password_hash = hash_password(password)
    user.disabled = False
    user.session_epoch = (user.session_epoch or 0) + 1
    record_action(session, actor, "user_password", detail=f"重设账号 {user.login} 的密码")
    return user


def change_own_password(session: Session, actor: Actor, user_id: int, current: str, new: str) -> User | None:
    """The signed-in user's own change; None when ``current`` is wrong. Other sessions of the account end."""
    user = session.get(User, user_id)
    if user is None or not verify_password(LoginAttempt(user.login, actor.origin, user.password_hash, user.id),
                                           current):
        return None
    user.password_hash = hash_password(new)
    user.session_epoch = (user.session_epoch or 0) + 1
    record_action(session, actor, "user_password", detail=f"修改本人账号 {user.login} 的密码")
    return user


def disable_user(session: Session, actor: Actor, login: str) -> User:
    user = _existing(session, login)
    user.disabled = True
    user.session_epoch = (user.session_epoch or 0) + 1
    record_action(session, actor, "user_disabled", detail=f"停用账号 {user.login}")
    return user


def end_sessions(session: Session, actor: Actor, user_id: int) -> None:
    """Log out: every session of this account ends (signed cookies cannot be recalled one by one)."""
    user = session.get(User, user_id)
    if user is not None:
        user.session_epoch = (user.session_epoch or 0) + 1
        record_action(session, actor, "logout", detail="退出登录")


def list_users(session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.login)).all()


@dataclass(frozen=True)
class LoginAttempt:
    """A reserved try: the typed login, where from, and the hash to verify against (a dummy when unknown)."""

    login: str
    origin: str
    password_hash: str
    user_id: int | None


def _typed(login: str) -> str:
    return login.strip()[:64] or "（空）"


def begin_login(session: Session, login: str, origin: str, now: dt.datetime | None = None) -> LoginAttempt | None:
    """Reserve a try (commits it); None when throttled — that refusal is audited and committed too."""
    now = now or utcnow()
    login = login.strip()[:64]
    if login_throttle.reserve(session, login, origin, now) is None:
        with session.begin():
            record_action(session, Actor(ANONYMOUS, origin), "login_throttled",
                          detail=f"登录失败次数过多，暂时拒绝登录（输入的账号：{_typed(login)}）")
        return None
    user = find_user(session, login) if login else None
    session.rollback()
    if user is None:
        return LoginAttempt(login, origin, _DUMMY_HASH, None)
    return LoginAttempt(login, origin, user.password_hash, user.id)


def verify_password(attempt: LoginAttempt, password: str) -> bool:
    """The argon2 check (no database; run few at once — each takes 64 MiB)."""
    try:
        return bool(_HASHER.verify(attempt.password_hash, password)) and attempt.user_id is not None
    except (VerificationError, InvalidHashError):
        return False


def finish_login(session: Session, attempt: LoginAttempt, password: str, verified: bool,
                 now: dt.datetime | None = None) -> LoginResult:
    """Record the outcome of a verified try; the caller commits."""
    now = now or utcnow()
    user = session.get(User, attempt.user_id) if attempt.user_id is not None else None
    if not verified or user is None or user.disabled:
        reason = "账号已停用" if verified and user is not None and user.disabled else "账号或密码错误"
        record_action(session, Actor(ANONYMOUS, attempt.origin), "login_failed",
                      detail=f"登录失败：{reason}（输入的账号：{_typed(attempt.login)}）")
        return LoginResult("bad")
    login_throttle.succeeded(session, attempt.login, attempt.origin)
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    user.last_login_at = now
    record_action(session, Actor(user.login, attempt.origin), "login", detail="登录成功")
    return LoginResult("ok", user)


def check_login(session: Session, login: str, password: str, origin: str,
                now: dt.datetime | None = None) -> LoginResult:
    """Reserve, verify and record a login in one call (the command line and tests; the console runs
    the steps itself, the password check outside the database). Commits the reservation; the caller
    commits the outcome."""
    attempt = begin_login(session, login, origin, now)
    if attempt is None:
        return LoginResult("throttled")
    return finish_login(session, attempt, password, verify_password(attempt, password), now)
