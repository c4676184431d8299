"""/ 总览."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailintake.web.page.context import console_of
from mailintake.web.page.render import page
from mailintake.web.queries.overview import overview

NAV = ("/", "总览")


async def overview_page(request: Request) -> Response:
    console = console_of(request)
    data = await console.read(overview, console.settings, console.sources, console.now())
    return page(request, "overview.html", {"title": "总览", "o": data,
                                           "poll_minutes": console.settings.schedule.poll_interval // 60})


ROUTES = [Route("/", overview_page, methods=["GET"])]
