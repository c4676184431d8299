"""A .docx as blocks: paragraphs and tables of cells in grid order, read straight from the XML.

python-docx misses text applicants' tools write (content controls, tracked insertions, fields,
hyperlinks, smart tags, text boxes) and returns a merged cell once per grid column and per merged
row. This walker reads the grid from ``gridSpan``/``vMerge`` so each cell appears once, reads
``w:ins`` and skips ``w:del``, takes ``mc:Choice`` (never the ``mc:Fallback`` copy) and skips
content-control placeholder text.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from lxml import etree

from parsers.safety import Limits, UnsafeFile, check_zip, parse_xml, read_member

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"
REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
#: Word's "Strict Open XML" save option: the same vocabulary under ISO namespaces
STRICT_W_NS = "http://purl.oclc.org/ooxml/wordprocessingml/main"
_OFFICE_DOCUMENT = "/officeDocument"


def _w(name: str) -> str:
    return f"{{{W_NS}}}{name}"


P, TBL, TR, TC, SDT, SDT_CONTENT = _w("p"), _w("tbl"), _w("tr"), _w("tc"), _w("sdt"), _w("sdtContent")
T, TAB, BR, CR, TXBX = _w("t"), _w("tab"), _w("br"), _w("cr"), _w("txbxContent")
NO_BREAK_HYPHEN, PTAB = _w("noBreakHyphen"), _w("ptab")
ALTERNATE, CHOICE = f"{{{MC_NS}}}AlternateContent", f"{{{MC_NS}}}Choice"
VAL = _w("val")

#: elements whose content is never visible text of the current version
_SKIP = frozenset(
    _w(name)
    for name in (
        "pPr", "rPr", "tblPr", "tblGrid", "trPr", "tcPr", "sdtPr", "sdtEndPr", "del", "moveFrom",
        "delText", "delInstrText", "instrText", "fldChar", "sectPr", "footnoteReference",
        "endnoteReference", "commentReference", "annotationRef", "bookmarkStart", "bookmarkEnd",
        "proofErr", "lastRenderedPageBreak", "tblPrEx", "rPrChange", "pPrChange",
    )
)
#: wrappers whose children are read as if they were in their place
_TRANSPARENT = frozenset(_w(n) for n in ("ins", "moveTo", "customXml", "smartTag", "hyperlink", "fldSimple", "dir",
                                          "bdo"))


@dataclass
class Paragraph:
    """One paragraph's visible text (tabs and line breaks kept as \\t and \\n)."""

    text: str


@dataclass
class Cell:
    """One table cell, once, however many grid columns and rows it spans."""

    row: int
    col: int
    colspan: int = 1
    rowspan: int = 1
    blocks: list[Block] = field(default_factory=list)
    #: a ``vMerge`` continuation with nothing above it in its table: the rest of a cell that a split
    #: of the table cut in two (:func:`join_tables` puts it back)
    merged_up: bool = False

    @property
    def text(self) -> str:
        return blocks_text(self.blocks)


@dataclass
class Table:
    """Rows of cells; a vertically merged cell is listed only in the row where it starts."""

    rows: list[list[Cell]]

    def cells(self) -> Iterator[Cell]:
        for row in self.rows:
            yield from row

    @property
    def text(self) -> str:
        return "\n".join("\t".join(cell.text for cell in row) for row in self.rows)


Block = Paragraph | Table


def blocks_text(blocks: list[Block]) -> str:
    return "\n".join(block.text for block in blocks)


def _placeholder_sdt(sdt: etree._Element) -> bool:
    """A content control still showing its prompt text ("单击或点击此处输入文字。")."""
    props = sdt.find(_w("sdtPr"))
    return props is not None and props.find(_w("showingPlcHdr")) is not None


def _choice(alternate: etree._Element) -> etree._Element | None:
    return alternate.find(CHOICE)


def _inline(element: etree._Element, out: list[str], extra: list[Block]) -> None:
    for child in element:
        tag = child.tag
        if not isinstance(tag, str) or tag in _SKIP:
            continue
        if tag == T:
            out.append(child.text or "")
        elif tag in (TAB, PTAB):
            out.append("\t")
        elif tag in (BR, CR):
            out.append("\n")
        elif tag == NO_BREAK_HYPHEN:
            out.append("-")
        elif tag == TXBX:
            extra.extend(read_blocks(child))
        elif tag == ALTERNATE:
            choice = _choice(child)
            if choice is not None:
                _inline(choice, out, extra)
        elif tag == SDT:
            content = child.find(SDT_CONTENT)
            if content is not None and not _placeholder_sdt(child):
                _inline(content, out, extra)
        elif tag == P:  # a paragraph where runs belong (malformed but seen): keep its text
            out.append("\n")
            _inline(child, out, extra)
        else:
            _inline(child, out, extra)


def _paragraph(element: etree._Element, blocks: list[Block]) -> None:
    out: list[str] = []
    extra: list[Block] = []
    _inline(element, out, extra)
    blocks.append(Paragraph("".join(out)))
    blocks.extend(extra)


def read_blocks(container: etree._Element) -> list[Block]:
    """Paragraphs and tables of a body, cell, text box or content control, in document order."""
    blocks: list[Block] = []
    for child in container:
        tag = child.tag
        if not isinstance(tag, str) or tag in _SKIP:
            continue
        if tag == P:
            _paragraph(child, blocks)
        elif tag == TBL:
            blocks.append(_table(child))
        elif tag == SDT:
            content = child.find(SDT_CONTENT)
            if content is not None and not _placeholder_sdt(child):
                blocks.extend(read_blocks(content))
        elif tag == ALTERNATE:
            choice = _choice(child)
            if choice is not None:
                blocks.extend(read_blocks(choice))
        elif tag in _TRANSPARENT:
            blocks.extend(read_blocks(child))
    return blocks


def _unwrap(container: etree._Element, wanted: str) -> Iterator[etree._Element]:
    """Children with tag ``wanted``, looking through content controls and custom XML around them."""
    for child in container:
        tag = child.tag
        if tag == wanted:
            yield child
        elif tag == SDT:
            content = child.find(SDT_CONTENT)
            if content is not None:
                yield from _unwrap(content, wanted)
        elif tag in (_w("customXml"), _w("ins"), _w("moveTo")):
            yield from _unwrap(child, wanted)
        elif tag == ALTERNATE:
            choice = _choice(child)
            if choice is not None:
                yield from _unwrap(choice, wanted)


def _int_prop(props: etree._Element | None, name: str, default: int) -> int:
    if props is None:
        return default
    node = props.find(_w(name))
    if node is None:
        return default
    try:
        return max(int(node.get(VAL, default)), 0)
    except ValueError:
        return default


def _merge_state(props: etree._Element | None, name: str) -> str | None:
    """'restart', 'continue' or None for w:vMerge / w:hMerge (a bare element means continue)."""
    if props is None:
        return None
    node = props.find(_w(name))
    if node is None:
        return None
    return node.get(VAL, "continue")


def _row_deleted(row: etree._Element) -> bool:
    props = row.find(_w("trPr"))
    return props is not None and props.find(_w("del")) is not None


def _table(element: etree._Element) -> Table:
    rows: list[list[Cell]] = []
    owners: dict[int, Cell] = {}  # grid column -> cell occupying it in the previous row
    row_index = 0
    for tr in _unwrap(element, TR):
        if _row_deleted(tr):
            continue
        col = _int_prop(tr.find(_w("trPr")), "gridBefore", 0)
        row: list[Cell] = []
        for tc in _unwrap(tr, TC):
            props = tc.find(_w("tcPr"))
            if props is not None and props.find(_w("cellDel")) is not None:
                continue
            span = max(_int_prop(props, "gridSpan", 1), 1)
            blocks = read_blocks(tc)
            vmerge = _merge_state(props, "vMerge")
            hmerge = _merge_state(props, "hMerge")
            origin = owners.get(col)
            if vmerge == "continue" and origin is not None and origin.row < row_index:
                origin.rowspan = row_index - origin.row + 1
                origin.blocks.extend(b for b in blocks if b.text.strip())
                cell = origin
            elif hmerge == "continue" and row:
                cell = row[-1]
                cell.colspan += span
                cell.blocks.extend(b for b in blocks if b.text.strip())
            else:
                cell = Cell(row=row_index, col=col, colspan=span, blocks=blocks,
                            merged_up=vmerge == "continue" and origin is None)
                row.append(cell)
            for offset in range(span):
                owners[col + offset] = cell
            col += span
        rows.append(row)
        row_index += 1
    return Table(rows)


def join_tables(first: Table, second: Table) -> Table:
    """One grid from a table and the table that continues it (Word splits a table in two at a page
    break or an Enter in the wrong place): the second's rows follow the first's, and a cell the split
    cut in two (``vMerge`` continued at the top of the second) is one cell again. Neither input changes."""
    offset = len(first.rows)
    rows = [[replace(cell, blocks=list(cell.blocks)) for cell in row] for row in first.rows]
    bottom = {cell.col: cell for row in rows for cell in row if cell.row + cell.rowspan == offset}
    for row in second.rows:
        joined: list[Cell] = []
        for cell in row:
            above = bottom.get(cell.col)
            if cell.merged_up and cell.row == 0 and above is not None and above.colspan == cell.colspan:
                above.rowspan += cell.rowspan
                above.blocks.extend(b for b in cell.blocks if b.text.strip())
                continue
            joined.append(replace(cell, row=cell.row + offset, merged_up=False))
        rows.append(joined)
    return Table(rows)


def _main_part(archive: zipfile.ZipFile, limits: Limits) -> str:
    """The main document part named by _rels/.rels (usually word/document.xml)."""
    names = set(archive.namelist())
    if "_rels/.rels" in names:
        rels = parse_xml(read_member(archive, "_rels/.rels", limits))
        for rel in rels.iter(f"{{{REL_NS}}}Relationship"):
            if (rel.get("Type") or "").endswith(_OFFICE_DOCUMENT):
                target = posixpath.normpath((rel.get("Target") or "").lstrip("/"))
                if target in names:
                    return target
    if "word/document.xml" in names:
        return "word/document.xml"
    raise UnsafeFile("文件已损坏或不完整，缺少正文部件")


def _strict_to_transitional(root: etree._Element) -> None:
    """Rename Strict (ISO 29500 strict) WordprocessingML elements and attributes to the transitional
    namespace in place, so one reader serves both."""
    strict, transitional = f"{{{STRICT_W_NS}}}", f"{{{W_NS}}}"
    for element in root.iter():
        tag = element.tag
        if isinstance(tag, str) and tag.startswith(strict):
            element.tag = transitional + tag[len(strict):]
        for key in [k for k in element.attrib if k.startswith(strict)]:
            element.attrib[transitional + key[len(strict):]] = element.attrib.pop(key)


def read_docx(data: bytes, limits: Limits | None = None) -> list[Block]:
    """Blocks of a .docx body. Raises UnsafeFile (with a Chinese reason) for broken or hostile files."""
    limits = limits or Limits()
    reason = check_zip(data, limits)
    if reason is not None:
        raise UnsafeFile(reason)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise UnsafeFile("文件已损坏或不完整") from exc
    with archive:
        root = parse_xml(read_member(archive, _main_part(archive, limits), limits))
    if root.tag == f"{{{STRICT_W_NS}}}document":
        _strict_to_transitional(root)
    body = root.find(_w("body"))
    if body is None:
        raise UnsafeFile("文件已损坏或不完整，缺少正文")
    return read_blocks(body)
