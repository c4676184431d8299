"""The hand-off: the candidate list per table, and its two documents written into a temporary folder."""

from __future__ import annotations

import tempfile
from pathlib import Path

from sqlalchemy.orm import Session

from mailintake.campaign.sources import Sources
from mailintake.config.settings import Settings
from mailintake.office.ballot import write_ballot
from mailintake.office.candidates import TableList
from mailintake.office.handoff import BALLOT_NAME, WORKBOOK_NAME, candidate_lists, write_workbook

#: what the console offers for download: name -> (file name, writer, media type)
DOCUMENTS = {
    "workbook": (WORKBOOK_NAME, write_workbook, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "ballot": (BALLOT_NAME, write_ballot, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
}


def handoff_lists(session: Session, settings: Settings, sources: Sources) -> list[TableList]:
    return candidate_lists(session, settings, sources)


def handoff_document(session: Session, settings: Settings, sources: Sources, which: str) -> bytes:
    """The bytes of one document (``which`` in DOCUMENTS), made now in a temporary folder."""
    name, writer, _ = DOCUMENTS[which]
    lists = candidate_lists(session, settings, sources)
    with tempfile.TemporaryDirectory(prefix="mailintake-handoff-") as folder:
        return writer(lists, settings, Path(folder) / name).read_bytes()
