"""/reports: past daily reports (open the HTML, download the workbook)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailintake.web.page.context import console_of
from mailintake.web.page.render import PAGE_SIZE, page, page_number, with_query
from mailintake.web.queries import Pager
from mailintake.web.queries.lists import count_reports, list_reports

NAV = ("/reports", "日报")


async def reports_page(request: Request) -> Response:
    console = console_of(request)
    pager = Pager(page_number(request), PAGE_SIZE, await console.read(count_reports),
                  lambda n: with_query(request, page=n))
    rows = await console.read(list_reports, pager.offset, PAGE_SIZE)
    return page(request, "reports.html", {"title": "日报", "rows": rows, "pager": pager})


ROUTES = [Route("/reports", reports_page, methods=["GET"])]
