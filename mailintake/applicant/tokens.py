"""One status-page token per sender address: derived, never stored, found by its hash.

token = base64url(HMAC-SHA256(K, "<address>\\n<epoch>")[:24]) — 192 bits, 32 characters — where K is
an HMAC of ``[web] secret_key`` with a fixed label (so the token never equals a session key's use).
The same address gets the same token in every reply; nobody without the secret can compute it; the
database keeps only SHA-256(token), so a copy of the database does not reveal any link. ``revoke``
raises the address's epoch: the old link answers 404 and the next reply carries a new one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailintake.config.settings import Settings
from mailintake.db.models import ApplicantToken

TOKEN_BYTES = 24
TOKEN_CHARS = 32
_LABEL = b"mailintake applicant status page v1"
_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32}$")


def normalise(address: str) -> str:
    """The key of an address: trimmed, lower-cased (QQ and 163 addresses are case-insensitive)."""
    return address.strip().strip("<>").strip().lower()


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), _LABEL, hashlib.sha256).digest()


def derive(secret: str, address: str, epoch: int) -> str:
    digest = hmac.new(_key(secret), f"{normalise(address)}\n{epoch}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:TOKEN_BYTES]).decode("ascii")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def well_formed(token: str) -> bool:
    return bool(_SHAPE.match(token))


def issue(session: Session, settings: Settings, address: str) -> str:
    """The address's current token, recording its hash on first use (in the caller's transaction)."""
    key = normalise(address)
    row = session.scalars(select(ApplicantToken).where(ApplicantToken.address == key)).first()
    if row is None:
        row = ApplicantToken(address=key, epoch=0, token_hash="")
        session.add(row)
    token = derive(settings.web.secret_key, key, row.epoch)
    if row.token_hash != token_hash(token):  # new, or the secret was changed: the old link stops working
        row.token_hash = token_hash(token)
        session.flush()
    return token


def revoke(session: Session, settings: Settings, address: str) -> bool:
    """Invalidate the address's link (the next reply carries a new one); False when it never had one."""
    key = normalise(address)
    row = session.scalars(select(ApplicantToken).where(ApplicantToken.address == key)).first()
    if row is None:
        return False
    row.epoch += 1
    row.token_hash = token_hash(derive(settings.web.secret_key, key, row.epoch))
    session.flush()
    return True


def address_of(session: Session, token: str) -> str | None:
    """The address a token belongs to, or None (malformed, unknown, revoked)."""
    if not well_formed(token):
        return None
    return session.scalar(select(ApplicantToken.address).where(ApplicantToken.token_hash == token_hash(token)))


def status_line(session: Session, settings: Settings, address: str | None) -> str | None:
    """The one line every mail to an applicant carries, or None when the pages are off (or no address)."""
    if not settings.web.applicant_url or not address:
        return None
    token = issue(session, settings, address)
    return f"申报材料办理情况（收件、识别结果、需修改事项、截止时间）可随时查看：{settings.web.applicant_url}/s/{token}"


def append_line(text: str, line: str | None) -> str:
    """``text`` ending with the status-page line (after a blank line), or unchanged without one."""
    return text.rstrip("\n") + "\n\n" + line + "\n" if line else text
