"""/audit: the office's actions and every login, newest first."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailintake.web.page.context import console_of
from mailintake.web.page.render import PAGE_SIZE, page, page_number, with_query
from mailintake.web.queries import Pager
from mailintake.web.queries.lists import audit_page, count_actions

NAV = ("/audit", "操作记录")
ACTION_LABELS = {
    "login": "登录", "login_failed": "登录失败", "login_throttled": "登录受限", "logout": "退出",
    "paper_received": "纸质材料已收到", "paper_undo": "撤销纸质材料登记", "resend": "重新发送回复",
    "reprocess": "重新处理", "user_added": "新建账号", "user_disabled": "停用账号", "user_password": "重设密码",
}


async def audit_list(request: Request) -> Response:
    console = console_of(request)
    pager = Pager(page_number(request), PAGE_SIZE, await console.read(count_actions),
                  lambda n: with_query(request, page=n))
    rows = await console.read(audit_page, pager.offset, PAGE_SIZE)
    return page(request, "audit.html", {"title": "操作记录", "rows": rows, "pager": pager, "labels": ACTION_LABELS})


ROUTES = [Route("/audit", audit_list, methods=["GET"])]
