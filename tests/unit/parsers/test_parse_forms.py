"""Forms as applicants' tools write them: every table, every variant, exact fields, counts and flags."""

from __future__ import annotations

import pytest

from mailintake.demo.samples.forms import DEFAULTS, VARIANTS, FormSpec, filler, make_form_docx, make_multi_form_docx
from parsers import Flag, load_definitions, parse_document
from parsers.docx_grid import Block, Table, blocks_text, read_docx

TABLE1 = {
    "unit": "苏州工业园区行政审批局",
    "contact": "李静 0512-66681234",
    "project": "“一窗通办、集成服务”改革\n将企业开办涉及的营业执照、公章刻制、税务发票等事项整合为一个窗口受理。",
    "recognition": "2019年获评江苏省政务服务改革优秀案例，《新华日报》专题报道。",
    "summary": "全面推行“一表申请、一窗受理、一网通办”，企业开办时间由5个工作日压缩至0.5个工作日，"
               "全年办件12.6万件，群众满意率99.8%。",
    "unit_opinion": "同意推荐。",
    "date": "2019年12月16日",
}
TABLE3 = {
    "date": "2019年12月17日",
    "name": "王晓雯",
    "unit_and_title": "苏州市行政审批局政务服务大厅 综合窗口受理员",
    "deeds": "扎根窗口一线五年，累计受理业务2.1万件，零差错、零投诉。\n"
             "主动推行“预约+延时”服务，被评为2019年度“群众最满意窗口工作人员”。",
    "recommender": "苏州市行政审批局政务服务处",
}
PLAIN_VARIANTS = [v for v in VARIANTS if v != "rich"]


def parse(data: bytes, name: str = "申报表.docx") -> dict[str, object]:
    return parse_document(data, name, soffice=None).to_dict()


def test_table1_plain_reads_every_field_and_the_line_above() -> None:
    """GIVEN 表1 filled in Word WHEN parsed THEN the 申报单位/联系方式 line and the date in 申报单位意见 are read."""
    result = parse(make_form_docx(1))
    assert result == {
        "file": "申报表.docx",
        "format": "docx",
        "forms": [{"table": 1, "title": "改革创新标兵单位申报表", "fields": TABLE1, "word_count": 134, "flags": []}],
        "flags": [],
    }


def test_table3_merged_cells_read_once() -> None:
    """GIVEN 表3 with 主要事迹 merged down and values merged across THEN each value appears exactly once."""
    result = parse(make_form_docx(3))
    assert result["forms"] == [
        {"table": 3, "title": "窗口服务明星申报表", "fields": TABLE3, "word_count": 61, "flags": []}
    ]


@pytest.mark.parametrize("variant", PLAIN_VARIANTS)
@pytest.mark.parametrize("table", [1, 2, 3, 4])
def test_every_table_in_every_variant(table: int, variant: str) -> None:
    """GIVEN a form written the way a given producer writes it THEN the fields are exactly what was typed."""
    name = "先进工作者申报表.docx" if (table, variant) == (4, "no_title") else "form.docx"  # see the 表3/表4 test
    result = parse_document(make_form_docx(table, variant=variant), name, soffice=None)
    assert result.flags == []
    assert [(f.table, f.fields, f.flags) for f in result.forms] == [(table, DEFAULTS[table], [])]


@pytest.mark.parametrize("table", [2, 3, 4])
def test_rich_variant_fields_hyperlinks_smart_tags_and_nested_table(table: int) -> None:
    """Smart tags, hyperlinks, fldSimple date and a nested table of figures inside 主要事迹 are all read."""
    form = parse_document(make_form_docx(table, variant="rich"), "form.docx", soffice=None).forms[0]
    expected = dict(DEFAULTS[table])
    expected["deeds"] += "\n指标\t2019年\n办件量\t12.6万件"
    assert form.fields == expected
    assert form.flags == []


def test_table1_text_box_line_is_read_once() -> None:
    """The 申报单位/联系方式 line in a text box: mc:Choice read, the VML fallback copy ignored."""
    form = parse_document(make_form_docx(1, variant="rich"), "form.docx", soffice=None).forms[0]
    assert form.fields == TABLE1


def test_placeholders_left_in_and_partly_deleted_are_removed() -> None:
    """GIVEN （可另附）, 可另附）, （可另附 and （盖章） left around the values THEN values are clean."""
    for table in (1, 2, 3, 4):
        form = parse_document(make_form_docx(table, variant="placeholders"), "f.docx", soffice=None).forms[0]
        assert form.fields == DEFAULTS[table]


def test_empty_template_flags_every_required_field() -> None:
    """GIVEN an untouched 表1 template THEN one incomplete flag per required field, in formal Chinese."""
    empty = dict.fromkeys(DEFAULTS[1], "")
    form = parse_document(make_form_docx(1, empty), "f.docx", soffice=None).forms[0]
    assert form.fields == dict.fromkeys(DEFAULTS[1], "")
    assert form.word_count == 0
    assert form.flags == [
        Flag("incomplete", "表1（改革创新标兵单位申报表）“申报单位”未填写，请补充后重新发送。", "unit"),
        Flag("incomplete", "表1（改革创新标兵单位申报表）“联系方式”未填写，请补充后重新发送。", "contact"),
        Flag("incomplete", "表1（改革创新标兵单位申报表）“参评项目（单位）名称和简介”未填写，请补充后重新发送。",
             "project"),
        Flag("incomplete", "表1（改革创新标兵单位申报表）“改革创新项目概述及成效简介”未填写，请补充后重新发送。",
             "summary"),
    ]


@pytest.mark.parametrize("table", [3, 4])
def test_empty_person_form_flags(table: int) -> None:
    empty = dict.fromkeys(DEFAULTS[table], "")
    form = parse_document(make_form_docx(table, empty), "f.docx", soffice=None).forms[0]
    title = {3: "窗口服务明星申报表", 4: "先进工作者申报表"}[table]
    assert form.fields == empty
    assert [(f.code, f.field, f.message) for f in form.flags] == [
        ("incomplete", key, f"表{table}（{title}）“{label}”未填写，请补充后重新发送。")
        for key, label in [("name", "姓名"), ("unit_and_title", "所在单位及职务"), ("deeds", "主要事迹"),
                           ("recommender", "申报单位")]
    ]


def test_table2_missing_deeds_and_unit() -> None:
    form = parse_document(make_form_docx(2, {"unit": "", "deeds": "", "date": ""}), "f.docx", soffice=None).forms[0]
    assert form.fields == {"date": "", "unit": "", "deeds": ""}
    assert [f.message for f in form.flags] == [
        "表2（为民服务工作先进集体申报表）“申报单位”未填写，请补充后重新发送。",
        "表2（为民服务工作先进集体申报表）“主要事迹”未填写，请补充后重新发送。",
    ]


def test_overlong_at_1000_and_1001() -> None:
    """GIVEN 主要事迹 of exactly 1000 字 THEN no flag; of 1001 字 THEN an overlong flag naming the count."""
    at_limit = parse_document(make_form_docx(2, {"deeds": filler(1000)}), "f.docx", soffice=None).forms[0]
    assert (at_limit.word_count, at_limit.flags) == (1000, [])
    over = parse_document(make_form_docx(2, {"deeds": filler(1001)}), "f.docx", soffice=None).forms[0]
    assert over.word_count == 1001
    assert over.flags == [
        Flag("overlong", "表2（为民服务工作先进集体申报表）“主要事迹”共1001字，超过1000字的限制，请精简后重新发送。")
    ]


def test_overlong_counts_table1_narrative_together_and_collects_every_reason() -> None:
    """表1 counts project + recognition + summary; an empty required field is reported alongside."""
    fields = {"project": filler(400), "recognition": "获评省级优秀案例", "summary": filler(640), "contact": ""}
    form = parse_document(make_form_docx(1, fields), "f.docx", soffice=None).forms[0]
    assert form.word_count == 400 + 8 + 640
    assert [(f.code, f.field) for f in form.flags] == [("incomplete", "contact"), ("overlong", None)]
    assert form.flags[1].message == (
        "表1（改革创新标兵单位申报表）叙述内容合计1048字（“参评项目（单位）名称和简介”400字，"
        "“该项目获奖、领导批示或媒体报道情况”8字，“改革创新项目概述及成效简介”640字），"
        "超过1000字的限制，请精简后重新发送。"
    )


def test_limit_is_configurable() -> None:
    form = parse_document(make_form_docx(3), "f.docx", soffice=None, max_chars=60).forms[0]
    assert [f.message for f in form.flags] == [
        "表3（窗口服务明星申报表）“主要事迹”共61字，超过60字的限制，请精简后重新发送。"
    ]


def test_label_cell_values() -> None:
    """GIVEN 申报单位（盖章）：苏州… typed into the label cell THEN the value is read from there."""
    form = parse_document(make_form_docx(2, {"unit": "苏州工业园区行政审批局"}, variant="label_cell"), "f.docx",
                          soffice=None).forms[0]
    assert form.fields["unit"] == "苏州工业园区行政审批局"


@pytest.mark.parametrize("page_breaks", [True, False])
def test_table2_and_table4_in_one_document(page_breaks: bool) -> None:
    data = make_multi_form_docx([(2, None), (4, None)], page_breaks=page_breaks)
    result = parse_document(data, "材料.docx", soffice=None)
    assert [(f.table, f.title, f.fields) for f in result.forms] == [
        (2, "为民服务工作先进集体申报表", DEFAULTS[2]),
        (4, "先进工作者申报表", DEFAULTS[4]),
    ]
    assert result.flags == []


def test_all_four_tables_and_two_people_in_one_document() -> None:
    second = {"name": "张敏", "unit_and_title": "常熟市政务服务中心 窗口负责人", "deeds": "服务群众三万余人次。",
              "recommender": "常熟市行政审批局", "date": "2019年12月15日"}
    specs = [FormSpec(1), FormSpec(2, variant="tracked"), FormSpec(3, variant="sdt"), FormSpec(3, second),
             FormSpec(4, variant="broken_labels")]
    result = parse_document(make_multi_form_docx(specs), "all.docx", soffice=None)
    assert [(f.table, f.fields) for f in result.forms] == [
        (1, DEFAULTS[1]), (2, DEFAULTS[2]), (3, DEFAULTS[3]), (3, second), (4, DEFAULTS[4])
    ]


@pytest.mark.parametrize("table", [1, 2, 3])
def test_form_without_title_recognised_by_labels(table: int) -> None:
    result = parse_document(make_form_docx(table, title=False), "附件.docx", soffice=None)
    assert [(f.table, f.fields) for f in result.forms] == [(table, DEFAULTS[table])]


def test_table4_without_title_told_apart_by_file_name() -> None:
    """表3 and 表4 share a layout: without a title the file name (先进工作者…) decides."""
    data = make_form_docx(4, title=False)
    assert parse_document(data, "先进工作者申报表-陈志远.docx", soffice=None).forms[0].table == 4
    assert parse_document(data, "窗口服务明星申报表.docx", soffice=None).forms[0].table == 3


def test_table2_and_untitled_table1_in_one_document() -> None:
    data = make_multi_form_docx([FormSpec(2), FormSpec(1, title=False)])
    assert [f.table for f in parse_document(data, "x.docx", soffice=None).forms] == [2, 1]


def test_content_control_prompt_text_is_not_a_value() -> None:
    """An untouched content control shows 单击或点击此处输入文字。 — that is no answer."""
    form = parse_document(make_form_docx(1, {"recognition": ""}, variant="sdt"), "f.docx", soffice=None).forms[0]
    assert form.fields["recognition"] == ""
    assert form.word_count == 134 - 29  # 2019(1) 年获评…案例(16) ，(1) 《新华日报》(6) 专题报道(4) 。(1)


def test_definitions_labels() -> None:
    forms = load_definitions()
    assert [(t.table, t.title, t.name) for t in forms.tables] == [
        (1, "改革创新标兵单位申报表", "改革创新标兵单位"),
        (2, "为民服务工作先进集体申报表", "为民服务工作先进集体"),
        (3, "窗口服务明星申报表", "窗口服务明星"),
        (4, "先进工作者申报表", "先进工作者"),
    ]
    assert forms.label(1, "summary") == "改革创新项目概述及成效简介"
    assert forms.label(3, "recommender") == "申报单位"
    assert [f.key for f in forms.get(1).fields if f.required] == ["unit", "contact", "project", "summary"]
    assert [f.key for f in forms.get(1).fields if f.narrative] == ["project", "recognition", "summary"]
    assert [f.key for f in forms.get(4).fields] == ["date", "name", "unit_and_title", "deeds", "recommender"]


def _all_text(blocks: list[Block]) -> str:
    return blocks_text(blocks)


def test_grid_reads_text_box_once_and_skips_deletions() -> None:
    """The walker: mc:Choice only (no VML duplicate), w:del skipped, merged cells listed once."""
    rich = read_docx(make_form_docx(1, variant="rich"))
    assert _all_text(rich).count("联系方式") == 1
    tracked = read_docx(make_form_docx(3, variant="tracked"))
    text = _all_text(tracked)
    assert "待填写" not in text and "（可另附）" in text
    table = next(b for b in tracked if isinstance(b, Table))
    assert [[(c.col, c.colspan, c.rowspan) for c in row] for row in table.rows] == [
        [(0, 1, 1), (1, 1, 1), (2, 1, 1), (3, 1, 1)],
        [(0, 1, 2), (1, 3, 1)],
        [(1, 3, 1)],
        [(0, 1, 1), (1, 3, 1)],
        [(0, 1, 1), (1, 3, 1)],
    ]
