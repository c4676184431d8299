"""/submissions?table=N: the per-table list as in the workbook, sortable, with 字数 and flags."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailintake.web.page.context import console_of
from mailintake.web.page.render import not_found, page, page_number, with_query
from mailintake.web.queries import Pager
from mailintake.web.queries.lists import SORTS, count_submissions, list_submissions

NAV = ("/submissions", "申报表")
SIZE = 100


async def submissions_page(request: Request) -> Response:
    console = console_of(request)
    tables = {d.table: d for d in console.sources.forms.tables}
    try:
        table = int(request.query_params.get("table", "1"))
    except ValueError:
        table = 0
    if table not in tables:
        return not_found(request, "没有这张申报表。")
    sort = request.query_params.get("sort", "received")
    sort = sort if sort in SORTS else "received"
    descending = request.query_params.get("dir") == "desc"
    total = await console.read(count_submissions, table)
    pager = Pager(page_number(request), SIZE, total, lambda n: with_query(request, page=n))
    rows = await console.read(list_submissions, table, sort, descending, pager.offset, SIZE)

    def sort_link(key: str) -> str:
        flip = "asc" if key == sort and descending else ("desc" if key == sort else "asc")
        return with_query(request, sort=key, dir=flip, page=None)

    return page(request, "submissions.html", {
        "title": f"表{table}", "table": table, "definition": tables[table], "tables": tables, "rows": rows,
        "named": "name" in tables[table].keys, "pager": pager, "sort": sort, "descending": descending,
        "sort_link": sort_link, "max_chars": console.settings.campaign.max_chars})


ROUTES = [Route("/submissions", submissions_page, methods=["GET"])]
