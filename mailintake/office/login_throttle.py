"""Login throttling: failures counted per (account, client address) and per client address.

Ten failures of one account from one address within 15 minutes, or twenty from one address across any
accounts, refuse further tries from there until they age out. A stranger elsewhere never locks a clerk
out. A try is *reserved* before its password is checked — a provisional failure row, written only if
both counts are under their limits — and the reservation is made under a process-wide lock, so sixty
parallel guesses get exactly ten checks; a successful login removes its reservation and the pair's
earlier failures.
"""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from mailintake.db.models import LoginFailure

PAIR_LIMIT = 10
ADDRESS_LIMIT = 20
WINDOW = dt.timedelta(minutes=15)
_RESERVE = threading.Lock()


def account_key(login: str) -> str:
    """Logins are compared without regard to case."""
    return login.strip().lower()[:64]


def _count(session: Session, since: dt.datetime, address: str, login: str | None = None) -> int:
    query = select(func.count()).select_from(LoginFailure).where(LoginFailure.address == address,
                                                                 LoginFailure.at >= since)
    if login is not None:
        query = query.where(LoginFailure.login == login)
    return int(session.scalar(query) or 0)


def reserve(session: Session, login: str, address: str, now: dt.datetime) -> int | None:
    """The id of a provisional failure row for this try, or None when the try is throttled.

    Commits the row at once (its own transaction), so concurrent tries see it."""
    key, address = account_key(login), address[:64]
    with _RESERVE:
        since = now - WINDOW
        if _count(session, since, address, key) >= PAIR_LIMIT or _count(session, since, address) >= ADDRESS_LIMIT:
            session.rollback()
            return None
        row = LoginFailure(login=key, address=address, at=now)
        session.add(row)
        session.commit()
        return row.id


def succeeded(session: Session, login: str, address: str) -> None:
    """A right password: the pair's failures (this try's reservation included) are forgotten."""
    session.execute(delete(LoginFailure).where(LoginFailure.login == account_key(login),
                                               LoginFailure.address == address[:64]))


def forget_before(session: Session, cutoff: dt.datetime) -> None:
    """Drop failures older than ``cutoff`` (they no longer count)."""
    session.execute(delete(LoginFailure).where(LoginFailure.at < cutoff))
