"""/login and /logout. A failed or throttled login is audited like a successful one."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailintake.db.audit import Actor
from mailintake.office.users import LoginResult, check_login, end_sessions
from mailintake.web.page.context import CurrentUser, console_of
from mailintake.web.page.render import page
from mailintake.web.page.security import action, csrf_token, csrf_valid, forbidden, safe_next


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def actor_of(request: Request) -> Actor:
    """The signed-in user and the client's address, for the audit trail."""
    return Actor(request.state.user.login, client_ip(request))


async def login_form(request: Request) -> Response:
    if isinstance(request.session.get("uid"), int):
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return page(request, "login.html", {"title": "登录", "next": safe_next(request.query_params.get("next")),
                                        "error": "", "username": ""})


async def login_submit(request: Request) -> Response:
    form = await request.form()
    if not csrf_valid(request, form):
        return forbidden("403 请求缺少有效的安全令牌（CSRF），请刷新登录页后重试。")
    username = str(form.get("username", ""))
    password = str(form.get("password", ""))
    target = safe_next(str(form.get("next", "")))
    console = console_of(request)
    result: LoginResult = await console.act(check_login, username, password, client_ip(request))
    if result.outcome == "ok" and result.user is not None:
        request.session.clear()
        request.session["uid"] = result.user.id
        request.session["epoch"] = result.user.session_epoch or 0
        csrf_token(request)  # a fresh token for the new session
        return RedirectResponse(target, status_code=303)
    if result.outcome == "throttled":
        error, status = "该账号登录失败次数过多，请 15 分钟后再试。", 429
    else:
        error, status = "账号或密码错误，或账号已停用。", 401
    return page(request, "login.html", {"title": "登录", "next": target, "error": error, "username": username},
                status=status)


@action(role="viewer")
async def logout(request: Request, form: FormData) -> Response:
    user: CurrentUser = request.state.user
    await console_of(request).act(end_sessions, actor_of(request), user.id)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


ROUTES = [
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login_submit, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
