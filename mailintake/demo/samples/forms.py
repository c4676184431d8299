"""Generate filled-in application forms (表1–表4) the way applicants' tools produce them.

Built with python-docx and, where it has no API, raw WordprocessingML: real horizontal
(``gridSpan``) and vertical (``vMerge``) merges in the notice's layouts, content controls, tracked
changes, fields, hyperlinks, smart tags and text boxes. Each variant says which real-world
producer it imitates. Used by the tests, the demo and the benchmarks.

The content and variants are in :mod:`mailintake.demo.samples.form_data`, the layouts in
:mod:`mailintake.demo.samples.layouts`, the raw WordprocessingML in :mod:`mailintake.demo.samples.wordml`.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.text import WD_BREAK

from mailintake.demo.samples.form_data import (
    DATE_SHELL,
    DEFAULTS,
    OFFICE_BOX,
    TITLES,
    VARIANTS,
    FormSpec,
    filler,
    sample_fields,
)
from mailintake.demo.samples.layouts import FormWriter
from mailintake.demo.samples.wordml import split_lines

__all__ = [
    "DATE_SHELL", "DEFAULTS", "OFFICE_BOX", "TITLES", "VARIANTS", "FormSpec", "convert_with_soffice", "filler",
    "make_form_docx", "make_letter_docx", "make_multi_form_docx", "sample_fields",
]


def _new_document() -> DocumentObject:
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "宋体"
    doc.add_paragraph("附件1.“双争双创”活动先进荣誉申报表")
    return doc


def _save(doc: DocumentObject) -> bytes:
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def make_form_docx(table: int, fields: dict[str, str] | None = None, *, variant: str = "plain",
                   title: bool = True) -> bytes:
    """One filled-in form as .docx bytes. ``fields`` override DEFAULTS; "" leaves a box as in the template."""
    doc = _new_document()
    FormWriter(doc, FormSpec(table, fields, variant, title)).write()
    return _save(doc)


def make_multi_form_docx(specs: Iterable[FormSpec | tuple[int, dict[str, str] | None]], *,
                         page_breaks: bool = True) -> bytes:
    """Several forms in one document (e.g. 表2 and 表4), with or without page breaks between them."""
    doc = _new_document()
    for index, spec in enumerate(specs):
        if not isinstance(spec, FormSpec):
            spec = FormSpec(spec[0], spec[1])
        if index and page_breaks:
            doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        FormWriter(doc, spec).write()
    return _save(doc)


def make_letter_docx(text: str = "") -> bytes:
    """A readable Word document without any form (a cover letter)."""
    doc = Document()
    default = "王老师：\n您好！我单位申报材料已另行报送，请查收。\n苏州工业园区行政审批局\n2019年12月16日"
    for line in split_lines(text or default):
        doc.add_paragraph(line)
    table = doc.add_table(rows=2, cols=2)
    for (row, col), value in {(0, 0): "荣誉", (0, 1): "数量", (1, 0): "先进集体", (1, 1): "15个"}.items():
        table.cell(row, col).text = value
    return _save(doc)


def convert_with_soffice(docx_bytes: bytes, fmt: str, *, soffice: str | None = "auto") -> bytes | None:
    """The document re-saved by LibreOffice as ``fmt`` (doc, odt, rtf, docx); None without LibreOffice."""
    from parsers.convert import convert, resolve_soffice

    binary = resolve_soffice(soffice)
    if binary is None:
        return None
    return convert(docx_bytes, "docx", fmt, soffice=binary)


def split_form_table(docx_bytes: bytes, before: str | int, *, page_break: bool = True) -> bytes:
    """The document with its first table split in two before the first row whose first cell starts
    with ``before`` (e.g. "主", the 主要事迹 row), or before row number ``before`` — what Word writes
    when the user presses Ctrl+Enter (``page_break``: a page-break paragraph between the two tables)
    or Ctrl+Shift+Enter inside a table and the empty paragraph is then deleted (``page_break=False``:
    two ``w:tbl`` back to back). Both halves keep the table's properties and grid, as Word's do."""
    import copy

    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    doc = Document(io.BytesIO(docx_bytes))
    table = doc.tables[0]._tbl
    rows = table.findall(qn("w:tr"))
    first = before if isinstance(before, int) else next(
        i for i, tr in enumerate(rows) if "".join(tr.findall(qn("w:tc"))[0].itertext()).strip().startswith(before))
    second = OxmlElement("w:tbl")
    for child in (table.find(qn("w:tblPr")), table.find(qn("w:tblGrid"))):
        if child is not None:
            second.append(copy.deepcopy(child))
    for tr in rows[first:]:
        second.append(tr)  # moves the row
    table.addnext(second)
    if page_break:
        paragraph = OxmlElement("w:p")
        run = OxmlElement("w:r")
        brk = OxmlElement("w:br")
        brk.set(qn("w:type"), "page")
        run.append(brk)
        paragraph.append(run)
        table.addnext(paragraph)
    return _save(doc)
