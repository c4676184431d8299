"""Tolerant matching of printed form text: labels, placeholders and date lines.

Applicants' copies break labels with line breaks (主\\n\\n要\\n\\n事\\n\\n迹) or spaces, switch between
full-width and half-width brackets and colons, and leave placeholders in whole or in part.
"""

from __future__ import annotations

import re
from functools import lru_cache

_OPEN = "[（(［\\[【〔]"
_CLOSE = "[）)］\\]】〕]"
_COLON = "[:：]"
_GAP = r"\s*"

_CHAR_CLASSES = {
    "（": _OPEN, "(": _OPEN, "）": _CLOSE, ")": _CLOSE,
    "：": _COLON, ":": _COLON,
    "、": "[、,，]", "，": "[,，]", ",": "[,，]",
}

_NUM = "0-9０-９〇○零一二三四五六七八九十"
#: a date as applicants type it, or its empty shell: 2019年12月16日, 二〇一九年十二月十六日, 2019.12.16, 年  月  日
DATE = (
    rf"(?:(?P<y>[{_NUM}]{{2,4}})?\s*年\s*(?P<m>[{_NUM}]{{1,2}})?\s*月\s*(?P<d>[{_NUM}]{{1,3}})?\s*[日号]"
    r"|(?P<ny>\d{4})\s*[-./／]\s*(?P<nm>\d{1,2})\s*[-./／]\s*(?P<nd>\d{1,2})\s*日?)"
)
DATE_AT_END = re.compile(rf"(?:日\s*期\s*{_COLON}?\s*)?{DATE}\s*$")
DATE_LINE = re.compile(rf"^\s*(?:日\s*期\s*{_COLON}?\s*)?{DATE}\s*$")
DATE_SHELL = re.compile(r"年\s*月\s*日")


def _char_pattern(char: str) -> str:
    return _CHAR_CLASSES.get(char, re.escape(char))


def loose(text: str) -> str:
    """A pattern matching ``text`` with any whitespace between characters and either bracket width."""
    chars = [c for c in text if not c.isspace()]
    return _GAP.join(_char_pattern(c) for c in chars)


@lru_cache(maxsize=512)
def label_pattern(label: str) -> re.Pattern[str]:
    """Matches the label at the start of a cell, with an optional trailing colon."""
    core = label.rstrip(":：")
    return re.compile(rf"^\s*{loose(core)}\s*{_COLON}?")


@lru_cache(maxsize=512)
def inline_label_pattern(label: str) -> re.Pattern[str]:
    """Matches the label inside a line (申报单位：…  联系方式：…): at line start or after whitespace."""
    core = label.rstrip(":：")
    return re.compile(rf"(?:^|(?<=\s)){loose(core)}\s*{_COLON}?")


@lru_cache(maxsize=128)
def placeholder_pattern(text: str) -> re.Pattern[str]:
    """Matches a placeholder; a bracketed one also when one of its brackets was deleted (（可另附 / 可另附）)."""
    chars = [c for c in text if not c.isspace()]
    if len(chars) > 2 and chars[0] in "（(" and chars[-1] in "）)":
        inner = loose("".join(chars[1:-1]))
        return re.compile(rf"{_OPEN}{_GAP}{inner}{_GAP}{_CLOSE}?|{inner}{_GAP}{_CLOSE}")
    return re.compile(loose("".join(chars)))


def squash(text: str) -> str:
    """Text without any whitespace, for comparisons (titles, keywords)."""
    return "".join(text.split())


def date_text(match: re.Match[str]) -> str:
    """The matched date without whitespace and without a leading 日期：, or "" for an empty shell."""
    groups = [match.group(g) for g in ("y", "m", "d", "ny", "nm", "nd")]
    if not any(groups):
        return ""
    text = squash(match.group(0))
    return re.sub(rf"^日期{_COLON}", "", text)
