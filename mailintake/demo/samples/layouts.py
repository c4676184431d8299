"""The four layouts of the notice's forms (表1–表4), written in a given variant."""

from __future__ import annotations

from collections.abc import Callable

from docx.document import Document as DocumentObject
from docx.oxml.ns import qn
from docx.table import Table, _Cell

from mailintake.demo.samples.form_data import DATE_SHELL, OFFICE_BOX, TITLES, VARIANTS, FormSpec, sample_fields
from mailintake.demo.samples.wordml import (
    REVISION,
    deleted_run,
    field_paragraph,
    fill_cell,
    next_id,
    sdt,
    split_lines,
    text_box_paragraph,
    tracked_fill,
    wrap,
    wrap_runs,
)


class FormWriter:
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
            fill_cell(cell, template)
            return
        lines = [*(before or []), *split_lines(value), *(after or [])]
        if self.variant == "placeholders":
            lines = [*(before or []), *split_lines(value), *template]
        if self.variant == "tracked":
            tracked_fill(cell, lines, deleted="（可另附）" if "（可另附）" in template else "待填写")
            return
        paragraphs = fill_cell(cell, lines)
        if self.variant == "sdt":
            if key in ("deeds", "summary", "project"):
                for paragraph in paragraphs:  # block-level controls around each paragraph
                    sdt(paragraph._p, alias=key)
            else:  # inline control around the runs
                for paragraph in paragraphs:
                    runs = paragraph._p.findall(qn("w:r"))
                    if runs:
                        control = sdt(runs[0], alias=key)
                        content = control.find(qn("w:sdtContent"))
                        for run in runs[1:]:
                            content.append(run)
        elif self.variant == "rich" and key in ("recognition", "unit_and_title"):
            for paragraph in paragraphs:  # Word turns typed addresses and pasted links into these
                wrap_runs(paragraph, "w:hyperlink", **{"w:anchor": "_Ref1", "w:history": "1"})
        elif self.variant == "rich" and key in ("name", "unit"):
            for paragraph in paragraphs:
                wrap_runs(paragraph, "w:smartTag", **{"w:uri": "urn:schemas-microsoft-com:office:smarttags",
                                                      "w:element": "PersonName"})

    def label_cell(self, cell: _Cell, label: str, key: str, *, suffix: str = "：") -> bool:
        """For the label_cell variant: type the value into the label cell. True when done."""
        value = self.values.get(key, "")
        if self.variant != "label_cell" or not value:
            return False
        first, *rest = split_lines(value)
        fill_cell(cell, [f"{label}{suffix}{first}", *rest])
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
            field_paragraph(paragraph, date)
        elif self.variant == "tracked":
            paragraph.add_run(date)
            wrap_runs(paragraph, "w:ins", **{"w:id": next_id(), **REVISION})
            deleted_run(paragraph, DATE_SHELL, first=True)
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
        sdt(cells[-1], alias="cell")
        sdt(rows[-1], alias="row")
        sdt(table._tbl, alias="table")

    def _add_table(self, rows: int, cols: int) -> Table:
        table = self.doc.add_table(rows=rows, cols=cols)
        table.style = "Table Grid"
        return table

    def table1(self) -> Table:
        unit, contact = self.values.get("unit", ""), self.values.get("contact", "")
        line = f"申报单位：{unit}                    联系方式：{contact}"
        if self.variant == "rich":
            text_box_paragraph(self.doc, line)
        elif self.variant == "tracked" and (unit or contact):
            paragraph = self.doc.add_paragraph("申报单位：")
            inserted = paragraph.add_run(unit)
            wrap(inserted._r, "w:ins", **{"w:id": next_id(), **REVISION})
            paragraph.add_run("                    联系方式：")
            inserted = paragraph.add_run(contact)
            wrap(inserted._r, "w:ins", **{"w:id": next_id(), **REVISION})
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
                fill_cell(label_cell, self.label(label))
                self.put(table.cell(index, 1), key, template=template)
            else:
                fill_cell(table.cell(index, 1), template)
            if self.variant == "sdt" and key == "recognition" and not self.values.get(key):
                paragraph = table.cell(index, 1).paragraphs[0]
                paragraph.add_run("单击或点击此处输入文字。")
                sdt(paragraph._p, alias="recognition", placeholder=True)
        fill_cell(table.cell(3, 0), self.label("申报单位意见"))
        opinion = self.values.get("unit_opinion", "")
        date = self.values.get("date", "")
        unit_line = f"申报单位（盖章）：{unit}" if unit and self.variant != "placeholders" else "申报单位（盖章）："
        opinion_lines = [*split_lines(opinion), f"             {unit_line}", f"       日期：{date}"]
        if self.variant == "tracked":
            tracked_fill(table.cell(3, 1), opinion_lines, deleted="")
        else:
            fill_cell(table.cell(3, 1), opinion_lines)
        fill_cell(table.cell(4, 0), ["领导小组意见"])
        fill_cell(table.cell(4, 1), ["              苏州市行政审批局（盖章）", DATE_SHELL])
        self.doc.add_paragraph("注：填写要简明扼要，如填写不下，可单独附页。")
        return table

    def table2(self) -> Table:
        self.date_line()
        table = self._add_table(4, 2)
        unit_label = table.cell(0, 0)
        if self.label_cell(unit_label, "申报单位（盖章）", "unit"):
            fill_cell(table.cell(0, 1), ["                   （盖章）"])
        else:
            fill_cell(unit_label, self.label("申报单位"))
            self.put(table.cell(0, 1), "unit", template=["                   （盖章）"], after=["（盖章）"])
        label = table.cell(1, 0).merge(table.cell(2, 0))  # 主要事迹 merged down over two rows
        if not self.label_cell(label, "主要事迹", "deeds"):
            fill_cell(label, ["主", "", "要", "", "事", "", "迹"] if self.variant != "broken_labels"
                       else ["主 要", "事 迹："])
            self.put(table.cell(1, 1), "deeds")
        self._deeds_extra(table.cell(1, 1))
        fill_cell(table.cell(2, 1), ["（可另附）"] if self.variant != "placeholders" else ["可另附）"])
        fill_cell(table.cell(3, 0), ["领导小组", "", "意见"])
        fill_cell(table.cell(3, 1), OFFICE_BOX)
        return table

    def _deeds_extra(self, cell: _Cell) -> None:
        """rich: a small nested table of figures inside the 主要事迹 cell."""
        if self.variant != "rich":
            return
        nested = cell.add_table(rows=2, cols=2)
        for (row, col), text in {(0, 0): "指标", (0, 1): "2019年", (1, 0): "办件量", (1, 1): "12.6万件"}.items():
            fill_cell(nested.cell(row, col), [text])
        cell.add_paragraph("")

    def table34(self) -> Table:
        self.date_line()
        table = self._add_table(5, 4)
        # row 0: 姓名 | … | 所在单位及职务 | …
        name_label = table.cell(0, 0)
        if self.label_cell(name_label, "姓名", "name"):
            fill_cell(table.cell(0, 1), [""])
        else:
            fill_cell(name_label, self.label("姓名"))
            self.put(table.cell(0, 1), "name")
        fill_cell(table.cell(0, 2), self.label("所在单位及职务"))
        self.put(table.cell(0, 3), "unit_and_title")
        # rows 1-2: 主要事迹 merged down; value merged across three columns in each row
        label = table.cell(1, 0).merge(table.cell(2, 0))
        deeds = table.cell(1, 1).merge(table.cell(1, 3))
        more = table.cell(2, 1).merge(table.cell(2, 3))
        fill_cell(label, ["主", "", "要", "", "事", "", "迹"] if self.variant != "broken_labels"
                   else ["主 要", "事 迹："])
        self.put(deeds, "deeds")
        self._deeds_extra(deeds)
        fill_cell(more, ["（可另附）"] if self.variant != "placeholders" else ["（可另附"])
        # row 3: 申报单位 | （盖章） 年 月 日, merged across
        recommender = table.cell(3, 1).merge(table.cell(3, 3))
        if self.label_cell(table.cell(3, 0), "申报单位（盖章）", "recommender"):
            fill_cell(recommender, ["（盖章）", DATE_SHELL])
        else:
            fill_cell(table.cell(3, 0), self.label("申报单位"))
            self.put(recommender, "recommender", template=["（盖章）", DATE_SHELL], after=["（盖章）", DATE_SHELL])
        # row 4: 领导小组意见
        office = table.cell(4, 1).merge(table.cell(4, 3))
        fill_cell(table.cell(4, 0), ["领导小组", "", "意见"])
        fill_cell(office, OFFICE_BOX)
        return table

