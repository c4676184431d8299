"""Raw RFC 5322 bytes -> ParsedMail, in one parse, never raising.

The stdlib parser (compat32, so raw header text is kept) builds the tree once. mail-parser reads
the address headers — its structural recovery handles the odd From lines real clients send — and
the charset repair layer in ``headers`` decodes every name, subject and filename it hands back.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32

from mailparser.utils import get_addresses

from mailintake.mail.archives import ArchiveLimits, Budget
from mailintake.mail.attachments import walk
from mailintake.mail.classify import automatic_reason
from mailintake.mail.headers import clean_text, decode_header, recover_raw
from mailintake.mail.model import ParsedMail
from parsers.records import Flag

#: address headers longer than this are cut before mail-parser sees them
MAX_ADDRESS_HEADER = 8192
_HEADERS = frozenset({"message-id", "from", "sender", "reply-to", "subject", "date"})
_ADDRESS = re.compile(r"[^\s<>()\",;:@\x00-\x1f\x7f]+@[^\s<>()\",;:@\x00-\x1f\x7f]+")
_MSGID = re.compile(r"<([^<>\s]{1,900})>")


def synthetic_message_id(raw: bytes) -> str:
    """A stable Message-ID for a mail that has none: the content hash decides it."""
    return f"<{hashlib.sha256(raw).hexdigest()[:32]}@mailintake.invalid>"


def _first_headers(message: Message) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in message.raw_items():
        name = key.lower()
        if name in _HEADERS and name not in found:
            found[name] = str(value)
    return found


def _message_id(value: str | None, raw: bytes) -> str:
    if value:
        text = clean_text(recover_raw(value[:2000]), limit=1000)
        match = _MSGID.search(text)
        if match:
            return f"<{match.group(1)}>"
        bare = text.strip("<> ")
        if bare and " " not in bare and len(bare) <= 900:
            return f"<{bare}>"
    return synthetic_message_id(raw)


def _addresses(value: str | None) -> list[tuple[str, str]]:
    """(decoded display name, lowercase address) pairs; mail-parser splits, headers.py decodes."""
    if not value:
        return []
    text = recover_raw(value[:MAX_ADDRESS_HEADER]).replace("\r", " ").replace("\n", " ")
    try:
        pairs = get_addresses(text)
    except Exception:  # a third-party parser on hostile input: fall back to a plain scan
        pairs = []
    result = []
    for name, address in pairs:
        address = clean_text(address, limit=320).lower()
        if "@" not in address:
            continue
        display = decode_header(name, limit=200).strip('"\' ')
        result.append(("" if display.lower() == address else display, address))
    if not result:
        result = [("", match.lower()) for match in _ADDRESS.findall(text)[:50]]
    return result


def _read(raw: bytes, own_addresses: Collection[str], limits: ArchiveLimits) -> ParsedMail:
    flags: list[Flag] = []
    parser = BytesParser(policy=compat32)
    try:
        message = parser.parsebytes(raw)
        nested_ok = True
    except RecursionError:
        message = parser.parsebytes(raw, headersonly=True)
        nested_ok = False
        flags.append(Flag("unreadable", "邮件结构嵌套过深，无法读取正文和附件，请重新发送。"))
    heads = _first_headers(message)
    senders = _addresses(heads.get("from")) or _addresses(heads.get("sender"))
    from_name, from_addr = senders[0] if senders else ("", "")
    reply_to = list(dict.fromkeys(address for _, address in _addresses(heads.get("reply-to"))))
    mail = ParsedMail(
        message_id=_message_id(heads.get("message-id"), raw),
        from_addr=from_addr,
        from_name=from_name,
        subject=decode_header(heads.get("subject"), limit=1000),
        reply_to=reply_to,
        date_header=clean_text(recover_raw(heads.get("date", "")[:400]), limit=200),
        automatic_reason=automatic_reason(message, from_addr=from_addr, own_addresses=own_addresses),
    )
    budget = Budget(limits)
    if nested_ok:
        result = walk(message, budget)
        mail.body_text = result.body_text
        flags.extend(result.flags)
    mail.attachments = budget.files
    mail.flags = flags + budget.flags
    return mail


def read_mail(raw: bytes, *, own_addresses: Collection[str] = frozenset(),
              limits: ArchiveLimits | None = None) -> ParsedMail:
    """Read one raw mail. Never raises: what cannot be read becomes a Flag on the result."""
    raw = bytes(raw)
    try:
        return _read(raw, own_addresses, limits or ArchiveLimits())
    except Exception as exc:  # last line of defence: a mail must be recorded, never lost
        return ParsedMail(
            message_id=synthetic_message_id(raw),
            from_addr="",
            from_name="",
            subject="",
            flags=[Flag("unreadable", f"邮件无法解析（{type(exc).__name__}），已记录原件，请重新发送。")],
        )
