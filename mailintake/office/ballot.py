"""The 民主测评票: a printable A4 Word document (python-docx), one ballot table per honour.

Per table: 序号, the candidate, 同意 / 不同意 / 弃权 columns to tick, then one box per evaluator category
of the campaign (``[campaign] evaluators``: 局领导, 处室负责人, …). A 民主测评 ballot is anonymous (无记名):
what weighs is who evaluates, never their name, so there is no signature line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from mailintake.config.settings import Settings
from mailintake.office.candidates import Candidate, TableList

if TYPE_CHECKING:
    from docx.document import Document as DocumentObject

FONT = "宋体"
#: the box an evaluator ticks beside their category
BOX = "□"
HEADERS = ("序号", "候选对象", "同意", "不同意", "弃权")
WIDTHS_MM = (15, 105, 20, 20, 20)
#: row height: room to tick by hand
ROW_MM = 10


def _a4(document: DocumentObject) -> None:
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Mm(20)
    section.top_margin = section.bottom_margin = Mm(20)
    style = document.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(12)
    style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)


def candidate_label(candidate: Candidate) -> str:
    """What the voter reads: the unit (and project for 表1), or the person and where they work."""
    if candidate.table in (3, 4):
        where = candidate.position or candidate.unit
        return f"{candidate.name}（{where}）" if where else candidate.name
    return f"{candidate.name}（{candidate.project}）" if candidate.project else candidate.name


def _ballot(document: DocumentObject, settings: Settings, table: TableList) -> None:
    title = document.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run(f"{settings.campaign.name.removesuffix('申报')}民主测评票")
    run.bold = True
    run.font.size = Pt(16)
    subtitle = document.add_paragraph()
    subtitle.alignment = WD_ALIGN_PARAGRAPH.CENTER
    subtitle.add_run(f"（{table.name}）").bold = True
    quota = f"，{table.quota_text}" if table.quota_text else ""
    document.add_paragraph(f"候选对象共{len(table.candidates)}个{quota}。本票无记名填写，请在每个候选对象的"
                           "“同意”“不同意”“弃权”中选择一栏划“√”，只能选择一栏。")
    grid = document.add_table(rows=1, cols=len(HEADERS))
    grid.style = "Table Grid"
    grid.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(grid.rows[0].cells, HEADERS, strict=True):
        cell.text = text
        cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
        cell.paragraphs[0].runs[0].bold = True
    for candidate in table.candidates:
        cells = grid.add_row().cells
        cells[0].text = str(candidate.seq)
        cells[1].text = candidate_label(candidate)
        cells[0].paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
    grid.autofit = False
    for column, width in zip(grid.columns, WIDTHS_MM, strict=True):
        column.width = Mm(width)
    for row in grid.rows:
        row.height = Mm(ROW_MM)
        for cell, width in zip(row.cells, WIDTHS_MM, strict=True):
            cell.width = Mm(width)
            cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    if not table.candidates:
        document.add_paragraph("（本项无候选对象）")
    document.add_paragraph()
    if settings.campaign.evaluators:
        document.add_paragraph("测评人类别（请在相应方框内划“√”）：")
        document.add_paragraph("　　".join(f"{BOX}{category}" for category in settings.campaign.evaluators))


def write_ballot(lists: list[TableList], settings: Settings, path: Path) -> Path:
    """One ballot per table, each starting on a new page."""
    document = Document()
    _a4(document)
    for index, table in enumerate(lists):
        if index:
            document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        _ballot(document, settings, table)
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path
