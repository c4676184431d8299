"""Form-level rules. All run; every reason is collected so one correction mail lists them all."""

from __future__ import annotations

from parsers.definitions import FormDefinition
from parsers.records import Flag, Form
from parsers.wordcount import count_chars


def word_count(definition: FormDefinition, fields: dict[str, str]) -> int:
    """字数 of the narrative fields together (表1: project + recognition + summary; 表2–表4: deeds)."""
    return sum(count_chars(fields.get(item.key, "")) for item in definition.fields if item.narrative)


def incomplete(definition: FormDefinition, fields: dict[str, str]) -> list[Flag]:
    """One flag per required field left empty."""
    return [
        Flag("incomplete", f"{definition.display}“{item.label}”未填写，请补充后重新发送。", item.key)
        for item in definition.fields
        if item.required and not fields.get(item.key, "").strip()
    ]


def box_counts(definition: FormDefinition, fields: dict[str, str]) -> list[tuple[str, int]]:
    """(label, 字数) of each counted box, in form order: what an applicant checks box by box in Word."""
    return [(item.label, count_chars(fields.get(item.key, ""))) for item in definition.fields if item.narrative]


def overlong(definition: FormDefinition, count: int, max_chars: int,
             boxes: list[tuple[str, int]] | None = None) -> list[Flag]:
    """A flag when the narrative is longer than the limit, naming each counted box with its own 字数."""
    if count <= max_chars:
        return []
    boxes = boxes or []
    if len(boxes) == 1:
        message = (f"{definition.display}“{boxes[0][0]}”共{count}字，超过{max_chars}字的限制，"
                   f"请精简后重新发送。")
    else:
        parts = "，".join(f"“{label}”{chars}字" for label, chars in boxes)
        detail = f"（{parts}）" if parts else ""
        message = (f"{definition.display}叙述内容合计{count}字{detail}，超过{max_chars}字的限制，"
                   f"请精简后重新发送。")
    return [Flag("overlong", message)]


def build_form(definition: FormDefinition, fields: dict[str, str], *, max_chars: int = 1000) -> Form:
    """The record for one form with every rule applied."""
    boxes = box_counts(definition, fields)
    count = sum(chars for _, chars in boxes)
    flags = [*incomplete(definition, fields), *overlong(definition, count, max_chars, boxes)]
    return Form(table=definition.table, title=definition.title, fields=dict(fields), word_count=count, flags=flags)
