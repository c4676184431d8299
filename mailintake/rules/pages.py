"""可另附 / 单独附页: a separate page continuing a form's box, sent in the same mail.

The forms say “（可另附）” and “如填写不下，可单独附页”: an applicant writes “详见附页” in a box and
sends the text as a second Word file without a table. That file is linked to the form and the box
it continues; its 字数 count for that box; the form's record names the page (field ``附页``); the
page itself is no longer "a file without a form". A box that points to a page the mail does not
carry is flagged incomplete.
"""

from __future__ import annotations

import re
from dataclasses import replace

from mailintake.campaign.files import campaign_forms
from mailintake.rules.base import FileOutcome, Findings, MailContext
from parsers.definitions import FieldDefinition, FormDefinition
from parsers.records import FileResult, Flag, Form
from parsers.rules import overlong
from parsers.wordcount import count_chars

#: what a box says when its text is on a separate page
REFERENCE = re.compile(r"(详见|见|另附|单独)\s*(附页|附件|附表|另页)|^\s*(附页|另附)\s*$")
#: a box this short that names a page holds only the reference
REFERENCE_CHARS = 30
PAGE_FIELD = "附页"


def _narrative(definition: FormDefinition) -> list[FieldDefinition]:
    return [item for item in definition.fields if item.narrative]


def _refers(value: str) -> bool:
    return bool(REFERENCE.search(value)) and count_chars(value) <= REFERENCE_CHARS


class AttachedPagesRule:
    name = "attached_pages"
    description = "A separate page (附页) in the same mail continues a form's box and counts for it."

    def check(self, ctx: MailContext) -> Findings:
        forms = ctx.forms()
        if not forms:
            return Findings()
        definitions = campaign_forms(ctx.settings)
        files = list(ctx.files)
        pages = [(index, outcome) for index, outcome in enumerate(files)
                 if not outcome.result.forms and outcome.result.page_text]
        boxes = [(fi, ri, definitions.get(form.table), item) for fi, ri, _o, form in forms
                 for item in _narrative(definitions.get(form.table))]
        pointing = [box for box in boxes if _refers(files[box[0]].result.forms[box[1]].fields.get(box[3].key, ""))]
        # pages after the table in the form's own document go to that document's boxes first
        linked = False
        remaining = []
        for box in pointing:
            own = files[box[0]]
            if own.result.forms and own.result.page_text:
                files[box[0]] = _link(own, f"{_file_name(own)}表格后", own.result.page_text, ctx, *box[1:])
                files[box[0]] = replace(files[box[0]], result=replace(files[box[0]].result, page_text=""))
                linked = True
            else:
                remaining.append(box)
        # the boxes that say “详见附页” take the pages in order; else a single form's single box takes one page
        targets = remaining if pointing else (boxes if len(boxes) == 1 else [])
        for (page_index, page), (fi, ri, definition, item) in zip(pages, targets, strict=False):
            files[fi] = _link(files[fi], _file_name(page), page.result.page_text, ctx, ri, definition, item)
            # the page is part of the form now, not a file without a form
            files[page_index] = replace(page, result=FileResult(page.result.file, page.result.format,
                                                                page_text=page.result.page_text))
            linked = True
        missing: dict[tuple[int, int], tuple[Flag, ...]] = {}
        for fi, ri, definition, item in remaining[len(pages):]:
            missing[(fi, ri)] = (*missing.get((fi, ri), ()), Flag(
                "incomplete", f"{definition.display}“{item.label}”写明见附页，但本邮件中没有附页，"
                              f"请将附页与申报表一同发送。", item.key))
        return Findings(form_flags=missing, files=tuple(files) if linked else None)


def _link(outcome: FileOutcome, name: str, text: str, ctx: MailContext, ri: int,
          definition: FormDefinition, item: FieldDefinition) -> FileOutcome:
    """The file with its form ``ri`` continued by the page ``name``: 附页 named, 字数 recounted."""
    form = outcome.result.forms[ri]
    page_chars = count_chars(text)
    box_chars = count_chars(form.fields.get(item.key, ""))
    counted = page_chars + (0 if _refers(form.fields.get(item.key, "")) else box_chars)
    boxes = [(x.label, counted if x.key == item.key else count_chars(form.fields.get(x.key, "")))
             for x in _narrative(definition)]
    total = sum(chars for _, chars in boxes)
    fields = {**form.fields, PAGE_FIELD: f"{name}（{item.label}，{page_chars}字）"}
    flags = [f for f in form.flags if f.code != "overlong"]
    flags += overlong(definition, total, ctx.settings.campaign.max_chars, boxes)
    linked = Form(form.table, form.title, fields, total, flags)
    forms = [linked if index == ri else other for index, other in enumerate(outcome.result.forms)]
    return replace(outcome, result=replace(outcome.result, forms=forms))


def _file_name(outcome: FileOutcome) -> str:
    return outcome.attachment.path.rsplit("/", 1)[-1]
