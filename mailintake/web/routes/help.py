"""/help: the office's guide (docs/office.md) as the console's 使用说明.

A small reading of the guide's Markdown, no library: headings, tables, and everything else as
preformatted text with the inline marks (code, bold, links) taken off. Its screenshots are left
out, since the page is the console itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailintake.config.shipped import shipped_dir
from mailintake.web.page.render import not_found, page

GUIDE = "office.md"
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_SEPARATOR = re.compile(r"^\|[-:| ]+\|$")


@dataclass
class Section:
    level: int
    heading: str
    #: ("text", str) or ("table", rows of cells, the first row the header)
    blocks: list[tuple[str, str | list[list[str]]]] = field(default_factory=list)


def guide_path() -> Path:
    """The wheel's copy (package data, see pyproject's force-include), else the checkout's docs/office.md."""
    packaged = shipped_dir() / GUIDE
    return packaged if packaged.is_file() else shipped_dir().parent / "docs" / GUIDE


def plain(text: str) -> str:
    """Inline Markdown off: `code`, **bold**, [text](link) → their text."""
    return _LINK.sub(r"\1", text).replace("`", "").replace("**", "")


def sections(markdown: str) -> list[Section]:
    """The guide as headed sections of text and table blocks; image and fence lines dropped."""
    out = [Section(0, "")]
    text: list[str] = []
    rows: list[list[str]] = []

    def flush() -> None:
        body = "\n".join(text).strip("\n")
        if body:
            out[-1].blocks.append(("text", body))
        if rows:
            out[-1].blocks.append(("table", list(rows)))
        text.clear()
        rows.clear()

    for line in markdown.splitlines():
        if line.startswith("#"):
            flush()
            marks, _, heading = line.partition(" ")
            out.append(Section(min(len(marks), 3), plain(heading.strip())))
        elif line.startswith("|"):
            if text:
                flush()
            if not _SEPARATOR.match(line.strip()):
                rows.append([plain(cell.strip()) for cell in line.strip().strip("|").split(" | ")])
        elif not line.startswith(("![", "```")):
            if rows:
                flush()
            text.append(plain(line))
    flush()
    return [s for s in out if s.heading or s.blocks]


async def help_page(request: Request) -> Response:
    path = guide_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return not_found(request, f"未找到使用说明文件（{path}），请联系系统管理员。")
    return page(request, "help.html", {"title": "使用说明", "sections": sections(text)})


ROUTES = [Route("/help", help_page, methods=["GET"])]
