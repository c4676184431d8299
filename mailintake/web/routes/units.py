"""/units (every roster unit, who has not applied) and /units/{name} with 纸质材料已收到 and its undo."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailintake.office.paper import PaperError, record_received, undo_received
from mailintake.web.page.context import console_of, unit_url
from mailintake.web.page.render import not_found, page, with_query
from mailintake.web.page.security import action, flash
from mailintake.web.queries.search import unit_candidates
from mailintake.web.queries.units import UnitRow, unit_detail, units_overview
from mailintake.web.routes.auth import actor_of

NAV = ("/units", "单位")


UNIT_SORTS = {"name": "单位", "category": "类别", "total": "申报数", "paper": "纸质材料"}


def filter_units(rows: list[UnitRow], params: Any) -> list[UnitRow]:
    """?category= &applied=yes|no &paper=missing|received &table=N &sort=name|category|total|paper &dir=desc."""
    category, applied, paper, table = (params.get(k, "") for k in ("category", "applied", "paper", "table"))
    found = [r for r in rows
             if (not category or r.category == category)
             and (applied != "yes" or r.total) and (applied != "no" or not r.total)
             and (paper != "missing" or (r.total and r.paper is None)) and (paper != "received" or r.paper)
             and (not table.isdigit() or r.tables.get(int(table)))]
    sort = params.get("sort", "")
    keys: dict[str, Callable[[UnitRow], Any]] = {
        "name": lambda r: r.name, "category": lambda r: (r.category, r.name), "total": lambda r: (r.total, r.name),
        "paper": lambda r: (r.paper or dt.date.min, r.name)}
    if sort in keys:
        found.sort(key=keys[sort], reverse=params.get("dir") == "desc")
    return found


async def units_page(request: Request) -> Response:
    console = console_of(request)
    rows, outside = await console.read(units_overview, console.sources.roster)
    tables = [d.table for d in console.sources.forms.tables]
    shown = filter_units(rows, request.query_params)
    sort = request.query_params.get("sort", "")

    def sort_link(key: str) -> str:
        flip = "desc" if key == sort and request.query_params.get("dir") != "desc" else "asc"
        return with_query(request, sort=key, dir=flip)

    return page(request, "units.html", {
        "title": "单位", "rows": shown, "all_count": len(rows), "outside": outside, "tables": tables,
        "silent": [r for r in rows if not r.total], "max_projects": console.settings.campaign.max_projects_per_unit,
        "categories": console.sources.roster.categories, "f": request.query_params, "sorts": UNIT_SORTS,
        "sort_link": sort_link, "today": console.today().isoformat()})


async def unit_page(request: Request) -> Response:
    console = console_of(request)
    name = request.path_params["name"]
    detail = await console.read(unit_detail, console.sources.roster, name)
    if detail is None:
        candidates, _ = unit_candidates(console.sources.roster, name)
        if len(candidates) == 1:
            return RedirectResponse(unit_url(candidates[0].name), status_code=303)
        if candidates:
            return page(request, "choose_unit.html", {"title": "请选择单位", "q": name, "units": candidates})
        return not_found(request, "名录和申报记录中都没有这个单位。")
    return page(request, "unit.html", {"title": detail.name, "u": detail, "today": console.today().isoformat()})


def _back(unit: str) -> RedirectResponse:
    return RedirectResponse(f"/units/{quote(unit, safe='')}", status_code=303)


def _day(text: str, today: dt.date) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip()) if text.strip() else today
    except ValueError:
        return None


@action()
async def paper_confirm(request: Request, form: FormData) -> Response:
    """Bulk 纸质材料已收到, step one: say exactly what will be recorded (nothing is written yet)."""
    console = console_of(request)
    units = list(dict.fromkeys(str(u) for u in form.getlist("unit") if str(u).strip()))
    day = _day(str(form.get("day", "")), console.today())
    if not units or day is None:
        flash(request, "请勾选单位并填写收到日期（如 2019-12-18）。" if day is not None else
              "收到日期格式不正确，请按 2019-12-18 的格式填写。", "error")
        return RedirectResponse("/units", status_code=303)
    return page(request, "confirm.html", {
        "title": "确认登记纸质材料", "text": f"将登记以下 {len(units)} 个单位的纸质材料于 {day.isoformat()} 收到：",
        "items": units, "action": "/paper/bulk", "button": f"确认登记 {len(units)} 个单位",
        "back": "/units", "fields": [("day", day.isoformat()), *[("unit", u) for u in units]]})


@action()
async def paper_bulk(request: Request, form: FormData) -> Response:
    """Bulk 纸质材料已收到, step two: record each ticked unit on the chosen date (each audited)."""
    console = console_of(request)
    today = console.today()
    day = _day(str(form.get("day", "")), today)
    units = list(dict.fromkeys(str(u) for u in form.getlist("unit") if str(u).strip()))
    if day is None or form.get("confirmed") != "1":
        return RedirectResponse("/units", status_code=303)
    done: list[str] = []
    for unit in units:
        try:
            result = await console.act(record_received, console.sources.roster, unit, day, today, actor_of(request))
            done.append(result.unit)
        except PaperError as err:
            flash(request, str(err), "error")
    if done:
        flash(request, f"已登记 {len(done)} 个单位纸质材料于 {day.isoformat()} 收到：{'、'.join(done)}。"
                       "如有误，可在单位页面撤销。")
    return RedirectResponse("/units", status_code=303)


@action()
async def paper_received(request: Request, form: FormData) -> Response:
    console = console_of(request)
    unit = str(form.get("unit", ""))
    today = console.today()
    day = _day(str(form.get("day", "")), today) or today
    try:
        result = await console.act(record_received, console.sources.roster, unit, day, today,
                                   actor_of(request))
        flash(request, f"已登记：{result.unit} 纸质材料于 {day.isoformat()} 收到。")
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
    Route("/paper/confirm", paper_confirm, methods=["POST"]),
    Route("/paper/bulk", paper_bulk, methods=["POST"]),
]
