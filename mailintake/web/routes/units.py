"""/units (every roster unit, who has not applied) and /units/{name} with 纸质材料已收到 and its undo."""

from __future__ import annotations

from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailintake.office.paper import PaperError, record_received, undo_received
from mailintake.web.page.context import console_of
from mailintake.web.page.render import not_found, page
from mailintake.web.page.security import action, flash
from mailintake.web.queries.units import unit_detail, units_overview
from mailintake.web.routes.auth import actor_of

NAV = ("/units", "单位")


async def units_page(request: Request) -> Response:
    console = console_of(request)
    rows, outside = await console.read(units_overview, console.sources.roster)
    tables = [d.table for d in console.sources.forms.tables]
    return page(request, "units.html", {
        "title": "单位", "rows": rows, "outside": outside, "tables": tables,
        "silent": [r for r in rows if not r.total], "max_projects": console.settings.campaign.max_projects_per_unit})


async def unit_page(request: Request) -> Response:
    console = console_of(request)
    detail = await console.read(unit_detail, console.sources.roster, request.path_params["name"])
    if detail is None:
        return not_found(request, "名录和申报记录中都没有这个单位。")
    return page(request, "unit.html", {"title": detail.name, "u": detail})


def _back(unit: str) -> RedirectResponse:
    return RedirectResponse(f"/units/{quote(unit, safe='')}", status_code=303)


@action()
async def paper_received(request: Request, form: FormData) -> Response:
    console = console_of(request)
    unit = str(form.get("unit", ""))
    today = console.today()
    try:
        result = await console.act(record_received, console.sources.roster, unit, today, today,
                                   actor_of(request))
        flash(request, f"已登记：{result.unit} 纸质材料于 {today.isoformat()} 收到。")
    except PaperError as err:
        flash(request, str(err), "error")
    return _back(unit)


@action()
async def paper_undo(request: Request, form: FormData) -> Response:
    console = console_of(request)
    unit = str(form.get("unit", ""))
    try:
        result = await console.act(undo_received, console.sources.roster, unit,
                                   actor_of(request))
        flash(request, f"已撤销：{result.unit} 纸质材料收到登记（原登记日期 {result.previous}）。")
    except PaperError as err:
        flash(request, str(err), "error")
    return _back(unit)


ROUTES = [
    Route("/units", units_page, methods=["GET"]),
    Route("/units/{name:path}", unit_page, methods=["GET"]),
    Route("/paper/received", paper_received, methods=["POST"]),
    Route("/paper/undo", paper_undo, methods=["POST"]),
]
