"""Sessions, logins, CSRF tokens, roles and the response headers that keep applicant markup inert.

- ``AuthMiddleware``: every path outside ``PUBLIC`` needs a signed-in, enabled account; anonymous
  GETs are redirected to /login, anything else gets 403.
- ``action``: the only way to write a POST handler — it checks the per-session CSRF token and the
  role (403 otherwise) before the handler sees the form.
- ``SecurityHeaders``: a Content-Security-Policy with no script at all, nosniff, no framing, no caching.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailintake.web.page.context import CurrentUser, console_of

PUBLIC = frozenset({"/login", "/healthz", "/favicon.ico"})
#: static files, and the applicants' status pages (a token in the path is their only key)
PUBLIC_PREFIXES = ("/static/", "/s/")
CSP = ("default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
CSRF_FIELD = "csrf_token"

Handler = Callable[[Request, FormData], Awaitable[Response]]


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def csrf_valid(request: Request, form: FormData) -> bool:
    sent = form.get(CSRF_FIELD)
    expected = request.session.get("csrf")
    return isinstance(sent, str) and isinstance(expected, str) and bool(expected) \
        and hmac.compare_digest(sent.encode(), expected.encode())


def forbidden(text: str) -> Response:
    return PlainTextResponse(text, status_code=403)


def action(role: str = "clerk") -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a POST handler: CSRF token and role checked first (403), then ``handler(request, form)``."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @wraps(handler)
        async def endpoint(request: Request) -> Response:
            form = await request.form()
            if not csrf_valid(request, form):
                return forbidden("403 请求缺少有效的安全令牌（CSRF），请刷新页面后重试。")
            user: CurrentUser | None = getattr(request.state, "user", None)
            if role == "clerk" and (user is None or not user.is_clerk):
                return forbidden("403 您的账号为查看权限，不能执行此操作。")
            return await handler(request, form)

        endpoint.csrf_checked = True  # type: ignore[attr-defined]
        return endpoint

    return wrap


def flash(request: Request, text: str, kind: str = "ok") -> None:
    request.session.setdefault("flash", []).append([kind, text])


def pop_flashes(request: Request) -> list[list[str]]:
    items: list[list[str]] = request.session.pop("flash", [])
    return items


def _load_user(console: Any, uid: Any, epoch: Any) -> CurrentUser | None:
    if not isinstance(uid, int):
        return None
    from mailintake.db.models import User

    with console.factory() as session:
        user = session.get(User, uid)
        if user is None or user.disabled or (user.session_epoch or 0) != epoch:
            return None
        return CurrentUser(user.id, user.login, user.role)


class AuthMiddleware:
    """Default deny: only PUBLIC paths and /static/ are served without an enabled account."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC or scope["path"].startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        user = await run_in_threadpool(_load_user, console_of(request), request.session.get("uid"),
                                       request.session.get("epoch"))
        if user is None:
            request.session.pop("uid", None)
            response: Response
            if scope["method"] in ("GET", "HEAD"):
                query = scope["query_string"].decode("latin-1")
                target = scope["path"] + (f"?{query}" if query else "")
                response = RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
            else:
                response = forbidden("403 请先登录。")
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["user"] = user
        await self.app(scope, receive, send)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CSP)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "same-origin")
                if not scope["path"].startswith(("/static/", "/s/static/")):
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def safe_next(target: str | None) -> str:
    """Only a local path may follow a login (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"
