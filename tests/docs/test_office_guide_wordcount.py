"""The worked examples of 「字数如何计算」 in docs/office.md are what the counter in parsers/ says."""

from __future__ import annotations

import re
from pathlib import Path

from parsers.definitions import load_definitions
from parsers.wordcount import count_chars

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "office.md"
ROW = re.compile(r"^\| `([^`]+)` \| (\d+) \|")


def examples() -> list[tuple[str, int]]:
    """(text, stated 字数) of each table row in the section 「字数如何计算」."""
    text = GUIDE.read_text(encoding="utf-8")
    section = text.split("\n## 字数如何计算\n", 1)[1].split("\n## ", 1)[0]
    return [(m.group(1), int(m.group(2))) for line in section.splitlines() if (m := ROW.match(line))]


def test_the_guide_has_the_worked_examples() -> None:
    found = examples()
    assert len(found) == 22
    assert ("阿卜杜·热合曼", 7) in found
    assert ("王晓雯\u3000综合窗口", 7) in found  # the full-width space survived the editor


def test_every_stated_count_is_the_counters() -> None:
    assert [(text, count_chars(text)) for text, _ in examples()] == examples()


def test_the_counted_boxes_the_guide_names_are_the_shipped_forms_narrative_boxes() -> None:
    section = GUIDE.read_text(encoding="utf-8").split("\n## 字数如何计算\n", 1)[1].split("计数规则", 1)[0]
    named = set(re.findall(r"“([^”]+)”", section))
    narrative = {item.label for definition in load_definitions().tables for item in definition.fields if item.narrative}
    assert narrative == {"参评项目（单位）名称和简介", "该项目获奖、领导批示或媒体报道情况",
                         "改革创新项目概述及成效简介", "主要事迹"}
    assert narrative <= named
