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
    #: why the file is kept unread: an archive that could not be opened (then never parsed)
    flags: list[Flag] = field(default_factory=list)
    #: the other names the same bytes had in this mail (attached twice: one file, one form)
    other_names: list[str] = field(default_factory=list)
    #: kept as it came, never parsed: an Outlook item (.msg) whose own files are the candidates
    container: bool = False

    @property
    def junk(self) -> bool:
        """An archiver's or Word's by-product (``__MACOSX/``, ``._x``, ``.DS_Store``, ``~$x.docx``...):
        kept in the record, never parsed, flagged or asked about."""
        return is_junk_path(self.path)


#: file names archivers and Word leave behind
_JUNK_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini", "ehthumbs.db", ".localized"})


def is_junk_path(path: str) -> bool:
    """True for ``__MACOSX/`` members, AppleDouble ``._*`` files, Finder/Explorer metadata and
    Word's owner files ``~$*`` — at any depth of an archive path."""
    parts = [part for part in path.replace("\\", "/").split("/") if part]
    if not parts:
        return False
    if any(part.lower() == "__macosx" for part in parts[:-1]):
        return True
    name = parts[-1]
    return name.lower() in _JUNK_NAMES or name.startswith(("._", "~$"))


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
