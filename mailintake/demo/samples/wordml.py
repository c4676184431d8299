"""Low-level WordprocessingML for the sample forms, where python-docx has no API: cells, content controls,
tracked changes, text boxes and fields."""

from __future__ import annotations

from collections.abc import Iterable

from docx.document import Document as DocumentObject
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.table import _Cell
from docx.text.paragraph import Paragraph
from lxml.etree import _Element


def split_lines(text: str) -> list[str]:
    return text.split("\n") if text else [""]


def fill_cell(cell: _Cell, lines: Iterable[str]) -> list[Paragraph]:
    """Replace a cell's content with one paragraph per line (what pressing Enter produces)."""
    lines = list(lines) or [""]
    cell.text = ""
    first = cell.paragraphs[0]
    paragraphs = [first]
    first.add_run(lines[0]) if lines[0] else None
    for line in lines[1:]:
        paragraph = cell.add_paragraph()
        if line:
            paragraph.add_run(line)
        paragraphs.append(paragraph)
    return paragraphs


def wrap(element: _Element, tag: str, **attrs: str) -> _Element:
    """Put ``element`` inside a new ``tag`` element at its place."""
    wrapper = OxmlElement(tag)
    for name, value in attrs.items():
        wrapper.set(qn(name), value)
    element.addprevious(wrapper)
    wrapper.append(element)
    return wrapper


def sdt(element: _Element, *, alias: str = "", placeholder: bool = False) -> _Element:
    """Wrap ``element`` (a paragraph, run, cell, row or table) in a content control."""
    sdt = OxmlElement("w:sdt")
    props = OxmlElement("w:sdtPr")
    if alias:
        alias_el = OxmlElement("w:alias")
        alias_el.set(qn("w:val"), alias)
        props.append(alias_el)
    ident = OxmlElement("w:id")
    ident.set(qn("w:val"), str(abs(hash((alias, id(element)))) % 100000000))
    props.append(ident)
    if placeholder:
        props.append(OxmlElement("w:showingPlcHdr"))
    sdt.append(props)
    content = OxmlElement("w:sdtContent")
    element.addprevious(sdt)
    content.append(element)
    sdt.append(content)
    return sdt


REVISION = {"w:author": "李静", "w:date": "2019-12-16T09:30:00Z"}
_rev_id = [100]


def next_id() -> str:
    _rev_id[0] += 1
    return str(_rev_id[0])


def wrap_runs(paragraph: Paragraph, tag: str, **attrs: str) -> _Element | None:
    """Move every run of the paragraph into one new ``tag`` element (w:ins, w:hyperlink, ...)."""
    runs = paragraph._p.findall(qn("w:r"))
    if not runs:
        return None
    wrapper = wrap(runs[0], tag, **attrs)
    for run in runs[1:]:
        wrapper.append(run)
    return wrapper


def deleted_run(paragraph: Paragraph, text: str, *, first: bool = False) -> None:
    """A tracked deletion: the text stays in the file as w:delText and must not be read."""
    deletion = OxmlElement("w:del")
    deletion.set(qn("w:id"), next_id())
    for name, value in REVISION.items():
        deletion.set(qn(name), value)
    run = OxmlElement("w:r")
    del_text = OxmlElement("w:delText")
    del_text.set(qn("xml:space"), "preserve")
    del_text.text = text
    run.append(del_text)
    deletion.append(run)
    if first:
        paragraph._p.insert(1 if paragraph._p.pPr is not None else 0, deletion)
    else:
        paragraph._p.append(deletion)


def tracked_fill(cell: _Cell, lines: list[str], deleted: str) -> None:
    """Values typed with track changes on, replacing the template text ``deleted``."""
    paragraphs = fill_cell(cell, lines)
    for paragraph in paragraphs:
        wrap_runs(paragraph, "w:ins", **{"w:id": next_id(), **REVISION})
    if deleted:
        deleted_run(paragraphs[0], deleted, first=True)


_EXTRA_NS = (
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
    'xmlns:v="urn:schemas-microsoft-com:vml"'
)


def text_box_paragraph(doc: DocumentObject, text: str) -> None:
    """A paragraph holding a text box, as Word 2010+ writes it: DrawingML in mc:Choice, VML in mc:Fallback."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;")
    inner = f'<w:p><w:r><w:t xml:space="preserve">{escaped}</w:t></w:r></w:p>'
    xml = (
        f'<w:r {nsdecls("w", "wp", "a")} {_EXTRA_NS}>'
        '<mc:AlternateContent><mc:Choice Requires="wps"><w:drawing>'
        '<wp:anchor distT="0" distB="0" distL="0" distR="0" simplePos="0" relativeHeight="1" behindDoc="0" '
        'locked="0" layoutInCell="1" allowOverlap="1"><wp:simplePos x="0" y="0"/>'
        '<wp:positionH relativeFrom="column"><wp:posOffset>0</wp:posOffset></wp:positionH>'
        '<wp:positionV relativeFrom="paragraph"><wp:posOffset>0</wp:posOffset></wp:positionV>'
        '<wp:extent cx="5400000" cy="400000"/><wp:wrapTopAndBottom/><wp:docPr id="1" name="文本框 1"/>'
        '<a:graphic><a:graphicData uri="http://schemas.microsoft.com/office/word/2010/wordprocessingShape">'
        f'<wps:wsp><wps:cNvSpPr txBox="1"/><wps:spPr/><wps:txbx><w:txbxContent>{inner}</w:txbxContent></wps:txbx>'
        '<wps:bodyPr/></wps:wsp></a:graphicData></a:graphic></wp:anchor></w:drawing></mc:Choice>'
        '<mc:Fallback><w:pict><v:shape id="文本框1" type="#_x0000_t202" style="width:425pt;height:31pt">'
        f'<v:textbox><w:txbxContent>{inner}</w:txbxContent></v:textbox></v:shape></w:pict></mc:Fallback>'
        "</mc:AlternateContent></w:r>"
    )
    paragraph = doc.add_paragraph()
    paragraph._p.append(parse_xml(xml))


def field_paragraph(paragraph: Paragraph, text: str) -> None:
    """Wrap the paragraph's runs in a simple field (a DATE field whose result is ``text``)."""
    wrap_runs(paragraph, "w:fldSimple", **{"w:instr": ' DATE \\@ "yyyy年M月d日" '})

