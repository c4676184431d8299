"""Generate filled-in application forms (表1–表4) the way applicants' tools produce them.

Built with python-docx and, where it has no API, raw WordprocessingML: real horizontal
(``gridSpan``) and vertical (``vMerge``) merges in the notice's layouts, content controls, tracked
changes, fields, hyperlinks, smart tags and text boxes. Each variant says which real-world
producer it imitates. Used by the tests, the demo and the benchmarks.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.text import WD_BREAK
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph
from lxml.etree import _Element

TITLES = {1: "改革创新标兵单位申报表", 2: "为民服务工作先进集体申报表", 3: "窗口服务明星申报表", 4: "先进工作者申报表"}
DATE_SHELL = "年   月   日"
OFFICE_BOX = ["苏州市行政审批局（盖章）", DATE_SHELL]

#: realistic default content per table (keys as parsers return them)
DEFAULTS: dict[int, dict[str, str]] = {
    1: {
        "unit": "苏州工业园区行政审批局",
        "contact": "李静 0512-66681234",
        "project": "“一窗通办、集成服务”改革\n将企业开办涉及的营业执照、公章刻制、税务发票等事项整合为一个窗口受理。",
        "recognition": "2019年获评江苏省政务服务改革优秀案例，《新华日报》专题报道。",
        "summary": "全面推行“一表申请、一窗受理、一网通办”，企业开办时间由5个工作日压缩至0.5个工作日，"
                   "全年办件12.6万件，群众满意率99.8%。",
        "unit_opinion": "同意推荐。",
        "date": "2019年12月16日",
    },
    2: {
        "date": "2019年12月16日",
        "unit": "吴江区便民服务中心",
        "deeds": "中心坚持“一站式”服务理念，推行帮办代办和延时服务，全年受理事项8.3万件，按时办结率100%。\n"
                 "设立“办不成事”反映窗口，群众满意度达99.6%。",
    },
    3: {
        "date": "2019年12月17日",
        "name": "王晓雯",
        "unit_and_title": "苏州市行政审批局政务服务大厅 综合窗口受理员",
        "deeds": "扎根窗口一线五年，累计受理业务2.1万件，零差错、零投诉。\n主动推行“预约+延时”服务，"
                 "被评为2019年度“群众最满意窗口工作人员”。",
        "recommender": "苏州市行政审批局政务服务处",
    },
    4: {
        "date": "2019年12月18日",
        "name": "陈志远",
        "unit_and_title": "昆山市政务服务中心 审批科科长",
        "deeds": "牵头建设“不见面审批”系统，网上办理率由62%提高到95%，平均审批时限缩短40%。\n"
                 "全年组织业务培训12场，带出一支业务过硬的审批队伍。",
        "recommender": "昆山市行政审批局",
    },
}

#: what each variant imitates (also the list of valid ``variant`` names)
VARIANTS: dict[str, str] = {
    "plain": "Word/WPS typed into the notice's template: one paragraph per line, real merged cells.",
    "sdt": "A template with Word content controls (开发工具 → 格式文本内容控件): block and inline controls, "
           "a control around a cell, a row and the whole table, an untouched control still showing its prompt.",
    "tracked": "Word with 修订 (track changes) on: values as w:ins, placeholders and an old value as w:del.",
    "label_cell": "Applicants who type the value into the label cell after the label (申报单位（盖章）：苏州…).",
    "no_title": "A copy whose 表N title line was deleted.",
    "placeholders": "Placeholders left in or partly deleted ((可另附), 可另附）, （盖章, 年 月 日 shells).",
    "broken_labels": "Labels re-typed with spaces, line breaks, half-width brackets and colons.",
    "rich": "Word 2010+ documents with fields (fldSimple), hyperlinks, smart tags (Word 2003), a text box "
            "(mc:AlternateContent with a VML fallback copy) and a nested table inside a value cell.",
}


@dataclass
class FormSpec:
    """One form to put into a document."""

    table: int
    fields: dict[str, str] | None = None
    variant: str = "plain"
    title: bool = True
    extra: dict[str, object] = field(default_factory=dict)


def sample_fields(table: int, fields: dict[str, str] | None = None) -> dict[str, str]:
    """Defaults for ``table`` overridden by ``fields`` ("" leaves a box empty)."""
    merged = dict(DEFAULTS[table])
    merged.update(fields or {})
    return merged


def filler(count: int, *, start: int = 0) -> str:
    """Chinese narrative text of exactly ``count`` 字 (one 字 per character, no spaces)."""
    base = "窗口坚持以人民为中心的发展思想深化放管服改革持续优化营商环境提升群众办事体验"
    text = (base * (count // len(base) + 2))[start:start + count]
    return text


# ---------------------------------------------------------------------------------------------
# low-level WordprocessingML helpers


def _lines(text: str) -> list[str]:
    return text.split("\n") if text else [""]


def _fill_cell(cell: _Cell, lines: Iterable[str]) -> list[Paragraph]:
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


def _wrap(element: _Element, tag: str, **attrs: str) -> _Element:
    """Put ``element`` inside a new ``tag`` element at its place."""
    wrapper = OxmlElement(tag)
    for name, value in attrs.items():
        wrapper.set(qn(name), value)
    element.addprevious(wrapper)
    wrapper.append(element)
    return wrapper


def _sdt(element: _Element, *, alias: str = "", placeholder: bool = False) -> _Element:
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


_REVISION = {"w:author": "李静", "w:date": "2019-12-16T09:30:00Z"}
_rev_id = [100]


def _next_id() -> str:
    _rev_id[0] += 1
    return str(_rev_id[0])


def _wrap_runs(paragraph: Paragraph, tag: str, **attrs: str) -> _Element | None:
    """Move every run of the paragraph into one new ``tag`` element (w:ins, w:hyperlink, ...)."""
    runs = paragraph._p.findall(qn("w:r"))
    if not runs:
        return None
    wrapper = _wrap(runs[0], tag, **attrs)
    for run in runs[1:]:
        wrapper.append(run)
    return wrapper


def _deleted_run(paragraph: Paragraph, text: str, *, first: bool = False) -> None:
    """A tracked deletion: the text stays in the file as w:delText and must not be read."""
    deletion = OxmlElement("w:del")
    deletion.set(qn("w:id"), _next_id())
    for name, value in _REVISION.items():
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


def _tracked_fill(cell: _Cell, lines: list[str], deleted: str) -> None:
    """Values typed with track changes on, replacing the template text ``deleted``."""
    paragraphs = _fill_cell(cell, lines)
    for paragraph in paragraphs:
        _wrap_runs(paragraph, "w:ins", **{"w:id": _next_id(), **_REVISION})
    if deleted:
        _deleted_run(paragraphs[0], deleted, first=True)


_EXTRA_NS = (
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
    'xmlns:v="urn:schemas-microsoft-com:vml"'
)


def _text_box_paragraph(doc: DocumentObject, text: str) -> None:
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


def _field_paragraph(paragraph: Paragraph, text: str) -> None:
    """Wrap the paragraph's runs in a simple field (a DATE field whose result is ``text``)."""
    _wrap_runs(paragraph, "w:fldSimple", **{"w:instr": ' DATE \\@ "yyyy年M月d日" '})


# ---------------------------------------------------------------------------------------------
# the four layouts


class _Writer:
    """Writes one form into a document in a given variant."""

    def __init__(self, doc: DocumentObject, spec: FormSpec) -> None:
        if spec.variant not in VARIANTS:
            raise ValueError(f"unknown variant {spec.variant!r}; choose from {', '.join(VARIANTS)}")
        self.doc = doc
        self.spec = spec
        self.variant = spec.variant
        self.values = sample_fields(spec.table, spec.fields)

    # labels -----------------------------------------------------------------------------------
    def label(self, text: str) -> list[str]:
        """Label paragraphs; broken_labels re-types them as applicants do."""
        if self.variant == "broken_labels":
            broken = {
                "参评项目（单位）名称和简介": ["参评项目(单位)", "名称和简介："],
                "该项目获奖、领导批示或媒体报道情况": ["该项目获奖、领导批示", "或媒体报道情况:"],
                "改革创新项目概述及成效简介": ["改革创新项目概述", "及成效简介"],
                "申报单位意见": ["申 报 单 位", "意 见"],
                "申报单位": ["申报单位:"],
                "姓名": ["姓　　名"],
                "所在单位及职务": ["所在单位", "及职务："],
                "主要事迹": ["主要事迹："],
            }
            return broken.get(text, text.split("\n"))
        return text.split("\n")

    # values -----------------------------------------------------------------------------------
    def put(self, cell: _Cell, key: str, *, template: list[str] | None = None, after: list[str] | None = None,
            before: list[str] | None = None) -> None:
        """Write a field value into a cell, wrapped the way the variant's producer does it.

        ``template`` is the template text of the cell (kept when the value is empty), ``before`` and
        ``after`` are template lines the applicant left around the value.
        """
        value = self.values.get(key, "")
        template = template or [""]
        if not value:
            _fill_cell(cell, template)
            return
        lines = [*(before or []), *_lines(value), *(after or [])]
        if self.variant == "placeholders":
            lines = [*(before or []), *_lines(value), *template]
        if self.variant == "tracked":
            _tracked_fill(cell, lines, deleted="（可另附）" if "（可另附）" in template else "待填写")
            return
        paragraphs = _fill_cell(cell, lines)
        if self.variant == "sdt":
            if key in ("deeds", "summary", "project"):
                for paragraph in paragraphs:  # block-level controls around each paragraph
                    _sdt(paragraph._p, alias=key)
            else:  # inline control around the runs
                for paragraph in paragraphs:
                    runs = paragraph._p.findall(qn("w:r"))
                    if runs:
                        control = _sdt(runs[0], alias=key)
                        content = control.find(qn("w:sdtContent"))
                        for run in runs[1:]:
                            content.append(run)
        elif self.variant == "rich" and key in ("recognition", "unit_and_title"):
            for paragraph in paragraphs:  # Word turns typed addresses and pasted links into these
                _wrap_runs(paragraph, "w:hyperlink", **{"w:anchor": "_Ref1", "w:history": "1"})
        elif self.variant == "rich" and key in ("name", "unit"):
            for paragraph in paragraphs:
                _wrap_runs(paragraph, "w:smartTag", **{"w:uri": "urn:schemas-microsoft-com:office:smarttags",
                                                      "w:element": "PersonName"})

    def label_cell(self, cell: _Cell, label: str, key: str, *, suffix: str = "：") -> bool:
        """For the label_cell variant: type the value into the label cell. True when done."""
        value = self.values.get(key, "")
        if self.variant != "label_cell" or not value:
            return False
        first, *rest = _lines(value)
        _fill_cell(cell, [f"{label}{suffix}{first}", *rest])
        return True

    def title(self) -> None:
        if self.spec.title and self.variant != "no_title":
            self.doc.add_paragraph(f"表{self.spec.table}.{TITLES[self.spec.table]}")

    def date_line(self) -> None:
        date = self.values.get("date", "")
        paragraph = self.doc.add_paragraph()
        if not date:
            paragraph.add_run(f"        {DATE_SHELL}")
        elif self.variant == "rich":
            paragraph.add_run(date)
            _field_paragraph(paragraph, date)
        elif self.variant == "tracked":
            paragraph.add_run(date)
            _wrap_runs(paragraph, "w:ins", **{"w:id": _next_id(), **_REVISION})
            _deleted_run(paragraph, DATE_SHELL, first=True)
        else:
            paragraph.add_run(f"        {date}")

    # tables -----------------------------------------------------------------------------------
    def write(self) -> Table:
        self.title()
        builder: Callable[[], Table] = {1: self.table1, 2: self.table2, 3: self.table34, 4: self.table34}[
            self.spec.table]
        table = builder()
        if self.variant == "sdt":
            self._sdt_structure(table)
        if self.spec.table != 1:  # Word always keeps a paragraph after a table (表1 has its note there)
            self.doc.add_paragraph()
        return table

    def _sdt_structure(self, table: Table) -> None:
        """Content controls around a cell, a row and the whole table (repeating-section templates)."""
        rows = table._tbl.findall(qn("w:tr"))
        cells = rows[0].findall(qn("w:tc"))
        _sdt(cells[-1], alias="cell")
        _sdt(rows[-1], alias="row")
        _sdt(table._tbl, alias="table")

    def _add_table(self, rows: int, cols: int) -> Table:
        table = self.doc.add_table(rows=rows, cols=cols)
        table.style = "Table Grid"
        return table

    def table1(self) -> Table:
        unit, contact = self.values.get("unit", ""), self.values.get("contact", "")
        line = f"申报单位：{unit}                    联系方式：{contact}"
        if self.variant == "rich":
            _text_box_paragraph(self.doc, line)
        elif self.variant == "tracked" and (unit or contact):
            paragraph = self.doc.add_paragraph("申报单位：")
            inserted = paragraph.add_run(unit)
            _wrap(inserted._r, "w:ins", **{"w:id": _next_id(), **_REVISION})
            paragraph.add_run("                    联系方式：")
            inserted = paragraph.add_run(contact)
            _wrap(inserted._r, "w:ins", **{"w:id": _next_id(), **_REVISION})
        else:
            self.doc.add_paragraph(line)
        table = self._add_table(5, 2)
        rows = [
            ("参评项目（单位）名称和简介", "project", [""]),
            ("该项目获奖、领导批示或媒体报道情况", "recognition", [""]),
            ("改革创新项目概述及成效简介", "summary", ["（可另附）", "", ""]),
        ]
        for index, (label, key, template) in enumerate(rows):
            label_cell = table.cell(index, 0)
            if not self.label_cell(label_cell, label, key):
                _fill_cell(label_cell, self.label(label))
                self.put(table.cell(index, 1), key, template=template)
            else:
                _fill_cell(table.cell(index, 1), template)
            if self.variant == "sdt" and key == "recognition" and not self.values.get(key):
                paragraph = table.cell(index, 1).paragraphs[0]
                paragraph.add_run("单击或点击此处输入文字。")
                _sdt(paragraph._p, alias="recognition", placeholder=True)
        _fill_cell(table.cell(3, 0), self.label("申报单位意见"))
        opinion = self.values.get("unit_opinion", "")
        date = self.values.get("date", "")
        unit_line = f"申报单位（盖章）：{unit}" if unit and self.variant != "placeholders" else "申报单位（盖章）："
        opinion_lines = [*_lines(opinion), f"             {unit_line}", f"       日期：{date}"]
        if self.variant == "tracked":
            _tracked_fill(table.cell(3, 1), opinion_lines, deleted="")
        else:
            _fill_cell(table.cell(3, 1), opinion_lines)
        _fill_cell(table.cell(4, 0), ["领导小组意见"])
        _fill_cell(table.cell(4, 1), ["              苏州市行政审批局（盖章）", DATE_SHELL])
        self.doc.add_paragraph("注：填写要简明扼要，如填写不下，可单独附页。")
        return table

    def table2(self) -> Table:
        self.date_line()
        table = self._add_table(4, 2)
        unit_label = table.cell(0, 0)
        if self.label_cell(unit_label, "申报单位（盖章）", "unit"):
            _fill_cell(table.cell(0, 1), ["                   （盖章）"])
        else:
            _fill_cell(unit_label, self.label("申报单位"))
            self.put(table.cell(0, 1), "unit", template=["                   （盖章）"], after=["（盖章）"])
        label = table.cell(1, 0).merge(table.cell(2, 0))  # 主要事迹 merged down over two rows
        if not self.label_cell(label, "主要事迹", "deeds"):
            _fill_cell(label, ["主", "", "要", "", "事", "", "迹"] if self.variant != "broken_labels"
                       else ["主 要", "事 迹："])
            self.put(table.cell(1, 1), "deeds")
        self._deeds_extra(table.cell(1, 1))
        _fill_cell(table.cell(2, 1), ["（可另附）"] if self.variant != "placeholders" else ["可另附）"])
        _fill_cell(table.cell(3, 0), ["领导小组", "", "意见"])
        _fill_cell(table.cell(3, 1), OFFICE_BOX)
        return table

    def _deeds_extra(self, cell: _Cell) -> None:
        """rich: a small nested table of figures inside the 主要事迹 cell."""
        if self.variant != "rich":
            return
        nested = cell.add_table(rows=2, cols=2)
        for (row, col), text in {(0, 0): "指标", (0, 1): "2019年", (1, 0): "办件量", (1, 1): "12.6万件"}.items():
            _fill_cell(nested.cell(row, col), [text])
        cell.add_paragraph("")

    def table34(self) -> Table:
        self.date_line()
        table = self._add_table(5, 4)
        # row 0: 姓名 | … | 所在单位及职务 | …
        name_label = table.cell(0, 0)
        if self.label_cell(name_label, "姓名", "name"):
            _fill_cell(table.cell(0, 1), [""])
        else:
            _fill_cell(name_label, self.label("姓名"))
            self.put(table.cell(0, 1), "name")
        _fill_cell(table.cell(0, 2), self.label("所在单位及职务"))
        self.put(table.cell(0, 3), "unit_and_title")
        # rows 1-2: 主要事迹 merged down; value merged across three columns in each row
        label = table.cell(1, 0).merge(table.cell(2, 0))
        deeds = table.cell(1, 1).merge(table.cell(1, 3))
        more = table.cell(2, 1).merge(table.cell(2, 3))
        _fill_cell(label, ["主", "", "要", "", "事", "", "迹"] if self.variant != "broken_labels"
                   else ["主 要", "事 迹："])
        self.put(deeds, "deeds")
        self._deeds_extra(deeds)
        _fill_cell(more, ["（可另附）"] if self.variant != "placeholders" else ["（可另附"])
        # row 3: 申报单位 | （盖章） 年 月 日, merged across
        recommender = table.cell(3, 1).merge(table.cell(3, 3))
        if self.label_cell(table.cell(3, 0), "申报单位（盖章）", "recommender"):
            _fill_cell(recommender, ["（盖章）", DATE_SHELL])
        else:
            _fill_cell(table.cell(3, 0), self.label("申报单位"))
            self.put(recommender, "recommender", template=["（盖章）", DATE_SHELL], after=["（盖章）", DATE_SHELL])
        # row 4: 领导小组意见
        office = table.cell(4, 1).merge(table.cell(4, 3))
        _fill_cell(table.cell(4, 0), ["领导小组", "", "意见"])
        _fill_cell(office, OFFICE_BOX)
        return table


# ---------------------------------------------------------------------------------------------
# public entry points


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
    _Writer(doc, FormSpec(table, fields, variant, title)).write()
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
        _Writer(doc, spec).write()
    return _save(doc)


def make_letter_docx(text: str = "") -> bytes:
    """A readable Word document without any form (a cover letter)."""
    doc = Document()
    default = "王老师：\n您好！我单位申报材料已另行报送，请查收。\n苏州工业园区行政审批局\n2019年12月16日"
    for line in _lines(text or default):
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
