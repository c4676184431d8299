"""Small text helpers shared by the mailbox, the sender, the report and the replies."""

from __future__ import annotations

import datetime as dt


def one_line(value: object, limit: int | None = None, *, ellipsis: bool = False) -> str:
    """``value`` as one line: bytes decoded (UTF-8, replacing), runs of whitespace made one space.

    With ``limit``, cut to at most that many characters; ``ellipsis`` ends a cut text with "…".
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = " ".join(str(value).split())
    if limit is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…" if ellipsis else text[:limit]


def cn_datetime(value: dt.datetime, tz: dt.tzinfo) -> str:
    """``2019年12月18日17:30``: ``value`` in the time zone ``tz``."""
    local = value.astimezone(tz)
    return f"{local.year}年{local.month}月{local.day}日{local:%H:%M}"
