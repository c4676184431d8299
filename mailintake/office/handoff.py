"""The hand-off after the deadline: the candidate list per table, and the files made from it.

A candidate is a current submission that is on time without a blocking flag, or accepted by an office
decision, and not withdrawn. ``write_handoff`` writes the 公示名单 workbook, the 民主测评票 Word
document and a copy of every candidate's original Word file, one folder per table; file names are
made from the unit and person after sanitising, and the bytes come from the content-addressed store.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mailintake.campaign.decisions import counts_as_candidate, latest_decisions
from mailintake.campaign.roster import UNMATCHED
from mailintake.campaign.sources import Sources
from mailintake.config.settings import Settings
from mailintake.db.labels import flag_codes
from mailintake.db.models import Submission
from mailintake.db.storage import Storage
from mailintake.db.vocabulary import MailStatus
from mailintake.errors import StorageError
from mailintake.office.candidates import Candidate, TableList
from mailintake.util.spreadsheet import guard_cell

WORKBOOK_NAME = "公示名单.xlsx"
BALLOT_NAME = "民主测评票.docx"
ORIGINALS_DIR = "申报原件"
_WORD_FORMATS = {"docx", "docm", "doc", "wps", "rtf", "odt"}
_UNSAFE = re.compile(r"[^\w\-()（）·]+")
_NAME_LIMIT = 60


def project_name(text: str) -> str:
    """The project's name from 表1's 参评项目（单位）名称和简介: its first line up to the first 。/：."""
    first = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    for mark in ("。", "：", ":"):
        first = first.split(mark, 1)[0]
    return first.strip()[:_NAME_LIMIT]


def candidate_lists(session: Session, settings: Settings, sources: Sources) -> list[TableList]:
    """Per table of the forms: every candidate, by 附件2 category, then arrival."""
    subs = list(session.scalars(
        select(Submission).where(Submission.current.is_(True))
        .options(selectinload(Submission.message), selectinload(Submission.attachment))
        .order_by(Submission.received_at, Submission.id)
    ))
    decided = latest_decisions(session, [s.id for s in subs])
    order = (*sources.roster.categories, UNMATCHED)
    lists: list[TableList] = []
    for definition in sources.forms.tables:
        try:
            quota_text = sources.quotas.get(definition.table).total_text
        except KeyError:
            quota_text = ""
        chosen = []
        for sub in subs:
            late = sub.message.status == MailStatus.late or "late" in flag_codes(sub.flags)
            if sub.table_no == definition.table and counts_as_candidate(flag_codes(sub.flags), late,
                                                                         decided.get(sub.id)):
                unit = sources.roster.match(sub.unit or "")
                category = unit.category if unit is not None else UNMATCHED
                chosen.append((order.index(category), sub, unit.name if unit else (sub.unit or "").strip(), category))
        chosen.sort(key=lambda item: item[0])
        table = TableList(definition.table, definition.name, definition.title, quota_text)
        for seq, (_, sub, unit_name, category) in enumerate(chosen, start=1):
            fields = {k: "" if v is None else str(v) for k, v in (sub.fields or {}).items()}
            person = fields.get("name", "").strip()
            table.candidates.append(Candidate(
                seq=seq, table=sub.table_no, submission_id=sub.id, name=person or unit_name, unit=unit_name,
                position=fields.get("unit_and_title", "").strip(),
                project=project_name(fields.get("project", "")) if sub.table_no == 1 else "",
                category=category, decision=decided.get(sub.id),
                storage_path=sub.attachment.storage_path if sub.attachment is not None else None,
                file_format=(sub.attachment.format if sub.attachment is not None else "") or "",
            ))
        lists.append(table)
    return lists


def safe_name(text: str) -> str:
    """A file-name part from text typed by an applicant: letters, digits and a few marks only."""
    cleaned = _UNSAFE.sub("_", unicodedata.normalize("NFKC", text or "")).strip("_.")
    return cleaned[:_NAME_LIMIT] or "未命名"


def table_folder(table: TableList) -> str:
    return safe_name(f"表{table.table}{table.name}")


def original_name(candidate: Candidate) -> str:
    parts = [f"{candidate.seq:02d}", candidate.unit]
    if candidate.name != candidate.unit:
        parts.append(candidate.name)
    if candidate.project:
        parts.append(candidate.project)
    extension = candidate.file_format if candidate.file_format in _WORD_FORMATS else "bin"
    return "_".join(safe_name(p) for p in parts) + f".{extension}"


def write_workbook(lists: list[TableList], settings: Settings, path: Path) -> Path:
    """公示名单: one sheet per table (序号, 单位或姓名, 所在单位及职务, 项目名称 for 表1), A4 portrait."""
    wb = Workbook()
    wb.remove(wb.active)
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for table in lists:
        ws = wb.create_sheet(f"表{table.table} {table.name}"[:31])
        headers = ["序号", "单位或姓名", "所在单位及职务"] + (["项目名称"] if table.table == 1 else [])
        ws.append([f"{settings.campaign.name.removesuffix('申报')}{table.name}候选对象名单（共{len(table.candidates)}个）"])
        ws["A1"].font = Font(bold=True, size=14)
        ws.append(headers)
        for candidate in table.candidates:
            row = [candidate.seq, candidate.name, candidate.position]
            ws.append(row + ([candidate.project] if table.table == 1 else []))
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                guard_cell(cell)  # a 姓名 of =HYPERLINK(...) stays text
                cell.border = border
                cell.alignment = Alignment(wrap_text=True, vertical="center")
        for letter, width in zip("ABCD", (8, 30, 36, 40), strict=False):
            ws.column_dimensions[letter].width = width
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.print_title_rows = "2:2"
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def copy_originals(lists: list[TableList], settings: Settings, out_dir: Path) -> tuple[list[Path], list[str]]:
    """Each candidate's Word file into ``out_dir/申报原件/<表N名称>/``; returns the files and what was missing."""
    storage = Storage(settings.path(settings.storage.dir))
    written: list[Path] = []
    missing: list[str] = []
    for table in lists:
        folder = out_dir / ORIGINALS_DIR / table_folder(table)
        folder.mkdir(parents=True, exist_ok=True)
        for candidate in table.candidates:
            target = folder / original_name(candidate)
            try:
                if candidate.storage_path is None:
                    raise StorageError("not stored")
                data = storage.get(candidate.storage_path)
            except (OSError, StorageError):
                missing.append(f"表{table.table} {candidate.seq:02d} {candidate.name}"
                               f"（记录 {candidate.submission_id}）")
                continue
            target.write_bytes(data)
            written.append(target)
    return written, missing


def write_handoff(session: Session, settings: Settings, sources: Sources, out_dir: Path) -> list[Path]:
    """Write the 公示名单 workbook, the 民主测评票 and the originals under ``out_dir``; return every file."""
    from mailintake.office.ballot import write_ballot  # python-docx only when a hand-off is written

    lists = candidate_lists(session, settings, sources)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [write_workbook(lists, settings, out_dir / WORKBOOK_NAME),
             write_ballot(lists, settings, out_dir / BALLOT_NAME)]
    originals, missing = copy_originals(lists, settings, out_dir)
    paths += originals
    if missing:
        note = out_dir / ORIGINALS_DIR / "缺少原件.txt"
        lines = ["以下候选对象的原始文件未能从存储中取出，请从邮箱中查找：", *missing]
        note.write_text("\n".join(lines) + "\n", "utf-8")
        paths.append(note)
    return paths
