"""/mails (list, search) and /mails/{id} (one mail) with the clerk's 重新发送回复 / 重新处理."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailintake.db.labels import STATUS_LABELS
from mailintake.errors import MailintakeError
from mailintake.office.redo import reprocess, resend_reply
from mailintake.web.page.context import console_of
from mailintake.web.page.render import PAGE_SIZE, not_found, page, page_number, with_query
from mailintake.web.page.security import action, flash
from mailintake.web.queries import Pager
from mailintake.web.queries.mails import mail_detail, search_mails
from mailintake.web.routes.auth import actor_of

NAV = ("/mails", "邮件")


async def mails_page(request: Request) -> Response:
    console = console_of(request)
    status = request.query_params.get("status") or None
    status = status if status in STATUS_LABELS else None
    q = (request.query_params.get("q") or "").strip()[:200] or None
    number = page_number(request)
    total, rows = await console.read(search_mails, status, q, (number - 1) * PAGE_SIZE, PAGE_SIZE)
    pager = Pager(number, PAGE_SIZE, total, lambda n: with_query(request, page=n))
    return page(request, "mails.html", {"title": "邮件", "rows": rows, "pager": pager, "status": status or "",
                                        "q": q or "", "statuses": STATUS_LABELS})


async def mail_page(request: Request) -> Response:
    console = console_of(request)
    detail = await console.read(mail_detail, request.path_params["pk"], console.sources.forms)
    if detail is None:
        return not_found(request, "没有这封邮件。")
    return page(request, "mail.html", {"title": f"邮件 {detail.id}", "m": detail})


@action()
async def resend(request: Request, form: FormData) -> Response:
    pk = request.path_params["pk"]
    console = console_of(request)
    detail = await console.read(mail_detail, pk, console.sources.forms)
    if detail is None:
        return not_found(request, "没有这封邮件。")
    if not detail.receipt_no:
        flash(request, "这封邮件没有回执编号（未自动回复），无法重新发送回复。", "error")
    else:
        try:
            row = await console.act(resend_reply, console.settings, detail.receipt_no, actor_of(request))
            flash(request, f"已将回复重新放入发件队列（{', '.join(row.recipients)}），后台服务将尽快发送。")
        except MailintakeError as err:
            flash(request, f"未能重新发送回复：{err}", "error")
    return RedirectResponse(f"/mails/{pk}", status_code=303)


@action()
async def reprocess_mail(request: Request, form: FormData) -> Response:
    from starlette.concurrency import run_in_threadpool

    pk = request.path_params["pk"]
    console = console_of(request)
    try:
        status = await run_in_threadpool(reprocess, console.settings, console.factory, pk, actor_of(request))
        label = STATUS_LABELS.get(status, status)
        flash(request, f"已重新处理，当前状态：{label}。如结果有变化，新的回复由后台服务发送。")
    except MailintakeError as err:
        flash(request, f"未能重新处理：{err}", "error")
    return RedirectResponse(f"/mails/{pk}", status_code=303)


ROUTES = [
    Route("/mails", mails_page, methods=["GET"]),
    Route("/mails/{pk:int}", mail_page, methods=["GET"]),
    Route("/mails/{pk:int}/resend", resend, methods=["POST"]),
    Route("/mails/{pk:int}/reprocess", reprocess_mail, methods=["POST"]),
]
