"""An Outlook item (.msg) attached to a mail — an applicant's mail dragged from Outlook into a new one.

It is read like a forwarded message/rfc822 part, through extract-msg: its files (and the files of the
items inside it) become candidates named ``item.msg/file.docx``, within the same bounds as archives
(members, bytes, depth). The sender, subject and body are read, so damage there is found too; like a
forwarded mail's, the body is not the mail's own. The caller (``archives``) keeps the .msg itself on
the record, names the members and expands what they hold; this module imports nothing of it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

from mailintake.mail.headers import clean_text
from parsers.records import Flag

#: adds one file found inside the item by its name there; False once the mail's cap is reached
AddFile = Callable[[str, bytes], bool]


class _Limits(Protocol):
    @property
    def max_members(self) -> int: ...
    @property
    def max_member_bytes(self) -> int: ...


class Allowance(Protocol):
    """What is left of the mail's allowance (``archives.Budget``)."""

    flags: list[Flag]
    bytes_left: int

    @property
    def limits(self) -> _Limits: ...


def damaged(name: str) -> Flag:
    return Flag("unreadable", f"附件“{name}”（Outlook 邮件项目）已损坏，无法读取，"
                              f"请将其中的附件直接添加到新邮件中发送。")


def _member_damaged(name: str, member: str) -> Flag:
    return Flag("unreadable", f"附件“{name}”（Outlook 邮件项目）中的“{member}”已损坏，无法读取，请直接发送该文件。")


def _open(data: bytes) -> Any:
    import extract_msg
    from extract_msg.enums import ErrorBehavior

    # a broken or unsupported attachment becomes an object of its own (flagged below), not an exception
    tolerate = (ErrorBehavior.ATTACH_NOT_IMPLEMENTED | ErrorBehavior.ATTACH_BROKEN
                | ErrorBehavior.CUSTOM_ATTACH_TOLERANT | ErrorBehavior.RTFDE_MALFORMED
                | ErrorBehavior.RTFDE_UNKNOWN_ERROR | ErrorBehavior.STANDARDS_VIOLATION)
    return extract_msg.openMsg(data, strict=False, errorBehavior=tolerate)


def _member_name(attachment: Any, index: int) -> str:
    for attribute in ("longFilename", "shortFilename", "displayName", "name"):
        try:
            value = getattr(attachment, attribute, None)
        except Exception:  # a damaged name stream
            value = None
        if isinstance(value, str) and value.strip("\x00 "):
            return clean_text(value.strip("\x00 "), limit=255)
    return f"未命名文件{index}"


def _embedded(attachment: Any) -> bool:
    from extract_msg.enums import AttachmentType

    return getattr(attachment, "type", None) == AttachmentType.MSG


def _content(attachment: Any) -> bytes | None:
    """The attachment's bytes (an embedded item re-written as a .msg of its own), None when unreadable."""
    from extract_msg.enums import AttachmentType

    kind = getattr(attachment, "type", None)
    if kind == AttachmentType.DATA:
        data = attachment.data
        return data if isinstance(data, bytes) else None
    if kind == AttachmentType.MSG:
        # allowBadEmbed: some writers give an embedded item a top-level property header; extract-msg fixes it
        return bytes(attachment.data.exportBytes(allowBadEmbed=True))
    return None


def expand_msg(name: str, data: bytes, budget: Allowance, add: AddFile) -> Flag | None:
    """Hand each file of the Outlook item ``name`` to ``add``. Returns why the item as a whole could not be
    read (kept on the record with that reason), else None; a damaged file inside is flagged on its own."""
    try:
        item = _open(data)
    except Exception:  # extract-msg and olefile raise many types on damaged input
        return damaged(name)
    try:
        # read like a forwarded mail's headers and body: a damaged property stream shows here
        _ = (item.sender, item.subject, item.body)
        attachments = list(item.attachments)
        if len(attachments) > budget.limits.max_members:
            return Flag("unreadable", f"附件“{name}”中的文件超过 {budget.limits.max_members} 个，"
                                      f"已拒绝处理，请直接发送 Word 申报表。")
        for index, attachment in enumerate(attachments, start=1):
            member = _member_name(attachment, index)
            if _embedded(attachment) and not member.lower().endswith(".msg"):
                member += ".msg"  # an item inside an item is named by its subject
            try:
                content = _content(attachment)
            except Exception:  # one broken attachment spoils only itself
                content = None
            if content is None:
                budget.flags.append(_member_damaged(name, member))
                continue
            if len(content) > budget.limits.max_member_bytes or len(content) > budget.bytes_left:
                return Flag("unreadable", f"附件“{name}”中的“{member}”超出大小限制，已拒绝处理，"
                                          f"请直接发送 Word 申报表。")
            budget.bytes_left -= len(content)
            if not add(member, content):
                break
        return None
    except Exception:
        logging.getLogger(__name__).info("Outlook item %s is damaged", name, exc_info=True)
        return damaged(name)
    finally:
        with contextlib.suppress(Exception):  # closing a damaged file may fail as well
            item.close()
