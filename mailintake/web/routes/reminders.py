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
from mailintake.web.queries.reminders import form_key, parse_keys, reminder_preview
from mailintake.web.routes.auth import actor_of

NAV = ("/reminders", "催报")


async def reminders_page(request: Request) -> Response:
    console = console_of(request)
    preview = await console.read(reminder_preview, console.settings, console.sources, console.now())
    return page(request, "reminders.html", {"title": "催报", "p": preview, "today": console.today(),
                                            "deadline": console.settings.campaign.deadline})


@action()
async def confirm(request: Request, form: FormData) -> Response:
    """催报 step one: the ticked rows, exactly what will be queued (nothing is sent yet)."""
    console = console_of(request)
    keys = parse_keys([str(v) for v in form.getlist("key")])
    if not keys:
        flash(request, "没有勾选任何催报。", "error")
        return RedirectResponse("/reminders", status_code=303)
    preview = await console.read(reminder_preview, console.settings, console.sources, console.now())
    wanted = set(keys)
    rows = [r for r in preview.by_mail if (r.unit, r.kind) in wanted]
    return page(request, "confirm.html", {
        "title": "确认发送催报", "text": f"将向以下 {len(rows)} 个单位发送催报邮件：",
        "items": [f"{r.unit}（{r.kind_label}，{r.address}）" for r in rows], "action": "/reminders/send",
        "button": f"确认发送 {len(rows)} 封催报", "back": "/reminders",
        "fields": [("key", form_key(r)) for r in rows]})


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
    Route("/reminders/confirm", confirm, methods=["POST"]),
    Route("/reminders/send", send, methods=["POST"]),
]
