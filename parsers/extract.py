"""Blocks -> forms: find the tables that are application forms and read their fields.

A table is recognised by its 表N title (in the lines above it or in a leading row) or, without
a title, by its labels; the lines above a table carry 表1's 申报单位/联系方式 line and the date
line. Every cell that starts with a known label opens an entry; the cells after it in the row
(or the row below, for a label on a row of its own) are its value. The cell right after a label
is always a value, so a value cell reading 申报单位（盖章）： is not taken for a label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from parsers.definitions import FieldDefinition, FormDefinition, FormSet
from parsers.docx_grid import Block, Cell, Paragraph, Table, join_tables
from parsers.labels import (
    DATE_AT_END,
    DATE_LINE,
    DATE_SHELL,
    date_text,
    inline_label_pattern,
    label_pattern,
    placeholder_pattern,
    squash,
)

_TITLE_NUMBER = re.compile(r"^(?:附件\s*\d*\s*[.．、:：]?\s*)?表\s*([0-9０-９]+|[一二三四五六七八九十]+)")
_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_IGNORE = "__ignore__"


@dataclass
class ExtractedForm:
    """A form found in a document: its definition and raw-but-cleaned field values (all keys present)."""

    definition: FormDefinition
    fields: dict[str, str]


@dataclass
class _Entry:
    label: str
    parts: list[str] = field(default_factory=list)


@dataclass
class _Vocabulary:
    """Every label of every form, longest first, so 申报单位意见 never reads as 申报单位 + 意见."""

    labels: list[tuple[str, re.Pattern[str]]]
    owners: dict[str, dict[int, str]]  # label -> {table number: field key or _IGNORE}

    @classmethod
    def build(cls, forms: FormSet) -> _Vocabulary:
        owners: dict[str, dict[int, str]] = {}
        for form in forms.tables:
            for item in form.fields:
                if item.key == "date":
                    continue
                for label in item.labels:
                    owners.setdefault(squash(label), {})[form.table] = item.key
            for label in form.ignore:
                owners.setdefault(squash(label), {})[form.table] = _IGNORE
        ordered = sorted(owners, key=len, reverse=True)
        return cls([(label, label_pattern(label)) for label in ordered], owners)

    def match(self, text: str) -> tuple[str, str] | None:
        """(label, rest of the cell) when the cell starts with a label."""
        for label, pattern in self.labels:
            found = pattern.match(text)
            if found:
                return label, text[found.end():]
        return None


def _table_number(text: str) -> int | None:
    found = _TITLE_NUMBER.match(squash(text))
    if not found:
        return None
    raw = found.group(1)
    if raw[0] in _CN_DIGITS:
        return _CN_DIGITS.get(raw) or (10 + _CN_DIGITS.get(raw[-1], 0) if raw.startswith("十") else None)
    try:
        return int(raw.translate(str.maketrans("０１２３４５６７８９", "0123456789")))
    except ValueError:
        return None


def _title_index(lines: list[str], forms: FormSet) -> tuple[int, int | None]:
    """(index of the title line or -1, table number it names). Searches from the last line up."""
    for index in range(len(lines) - 1, -1, -1):
        text = squash(lines[index])
        if not text:
            continue
        number = _table_number(text)
        if number is not None:
            return index, number
        for form in forms.tables:
            if squash(form.title) in text:
                return index, form.table
    return -1, None


def _keyword_table(texts: list[str], candidates: list[FormDefinition]) -> int | None:
    for text in reversed(texts):
        flat = squash(text)
        for form in candidates:
            if any(squash(k) in flat for k in form.keywords):
                return form.table
    return None


def _walk_rows(table: Table, vocab: _Vocabulary) -> tuple[list[str], list[_Entry]]:
    """Leading rows without labels (a title row) and the label entries of the table."""
    lead: list[str] = []
    entries: list[_Entry] = []
    pending: _Entry | None = None  # a label alone on its row waits for the row below
    spanning: list[tuple[Cell, _Entry]] = []  # label cells merged down over several rows
    for index, row in enumerate(table.rows):
        current = next((e for c, e in spanning if c.row < index < c.row + c.rowspan), None)
        force_value = False
        for cell in row:
            text = cell.text
            hit = None if force_value else vocab.match(text)
            if hit is not None:
                current = _Entry(hit[0], [hit[1]] if hit[1].strip() else [])
                entries.append(current)
                spanning.append((cell, current))
                force_value = True
                continue
            force_value = False
            if current is not None:
                current.parts.append(text)
            elif pending is not None:
                pending.parts.append(text)
            elif not entries:
                lead.append(text)
        if current is not None:
            pending = current if not any(p.strip() for p in current.parts) and len(row) == 1 else None
        else:
            pending = None
    return lead, entries


def _score(form: FormDefinition, entries: list[_Entry], vocab: _Vocabulary) -> float:
    found = {vocab.owners[e.label].get(form.table) for e in entries} - {None, _IGNORE}
    expected = {f.key for f in form.fields if not f.above and f.key != "date"}
    return len(found) - 0.5 * len(expected - found)


def _remove_placeholders(text: str, forms: FormSet) -> str:
    for item in sorted(forms.placeholders, key=len, reverse=True):
        text = placeholder_pattern(item).sub("", text)
    return text


def clean_value(text: str, forms: FormSet, *, date_line: bool = False, drop: tuple[str, ...] = ()) -> tuple[str, str]:
    """(clean value, date found in it). Placeholders and date shells go, lines are trimmed, empty
    lines dropped, inner line breaks kept. With ``date_line`` a date ending a line is taken out;
    lines starting with a ``drop`` label (a signature line) are left out."""
    date = ""
    lines: list[str] = []
    for raw in text.replace("\r", "\n").split("\n"):
        line = raw
        if date_line:
            found = DATE_AT_END.search(line)
            if found:
                date = date or date_text(found)
                line = line[: found.start()]
        if any(label_pattern(label).match(line) for label in drop):
            continue
        line = _remove_placeholders(line, forms)
        line = DATE_SHELL.sub("", line)
        line = line.strip().strip("\t").strip()
        if line:
            lines.append(line)
    value = "\n".join(lines)
    value = re.sub(r"^[:：]\s*", "", value)
    return value.strip(), date


def _above_fields(form: FormDefinition, lines: list[str], forms: FormSet) -> tuple[dict[str, str], str]:
    """Fields typed on the lines above the table, and the date line's date."""
    values: dict[str, str] = {}
    date = ""
    above = [f for f in form.fields if f.above]
    for line in lines:
        found_date = DATE_LINE.match(line)
        if found_date:
            date = date or date_text(found_date)
            continue
        hits: list[tuple[int, int, FieldDefinition]] = []
        for item in above:
            for label in sorted(item.labels, key=len, reverse=True):
                match = inline_label_pattern(label).search(line)
                if match and not any(s <= match.start() < e for s, e, _ in hits):
                    hits.append((match.start(), match.end(), item))
                    break
        hits.sort(key=lambda h: h[0])
        for index, (_, end, item) in enumerate(hits):
            stop = hits[index + 1][0] if index + 1 < len(hits) else len(line)
            value, _ = clean_value(line[end:stop], forms)
            if value and not values.get(item.key):
                values[item.key] = value
    return values, date


def _read_form(form: FormDefinition, entries: list[_Entry], above_lines: list[str], vocab: _Vocabulary,
               forms: FormSet) -> dict[str, str]:
    fields = dict.fromkeys(form.keys, "")
    dates: list[str] = []
    above_values, above_date = _above_fields(form, above_lines, forms)
    for entry in entries:
        key = vocab.owners[entry.label].get(form.table)
        if key is None or key == _IGNORE:
            continue
        item = form.field(key)
        value, date = clean_value("\n".join(entry.parts), forms, date_line=item.date_line,
                                  drop=item.drop_lines)
        if date:
            dates.append(date)
        if value and not fields[key]:
            fields[key] = value
    for key, value in above_values.items():
        fields[key] = value
    if "date" in fields:
        fields["date"] = above_date or (dates[0] if dates else "")
    return fields


@dataclass
class _Previous:
    """The last table met at one level of the document, and the state before it was read."""

    table: Table
    lines: list[str]
    found: int
    last_keys: set[str]
    labels: set[str]


class _Finder:
    def __init__(self, forms: FormSet, filename: str) -> None:
        self.forms = forms
        self.filename = filename
        self.vocab = _Vocabulary.build(forms)
        self.found: list[ExtractedForm] = []
        self._last_keys: set[str] = set()

    def walk(self, blocks: list[Block]) -> None:
        lines: list[str] = []
        previous: _Previous | None = None
        for block in blocks:
            if isinstance(block, Paragraph):
                lines.extend(block.text.split("\n"))
                continue
            table, above = block, lines
            if previous is not None and self._continues(previous, block, lines):
                # one form that Word split in two: read it as one grid, in place of the first part
                table, above = join_tables(previous.table, block), previous.lines
                del self.found[previous.found:]
                self._last_keys = previous.last_keys
            previous = _Previous(table, above, len(self.found), set(self._last_keys),
                                 {e.label for e in _walk_rows(table, self.vocab)[1]})
            if not self._table(table, above):
                for row in table.rows:
                    for cell in row:
                        self.walk(cell.blocks)
                self._last_keys = set()
            lines = []

    def _continues(self, previous: _Previous, table: Table, between: list[str]) -> bool:
        """Whether ``table`` is the rest of the table before it: nothing but empty lines (a page break)
        between them, no title row of its own, and only labels the first part does not have — a second
        form of the same kind repeats its labels, another kind comes with its title."""
        if not previous.labels or any(line.strip() for line in between):
            return False
        lead, entries = _walk_rows(table, self.vocab)
        labels = {e.label for e in entries}
        if not labels or labels & previous.labels:
            return False
        return _title_index([part for text in lead for part in text.split("\n")], self.forms)[0] < 0

    def _choose(self, entries: list[_Entry], number: int | None, lines: list[str]) -> FormDefinition | None:
        scored = [(self._score(form, entries), form) for form in self.forms.tables]
        best = max((score for score, _ in scored), default=0.0)
        matched = {e.label for e in entries if _IGNORE not in self.vocab.owners[e.label].values()}
        if number is not None:
            titled = [form for score, form in scored if form.table == number and score > -2]
            if titled and matched:
                return titled[0]
        if best < 1.5:
            return None
        top = [form for score, form in scored if score == best]
        if len(top) > 1:
            hint = _keyword_table([*lines, self.filename], top)
            if hint is None:
                hint = _table_number(self.filename)
            for form in top:
                if form.table == hint:
                    return form
        return top[0]

    def _score(self, form: FormDefinition, entries: list[_Entry]) -> float:
        return _score(form, entries, self.vocab)

    def _table(self, table: Table, lines: list[str]) -> bool:
        lead, entries = _walk_rows(table, self.vocab)
        lines = [*lines, *(part for text in lead for part in text.split("\n"))]
        if not entries:
            return False
        title_at, number = _title_index(lines, self.forms)
        form = self._choose(entries, number, lines)
        if form is None:
            return False
        above = lines[title_at + 1:] if title_at >= 0 else lines
        fields = _read_form(form, entries, above, self.vocab, self.forms)
        keys = {k for k, v in fields.items() if v and k != "date"}
        previous = self.found[-1] if self.found else None
        if (title_at < 0 and previous is not None and previous.definition.table == form.table
                and self._last_keys and not keys & self._last_keys):
            # the rest of the previous form, split into a second table (a page break, an extra Enter)
            for key, value in fields.items():
                if value and not previous.fields.get(key):
                    previous.fields[key] = value
            self._last_keys |= keys
            return True
        self.found.append(ExtractedForm(form, fields))
        self._last_keys = keys
        return True


def extract_forms(blocks: list[Block], forms: FormSet, filename: str = "") -> list[ExtractedForm]:
    """All forms in a document, in document order (several forms per document are normal)."""
    finder = _Finder(forms, filename)
    finder.walk(blocks)
    return finder.found
