"""Console accounts: add, list, change a password, disable, and check a login — each audited.

Passwords are hashed with argon2id (argon2-cffi) and never stored or logged. Failed logins are
recorded in the audit trail; ten for one account within 15 minutes throttle it until they age out.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailintake.db.audit import Actor, record_action
from mailintake.db.models import AuditEntry, User, utcnow
from mailintake.errors import MailintakeError

ROLES = ("clerk", "viewer")
ROLE_LABELS = {"clerk": "经办人", "viewer": "查看人"}
MIN_PASSWORD = 8
MAX_FAILURES = 10
FAILURE_WINDOW = dt.timedelta(minutes=15)
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


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"user: the password needs at least {MIN_PASSWORD} characters; choose a longer one")
    return _HASHER.hash(password)


def find_user(session: Session, login: str) -> User | None:
    return session.scalars(select(User).where(User.login == login.strip())).first()


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


def recent_failures(session: Session, login: str, now: dt.datetime) -> int:
    return int(session.scalar(
        select(func.count()).select_from(AuditEntry)
        .where(AuditEntry.actor == login, AuditEntry.action == "login_failed", AuditEntry.at >= now - FAILURE_WINDOW)
    ) or 0)


def check_login(session: Session, login: str, password: str, origin: str,
                now: dt.datetime | None = None) -> LoginResult:
    """Verify a login and record it (success, failure or throttled); the caller commits."""
    now = now or utcnow()
    login = login.strip()[:64]
    actor = Actor(name=login or "（空）", origin=origin)
    if recent_failures(session, actor.name, now) >= MAX_FAILURES:
        record_action(session, actor, "login_throttled", detail="登录失败次数过多，暂时拒绝登录")
        return LoginResult("throttled")
    user = find_user(session, login) if login else None
    try:
        _HASHER.verify(user.password_hash if user is not None else _DUMMY_HASH, password)
        valid = user is not None and not user.disabled
    except (VerificationError, InvalidHashError):
        valid = False
    if not valid or user is None:
        reason = "账号已停用" if user is not None and user.disabled else "账号或密码错误"
        record_action(session, actor, "login_failed", detail=f"登录失败：{reason}")
        return LoginResult("bad")
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    user.last_login_at = now
    record_action(session, actor, "login", detail="登录成功")
    return LoginResult("ok", user)
