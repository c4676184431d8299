"""/audit: the office's actions and every login, newest first, filtered by actor, action and date."""

from __future__ import annotations

import datetime as dt

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailintake.db.audit import ACTION_LABELS
from mailintake.web.page.context import console_of
from mailintake.web.page.render import PAGE_SIZE, page, page_number, with_query
from mailintake.web.queries import Pager
from mailintake.web.queries.lists import AuditFilter, audit_actors, audit_page, count_actions, receipts_of

NAV = ("/audit", "操作记录")


def parse_day(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat((text or "").strip()[:10])
    except ValueError:
        return None


async def audit_list(request: Request) -> Response:
    console = console_of(request)
    tz = console.settings.campaign.tz
    params = request.query_params
    start, end = parse_day(params.get("from")), parse_day(params.get("to"))
    action = params.get("action", "")
    where = AuditFilter(
        actor=params.get("actor", "").strip()[:255], action=action if action in ACTION_LABELS else "",
        start=dt.datetime.combine(start, dt.time(), tz).astimezone(dt.UTC) if start else None,
        end=dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tz).astimezone(dt.UTC) if end else None)
    pager = Pager(page_number(request), PAGE_SIZE, await console.read(count_actions, where),
                  lambda n: with_query(request, page=n))
    rows = await console.read(audit_page, pager.offset, PAGE_SIZE, where)
    receipts = await console.read(receipts_of, [r.message_pk for r in rows if r.message_pk])
    return page(request, "audit.html", {
        "title": "操作记录", "rows": rows, "pager": pager, "labels": ACTION_LABELS, "f": where, "receipts": receipts,
        "actors": await console.read(audit_actors), "from": start.isoformat() if start else "",
        "to": end.isoformat() if end else ""})


ROUTES = [Route("/audit", audit_list, methods=["GET"])]
