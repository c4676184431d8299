"""Where a download's bytes are, looked up by database id only (nothing from the request is a path)."""

from __future__ import annotations

from pathlib import PurePosixPath

from sqlalchemy.orm import Session

from mailintake.db.models import AttachmentRow, Message, Report


def attachment_file(session: Session, pk: int) -> tuple[str, str] | None:
    """(storage path, decoded file name) of an attachment."""
    row = session.get(AttachmentRow, pk)
    if row is None or row.storage_path is None:
        return None
    return row.storage_path, PurePosixPath(row.path.replace("\\", "/")).name or f"attachment-{pk}"


def raw_mail_file(session: Session, pk: int) -> str | None:
    message = session.get(Message, pk)
    return message.raw_path if message is not None else None


def report_files(session: Session, pk: int) -> Report | None:
    return session.get(Report, pk)
