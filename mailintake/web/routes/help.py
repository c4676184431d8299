"""/help: the office's guide (docs/office.md) as the console's 使用说明.

Shown as plain text under its own headings (no Markdown library: the guide is written to read well as
text); its screenshots are left out, since the page is the console itself.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailintake.resources import shipped_dir
from mailintake.web.render import not_found, page

GUIDE = "office.md"


def guide_path() -> Path:
    """The wheel's copy (package data, see pyproject's force-include), else the checkout's docs/office.md."""
    packaged = shipped_dir() / GUIDE
    return packaged if packaged.is_file() else shipped_dir().parent / "docs" / GUIDE


def sections(markdown: str) -> list[tuple[int, str, str]]:
    """(heading level, heading, the text under it) in order; image lines dropped."""
    out: list[tuple[int, str, list[str]]] = [(0, "", [])]
    for line in markdown.splitlines():
        if line.startswith("#"):
            marks, _, heading = line.partition(" ")
            out.append((min(len(marks), 3), heading.strip(), []))
        elif not line.startswith("!["):
            out[-1][2].append(line)
    return [(level, heading, "\n".join(lines).strip("\n")) for level, heading, lines in out
            if heading or "\n".join(lines).strip()]


async def help_page(request: Request) -> Response:
    path = guide_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return not_found(request, f"未找到使用说明文件（{path}），请联系系统管理员。")
    return page(request, "help.html", {"title": "使用说明", "sections": sections(text)})


ROUTES = [Route("/help", help_page, methods=["GET"])]
