"""Render a page: the template, the signed-in user, the CSRF token, the navigation and flashes."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse

from mailintake.web.page.context import console_of
from mailintake.web.page.security import csrf_token, pop_flashes

PAGE_SIZE = 50


def page(request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    console = console_of(request)
    values = {
        "request": request,
        "user": getattr(request.state, "user", None),
        "csrf": csrf_token(request),
        "nav": console.nav,
        "flashes": pop_flashes(request),
        "campaign": console.settings.campaign.name,
        "path": request.url.path,
        **context,
    }
    html = console.templates.get_template(template).render(values)
    return HTMLResponse(html, status_code=status)


def page_number(request: Request) -> int:
    try:
        return max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        return 1


def with_query(request: Request, **changes: Any) -> str:
    """The current URL with some query parameters changed (for paging and sorting links)."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    return f"{request.url.path}?{urlencode(params)}" if params else request.url.path


def not_found(request: Request, text: str = "未找到该页面或记录。") -> HTMLResponse:
    return page(request, "message.html", {"title": "未找到", "text": text}, status=404)
