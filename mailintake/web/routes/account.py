"""/account: the signed-in user changes her own password (the current one first); other sessions end."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailintake.office.users import MIN_PASSWORD, change_own_password, password_problem
from mailintake.web.page.context import CurrentUser, console_of
from mailintake.web.page.render import page
from mailintake.web.page.security import action, flash, start_session
from mailintake.web.routes.auth import actor_of

PROBLEMS = {
    "short": f"新密码至少需要 {MIN_PASSWORD} 个字符，请换一个更长的密码。",
    "common": "新密码过于常见，容易被猜中，请换一个。",
}


async def account_page(request: Request) -> Response:
    return page(request, "account.html", {"title": "修改密码", "error": ""})


@action(role="viewer")
async def change_password(request: Request, form: FormData) -> Response:
    user: CurrentUser = request.state.user
    current, new, repeat = (str(form.get(k, ""))[:1024] for k in ("current", "new", "repeat"))
    error = ""
    if new != repeat:
        error = "两次输入的新密码不一致，请重新输入。"
    elif (problem := password_problem(new)) is not None:
        error = PROBLEMS[problem]
    if not error:
        console = console_of(request)
        row = await console.password_checks.run(console.act_here, change_own_password, actor_of(request),
                                                user.id, current, new)
        if row is None:
            error = "当前密码不正确，请重新输入。"
        else:
            start_session(request, row.id, row.session_epoch)
            flash(request, "密码已修改。其他设备上的登录已退出。")
            return RedirectResponse("/", status_code=303)
    return page(request, "account.html", {"title": "修改密码", "error": error}, status=400)


ROUTES = [
    Route("/account", account_page, methods=["GET"]),
    Route("/account/password", change_password, methods=["POST"]),
]
