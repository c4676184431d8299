"""The hand-off: the candidate list per table, and its two documents written into a temporary folder."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from sqlalchemy.orm import Session

from mailintake.campaign.sources import Sources
from mailintake.config.settings import Settings
from mailintake.office.ballot import write_ballot
from mailintake.office.candidates import TableList
from mailintake.office.handoff import (
    BALLOT_NAME,
    WORKBOOK_NAME,
    candidate_lists,
    write_handoff,
    write_workbook,
)

#: what the console offers for download: name -> (file name, writer, media type)
DOCUMENTS = {
    "workbook": (WORKBOOK_NAME, write_workbook, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "ballot": (BALLOT_NAME, write_ballot, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
}


ZIP_NAME = "名单移交.zip"


def handoff_lists(session: Session, settings: Settings, sources: Sources) -> list[TableList]:
    return candidate_lists(session, settings, sources)


def over_places(lists: list[TableList], sources: Sources) -> list[str]:
    """A warning line per table and category whose candidates exceed the 附件2 places."""
    warnings: list[str] = []
    for table in lists:
        try:
            honour = sources.quotas.get(table.table)
        except KeyError:
            continue
        if honour.total is not None and len(table.candidates) > honour.total:
            warnings.append(f"表{table.table} {table.name}：候选 {len(table.candidates)} 个，名额 {honour.total} 个。")
        per: dict[str, int] = {}
        for candidate in table.candidates:
            per[candidate.category] = per.get(candidate.category, 0) + 1
        for category, count in per.items():
            place = honour.quota(category)
            if place is not None and place.quota is not None and count > place.quota:
                warnings.append(f"表{table.table} {category}：候选 {count} 个，名额 {place.quota} 个。")
    return warnings


def handoff_zip(session: Session, settings: Settings, sources: Sources) -> bytes:
    """One zip of the whole hand-off (公示名单.xlsx, 民主测评票.docx, the originals by table and unit)."""
    with tempfile.TemporaryDirectory(prefix="mailintake-handoff-") as folder:
        root = Path(folder) / "out"
        paths = write_handoff(session, settings, sources, root)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in paths:
                archive.write(path, path.relative_to(root).as_posix())
        return buffer.getvalue()


def handoff_document(session: Session, settings: Settings, sources: Sources, which: str) -> bytes:
    """The bytes of one document (``which`` in DOCUMENTS), made now in a temporary folder."""
    name, writer, _ = DOCUMENTS[which]
    lists = candidate_lists(session, settings, sources)
    with tempfile.TemporaryDirectory(prefix="mailintake-handoff-") as folder:
        return writer(lists, settings, Path(folder) / name).read_bytes()
