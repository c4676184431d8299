"""Tell automatic mail (bounces, auto-replies, lists, our own) from a person's: it is never answered.

The one source of truth for "automatic": the mail reader asks :func:`automatic_reason` about a whole
mail, the outbox asks :func:`machine_address` about the address it is about to write to.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from email.message import Message

from mailintake.mail.headers import decode_header, recover_raw

#: local parts (lower case, without "-", "_" and ".") that never read their mail
_MACHINE_LOCALS = frozenset({"mailerdaemon", "maildaemon", "postmaster", "bounce", "bounces", "nobody", "daemon"})
_MACHINE_PREFIXES = ("noreply", "donotreply", "doreply", "nreply", "mailerdaemon", "bounce+", "bounces+")
_DAEMON_NAMES = frozenset({"mailerdaemon", "maildaemon", "postmaster", "mailsystem"})
_BULK = frozenset({"bulk", "list", "junk"})
_LIST_HEADERS = ("list-id", "list-unsubscribe", "list-post", "list-help", "list-subscribe", "list-owner",
                 "list-archive")
#: vendor markers of auto-replies: generic, Apple iCloud (vacation), Exchange/Outlook (OOF rules)
_AUTOREPLY_HEADERS = ("x-autoreply", "x-autorespond", "x-autoresponder", "x-apple-action",
                      "x-auto-response-suppress", "x-ms-exchange-inbox-rules-loop")
#: mailing-list servers (fml's loop alerts to a list's -admin address, Mailman)
_LIST_SERVER_HEADERS = ("x-mlserver", "x-ml-name", "x-mailman-version")
#: the subjects auto-replies get from 163, QQ, Exchange, iCloud, Gmail and others
_AUTOREPLY_WORDS = (r"(?:auto(?:matic)?[\s_-]*(?:reply|response|respons|answer)|autoreply|out\s+of\s+(?:the\s+)?office"
                    r"|vacation\s+(?:reply|response)|自动回复|自動回覆|自動回復|自动答复|自动应答|假期自动回复|休假自动回复)")
_AUTOREPLY_SUBJECT = re.compile(
    rf"^\s*(?:[\[【(（]\s*{_AUTOREPLY_WORDS}\s*[\]】)）]|{_AUTOREPLY_WORDS}\s*[:：])", re.IGNORECASE)
_WANTED = frozenset({"from", "return-path", "auto-submitted", "precedence", "subject", *_LIST_HEADERS,
                     *_AUTOREPLY_HEADERS, *_LIST_SERVER_HEADERS})


def machine_address(addr: str) -> str | None:
    """What kind of machine ``addr`` belongs to ("退信地址", "自动地址", "邮件列表地址"), or None."""
    local = addr.lower().split("@", 1)[0]
    squashed = local.replace("-", "").replace("_", "").replace(".", "")
    if squashed in _MACHINE_LOCALS or squashed.startswith(_MACHINE_PREFIXES):
        return "自动地址"
    if local.endswith(("-request", "-bounces")) or local.startswith("owner-"):
        return "邮件列表地址"
    return None


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
    if sender and sender.split("@", 1)[0].replace("-", "").replace("_", "") in _DAEMON_NAMES:
        return f"退信（发件人 {sender}）"
    if not sender and _display_name(heads.get("from") or "") in _DAEMON_NAMES:
        return "退信（发件人 MAILER-DAEMON，地址为空）"
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
    subject = decode_header(heads.get("subject"), limit=200)
    if _AUTOREPLY_SUBJECT.match(subject):
        return f"自动回复（主题“{subject[:40]}”）"
    if sender and sender in {a.lower() for a in own_addresses}:
        return "本邮箱自己发出的邮件"
    for name in _LIST_SERVER_HEADERS:
        if name in heads:
            return f"邮件列表（含 {name.title()} 头）"
    return None


def _display_name(value: str) -> str:
    """The display name of a From value, squashed like a local part (``MAILER-DAEMON <>`` -> mailerdaemon)."""
    name = value.split("<", 1)[0] if "<" in value else value
    return name.strip().strip('"').lower().replace("-", "").replace("_", "").replace(" ", "")
