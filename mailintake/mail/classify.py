"""Tell automatic mail (bounces, auto-replies, lists, our own) from a person's: it is never answered."""

from __future__ import annotations

from collections.abc import Collection
from email.message import Message

from mailintake.mail.headers import recover_raw

_DAEMON_LOCALPARTS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"})
_BULK = frozenset({"bulk", "list", "junk"})
_LIST_HEADERS = ("list-id", "list-unsubscribe", "list-post", "list-help", "list-subscribe", "list-owner",
                 "list-archive")
_AUTOREPLY_HEADERS = ("x-autoreply", "x-autorespond", "x-autoresponder")
_WANTED = frozenset({"from", "return-path", "auto-submitted", "precedence", *_LIST_HEADERS, *_AUTOREPLY_HEADERS})


def _first_values(message: Message) -> dict[str, str]:
    """The first value of each header this module looks at, in one pass."""
    found: dict[str, str] = {}
    for key, value in message.raw_items():
        name = key.lower()
        if name in _WANTED and name not in found:
            found[name] = recover_raw(str(value)).strip()
    return found


def _address_of(value: str) -> str:
    start, end = value.rfind("<"), value.rfind(">")
    if 0 <= start < end:
        return value[start + 1 : end].strip().lower()
    return value.split("(", 1)[0].strip().strip('"').lower()


def automatic_reason(message: Message, *, from_addr: str | None = None,
                     own_addresses: Collection[str] = frozenset()) -> str | None:
    """Why ``message`` was sent by a machine, in a short Chinese phrase, or None for a person's mail.

    ``from_addr`` is the already-parsed sender (lowercase); when None it is taken from the From header.
    """
    heads = _first_values(message)
    content_type = message.get_content_type()
    if content_type == "multipart/report" or content_type == "message/delivery-status":
        return f"退信（{content_type}）"
    sender = from_addr if from_addr is not None else _address_of(heads.get("from") or "")
    if sender.split("@", 1)[0] in _DAEMON_LOCALPARTS:
        return f"退信（发件人 {sender}）"
    return_path = heads.get("return-path")
    if return_path is not None and return_path.replace(" ", "") == "<>":
        return "退信（Return-Path 为空）"
    auto_submitted = heads.get("auto-submitted")
    if auto_submitted and auto_submitted.split(";", 1)[0].strip().lower() != "no":
        return f"自动发送（Auto-Submitted: {auto_submitted.split(';', 1)[0].strip()}）"
    precedence = heads.get("precedence", "").lower()
    if precedence in _BULK:
        return f"群发邮件（Precedence: {precedence}）"
    for name in _LIST_HEADERS:
        if name in heads:
            return f"邮件列表（含 {name.title()} 头）"
    for name in _AUTOREPLY_HEADERS:
        if name in heads:
            return f"自动回复（含 {name.title()} 头）"
    if sender and sender in {a.lower() for a in own_addresses}:
        return "本邮箱自己发出的邮件"
    return None
