"""What the mail reader hands to the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field

from parsers.records import Flag


@dataclass
class Attachment:
    """One file taken from a mail, or from an archive inside it.

    ``path`` is the display path: the attachment's filename, or ``archive.zip/dir/member.docx``
    for archive members. Never used as a filesystem path.
    """

    path: str
    data: bytes
    content_type: str = "application/octet-stream"
    inline: bool = False
    #: the real format, sniffed from the bytes (``parsers.sniff.detect_format``)
    format: str = ""


@dataclass
class ParsedMail:
    """A mail read from raw bytes, with headers repaired and attachments unpacked."""

    message_id: str
    from_addr: str
    from_name: str
    subject: str
    reply_to: list[str] = field(default_factory=list)
    date_header: str = ""
    #: why the mail is automatic (bounce, auto-reply, list...) or None for a person's mail
    automatic_reason: str | None = None
    body_text: str = ""
    #: candidate form files: archives already expanded, inline images/logos dropped
    attachments: list[Attachment] = field(default_factory=list)
    #: problems met while reading (bad archive, unsupported archive type, limits hit...)
    flags: list[Flag] = field(default_factory=list)
