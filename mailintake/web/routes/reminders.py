"""/reminders 催报: the preview (by mail, and 需电话催报), and the clerk's 发送催报 for exactly what it showed."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailintake.office.reminders import send_reminders
from mailintake.web.page.context import console_of
from mailintake.web.page.render import page
from mailintake.web.page.security import action, flash
from mailintake.web.queries.reminders import parse_keys, reminder_preview
from mailintake.web.routes.auth import actor_of

NAV = ("/reminders", "催报")


async def reminders_page(request: Request) -> Response:
    console = console_of(request)
    preview = await console.read(reminder_preview, console.settings, console.sources, console.now())
    return page(request, "reminders.html", {"title": "催报", "p": preview, "today": console.today(),
                                            "deadline": console.settings.campaign.deadline})


@action()
async def send(request: Request, form: FormData) -> Response:
    console = console_of(request)
    keys = parse_keys([str(v) for v in form.getlist("key")])
    if not keys:
        flash(request, "预览中没有可发送的催报邮件。", "error")
        return RedirectResponse("/reminders", status_code=303)
    result = await console.act(send_reminders, console.settings, console.sources, console.now(),
                               actor_of(request), only=keys)
    queued = len(result.queued)
    if queued:
        flash(request, f"已将 {queued} 封催报邮件放入发件队列，后台服务将尽快发送。")
    if queued < len(keys):
        flash(request, f"另有 {len(keys) - queued} 条催报未发送：今日已发送过，或该单位已不需要催报。",
              "ok" if queued else "error")
    return RedirectResponse("/reminders", status_code=303)


ROUTES = [
    Route("/reminders", reminders_page, methods=["GET"]),
    Route("/reminders/send", send, methods=["POST"]),
]
