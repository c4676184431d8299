"""/search?q=: the search box on every page; results grouped 单位 / 邮件 / 申报表."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailintake.web.page.context import console_of
from mailintake.web.page.render import page
from mailintake.web.queries.search import LIMIT, search


async def search_page(request: Request) -> Response:
    console = console_of(request)
    q = request.query_params.get("q", "")
    result = await console.read(search, console.sources.roster, q)
    return page(request, "search.html", {"title": f"搜索：{result.q}" if result.q else "搜索", "r": result,
                                         "limit": LIMIT})


ROUTES = [Route("/search", search_page, methods=["GET"])]
