"""Roster loading and unit-name matching; the 附件2 quotas file."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailintake.campaign.quotas import load_quotas
from mailintake.campaign.roster import CATEGORIES, UNMATCHED, Roster, Unit, load_roster, normalise
from mailintake.errors import ConfigError

SHIPPED = Path(__file__).resolve().parents[3] / "config" / "units.csv"


@pytest.fixture(scope="module")
def roster() -> Roster:
    return load_roster(SHIPPED)


def test_shipped_roster(roster: Roster) -> None:
    assert len(roster) == 35
    assert {u.category for u in roster} == set(CATEGORIES)
    unit = roster.get("苏州市吴江区行政审批局")
    aliases = ("吴江区行政审批局", "吴江审批局", "吴江区审批局")
    assert unit == Unit("苏州市吴江区行政审批局", aliases, "市、区审批局", "")


@pytest.mark.parametrize(("typed", "expected"), [
    ("张家港市行政审批局", "张家港市行政审批局"),                      # exact
    ("张家港市行政审批局（盖章）", "张家港市行政审批局"),              # trailing stamp
    ("张家港市行政审批局(盖章)：", "张家港市行政审批局"),
    ("  昆山市\u3000行政审批局 ", "昆山市行政审批局"),                  # spaces, full-width space
    ("吴江审批局", "苏州市吴江区行政审批局"),                           # alias
    ("审改处", "苏州市行政审批局审批制度改革处"),
    ("苏州高新区【虎丘区】行政审批局", "苏州高新区行政审批局"),        # bracket variant of an alias
    ("苏州市１２３４５便民服务中心", "苏州市便民服务中心"),            # full-width digits
    ("江苏省张家港市公共资源交易中心", "张家港市公共资源交易中心"),    # province prefix
    ("张家港市行政审批局政务服务科", "张家港市行政审批局"),            # department appended
    ("工业园区行政审批局", "苏州工业园区行政审批局"),                  # prefix dropped
    ("市公安局窗口", "市公安局窗口"),
])
def test_matches(roster: Roster, typed: str, expected: str) -> None:
    unit = roster.match(typed)
    assert unit is not None and unit.name == expected


@pytest.mark.parametrize("typed", [
    "",
    "（盖章）",
    "某某街道便民服务站",
    "苏州市行政审批局",          # the bureau itself: ambiguous between its offices
    "常州市公共资源交易中心",    # another city
    "行政审批局",
    "信息",
])
def test_unmatched(roster: Roster, typed: str) -> None:
    assert roster.match(typed) is None
    assert roster.category(typed) == UNMATCHED


def test_normalise() -> None:
    assert normalise(" 张家港市 行政审批局（盖章）： ") == "张家港市行政审批局"
    assert normalise("〔园区〕审批局") == "(园区)审批局"


def test_load_errors(tmp_path: Path) -> None:
    bad = tmp_path / "units.csv"
    bad.write_text("name,aliases,category,email\n某局,,不存在的类别,\n", "utf-8")
    with pytest.raises(ConfigError, match="line 2: unknown category '不存在的类别'"):
        load_roster(bad)
    bad.write_text("unit,category\n某局,市、区审批局\n", "utf-8")
    with pytest.raises(ConfigError, match="lacks the column"):
        load_roster(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_roster(tmp_path / "missing.csv")


def test_aliases_split_on_both_separators_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    path.write_text("\ufeffname,aliases,category,email\n甲单位,乙；丙|丁,开发区、镇审批局,A@Example.cn\n", "utf-8")
    [unit] = load_roster(path).units
    assert unit == Unit("甲单位", ("乙", "丙", "丁"), "开发区、镇审批局", "a@example.cn")
    assert load_roster(path).match("丙") == unit


def test_quotas_of_annex_2() -> None:
    quotas = load_quotas()
    assert [(h.table, h.name, h.total, h.total_text) for h in quotas.honours] == [
        (1, "改革创新标兵单位", 20, "共20个"),
        (2, "为民服务工作先进集体", 20, "共20个"),
        (3, "窗口服务明星", 20, "20个"),
        (4, "先进工作者", 15, "各地15个+市局视情"),
    ]
    assert {h.table: [(c.quota, c.text) for c in h.categories] for h in quotas.honours} == {
        1: [(5, "5个左右"), (5, "5个左右"), (4, "4个左右"), (6, "6个左右")],
        2: [(5, "5个左右"), (3, "3个左右"), (2, "2个左右"), (10, "10个左右")],
        3: [(5, "5个左右"), (3, "3个左右"), (2, "2个左右"), (10, "10个左右")],
        4: [(5, "5个左右"), (5, "5个左右"), (5, "5个左右"), (None, "视情")],
    }
    assert all([c.category for c in h.categories] == list(CATEGORIES) for h in quotas.honours)
