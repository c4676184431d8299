"""Chinese pages for 404, 405 and 500 (the traceback goes to the log, never to the browser)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

log = logging.getLogger(__name__)
#: no template, no database: this page must render whatever broke
_PAGE = ('<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{title} · 申报受理控制台</title>'
         '<link rel="stylesheet" href="/static/console.css"></head><body><main><h1>{title}</h1><p>{text}</p>'
         '<p><a href="/">返回总览</a></p></main></body></html>')
_TEXTS = {
    404: ("未找到", "未找到该页面或记录。请检查地址，或使用页面顶部的搜索框。"),
    405: ("不支持的操作", "该地址不支持这种请求方式。请从控制台页面上的按钮操作。"),
    500: ("服务器内部错误", "处理请求时出错，操作未完成。请稍后重试；如反复出现，请联系系统管理员查看服务日志。"),
}

ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]


def _html(status: int) -> Response:
    title, text = _TEXTS.get(status, ("请求未完成", f"请求未完成（{status}）。"))
    return HTMLResponse(_PAGE.format(title=title, text=text), status_code=status)


async def http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status in _TEXTS:
        return _html(status)
    return PlainTextResponse(str(getattr(exc, "detail", "")), status_code=status)


async def server_error(request: Request, exc: Exception) -> Response:
    log.error("console: %s %s failed", request.method, request.url.path, exc_info=exc)
    return _html(500)


def error_pages() -> dict[Any, ErrorHandler]:
    return {HTTPException: http_error, Exception: server_error}
