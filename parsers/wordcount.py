"""字数 the way Microsoft Word counts it for Chinese text.

Each CJK character and each full-width punctuation mark counts 1; each run of other non-space
characters (an English word, ``12.6``, ``99.8%``, ``0512-63981234``) counts 1. Spaces (full-width
too) separate runs and count nothing.
"""

from __future__ import annotations

#: code point ranges counted one per character (CJK ideographs, kana, Hangul, CJK and full-width
#: punctuation, curly quotes, dashes and ellipses as used in Chinese text)
_ASIAN_RANGES: tuple[tuple[int, int], ...] = (
    (0x2E80, 0x2FDF),  # CJK radicals, Kangxi radicals
    (0x3001, 0x303F),  # CJK symbols and punctuation (U+3000 is a space)
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3100, 0x312F),  # Bopomofo
    (0x3190, 0x31FF),  # Kanbun, CJK strokes, Katakana extensions
    (0x3200, 0x33FF),  # enclosed CJK letters, CJK compatibility
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFE10, 0xFE1F),  # vertical forms
    (0xFE30, 0xFE4F),  # CJK compatibility forms
    (0xFF01, 0xFF60),  # full-width ASCII variants and punctuation
    (0xFFE0, 0xFFE6),  # full-width signs (￥ ￡)
    (0x20000, 0x3FFFF),  # CJK extensions B onwards
)

#: punctuation from General Punctuation that Chinese text uses as full-width marks
_ASIAN_SINGLES = frozenset("‘’“”—…‖•·")


def is_asian(char: str) -> bool:
    """True when Word counts this character as one 字 on its own."""
    code = ord(char)
    if 0x4E00 <= code <= 0x9FFF:
        return True
    if code < 0x2000:
        return char == "·"
    if char in _ASIAN_SINGLES:
        return True
    return any(low <= code <= high for low, high in _ASIAN_RANGES)


def count_chars(text: str) -> int:
    """Return the 字数 of ``text`` (see the module docstring for the rule)."""
    count = 0
    in_run = False
    for char in text:
        if char.isspace():
            in_run = False
        elif is_asian(char):
            count += 1
            in_run = False
        elif not in_run:
            count += 1
            in_run = True
    return count
