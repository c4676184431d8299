"""What goes into the sample forms: their titles, realistic default content, the variants imitated."""

from __future__ import annotations

from dataclasses import dataclass, field

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

