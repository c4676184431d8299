"""Who gets an automatic reply, and making anything from a mail safe to put in a header.

Nothing read from a mail or a form reaches a header directly: text goes through
:func:`header_text` (no CR/LF, no control characters, length capped) and addresses through
:func:`parse_address`, which accepts exactly one plain ``local@domain`` — a display name or an
address carrying commas, angle brackets or line breaks can never add a recipient.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import getaddresses

from mailintake.mail.classify import machine_address
from mailintake.util.addresses import valid_address

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_BARE_BREAK = re.compile(r"[\r\n](?![ \t\r\n])")
_SPACES = re.compile(r"\s{2,}")
_EMAIL_IN_TEXT = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+")



def header_text(value: object, limit: int = 200) -> str:
    """One safe line of header text: line breaks and control characters become spaces, length capped."""
    text = _CONTROL.sub(" ", str(value or ""))
    return _SPACES.sub(" ", text).strip()[:limit]


def parse_address(value: object) -> tuple[str, str] | None:
    """(display name, address) of the FIRST address in ``value``, or None when it is not a valid one.

    Only the first address is ever used: ``a@x.cn, b@y.cn`` yields ``a@x.cn`` alone.
    """
    raw = str(value or "")
    if not raw.strip():
        return None
    # a line break not followed by white space is not folding but a smuggled header: refuse it
    if _BARE_BREAK.search(raw):
        return None
    flat = _CONTROL.sub(" ", raw)
    pairs = getaddresses([flat])
    if not pairs:
        return None
    name, addr = pairs[0]
    addr = addr.strip()
    if not valid_address(addr):
        return None
    return header_text(name, 100), addr.lower()


def machine_reason(addr: str, own_addresses: Iterable[str] = ()) -> str | None:
    """Why ``addr`` must never get an automatic reply (our own, noreply-like, a daemon), else None."""
    lowered = addr.lower()
    if lowered in {a.lower() for a in own_addresses}:
        return f"recipient {lowered} is our own address"
    kind = machine_address(lowered)
    if kind == "自动地址":
        return f"recipient {lowered} is an automatic address"
    if kind is not None:
        return f"recipient {lowered} is a mailing-list address"
    return None


@dataclass(frozen=True)
class Recipient:
    """The chosen recipient, or why there is none (``address`` empty then)."""

    name: str
    address: str
    refused: str | None = None


def choose_recipient(reply_to: object, from_addr: str, from_name: str, own_addresses: Iterable[str]) -> Recipient:
    """Reply-To when it holds a valid address, else From; refused when that address is a machine or ours."""
    own = list(own_addresses)
    entries: list[object] = list(reply_to) if isinstance(reply_to, list | tuple) else [reply_to] if reply_to else []
    for entry in entries:
        if isinstance(entry, dict):
            entry = entry.get("address") or entry.get("addr") or ""
        elif isinstance(entry, list | tuple):
            entry = entry[-1] if entry else ""
        parsed = parse_address(entry)
        if parsed is not None:
            name, addr = parsed
            reason = machine_reason(addr, own)
            return Recipient(name, addr, reason)
    parsed = parse_address(from_addr)
    if parsed is None:
        shown = header_text(from_addr, 80) or "(empty)"
        return Recipient("", "", f"no valid sender address ({shown})")
    _, addr = parsed
    return Recipient(header_text(from_name, 100), addr, machine_reason(addr, own))


def email_in_text(text: object) -> str | None:
    """The first valid e-mail address written in free text (e.g. 表1's 联系方式), lower-cased."""
    for match in _EMAIL_IN_TEXT.finditer(str(text or "")):
        candidate = match.group(0).strip(".")
        if valid_address(candidate):
            return candidate.lower()
    return None
