"""/submissions?table=N: the per-table list as in the workbook, sortable, with 字数 and flags; filtered by
category, paper copies, the mail's status and the days received (?from=&to=, as on /mails)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailintake.db.labels import STATUS_LABELS
from mailintake.web.page.context import console_of
from mailintake.web.page.render import PAGE_SIZES, not_found, page, page_size, pager_for, with_query
from mailintake.web.queries.lists import SORTS, SubmissionFilter, count_submissions, list_submissions, unit_names
from mailintake.web.routes.mails import day_range

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
    params = request.query_params
    category = params.get("category", "") if params.get("category", "") in console.sources.roster.categories else ""
    paper = params.get("paper", "") if params.get("paper") in ("received", "missing") else ""
    status = params.get("status", "") if params.get("status", "") in STATUS_LABELS else ""
    names = await console.read(unit_names, console.sources.roster, category, paper)
    start, end, first, last = day_range(request, console.settings.campaign.tz)
    where = SubmissionFilter(names, status, start, end)
    total = await console.read(count_submissions, table, where)
    size = page_size(request, SIZE)
    pager = pager_for(request, total, size)
    rows = await console.read(list_submissions, table, sort, descending, pager.offset, size, where)

    def sort_link(key: str) -> str:
        flip = "asc" if key == sort and descending else ("desc" if key == sort else "asc")
        return with_query(request, sort=key, dir=flip, page=None)

    return page(request, "submissions.html", {
        "title": f"表{table}", "table": table, "definition": tables[table], "tables": tables, "rows": rows,
        "named": "name" in tables[table].keys, "pager": pager, "sort": sort, "descending": descending,
        "sort_link": sort_link, "max_chars": console.settings.campaign.max_chars, "f": params,
        "categories": console.sources.roster.categories, "statuses": STATUS_LABELS, "size": size, "sizes": PAGE_SIZES,
        "first": first, "last": last})


ROUTES = [Route("/submissions", submissions_page, methods=["GET"])]
