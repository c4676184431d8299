"""/mails (list, search) and /mails/{id} (one mail) with the clerk's 重新发送回复 / 重新处理."""

from __future__ import annotations

import datetime as dt

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailintake.db.labels import STATUS_LABELS
from mailintake.errors import MailintakeError, StorageError
from mailintake.office.answers import HANDLED_LABELS, AnswerError, answer_mail, mark_handled, saved_answers
from mailintake.office.redo import reprocess, resend_reply
from mailintake.web.page.context import console_of
from mailintake.web.page.render import (
    PAGE_SIZES,
    not_found,
    page,
    page_number,
    page_size,
    pager_for,
)
from mailintake.web.page.security import action, flash
from mailintake.web.queries.mails import MailFilter, body_text, mail_detail, search_mails, split_quoted
from mailintake.web.routes.auth import actor_of

NAV = ("/mails", "邮件")


def day_range(request: Request, tz: dt.tzinfo) -> tuple[dt.datetime | None, dt.datetime | None, str, str]:
    """?from=YYYY-MM-DD&to=YYYY-MM-DD as a UTC range [start, end) over whole days in the campaign's zone."""
    def day(key: str) -> dt.date | None:
        try:
            return dt.date.fromisoformat(request.query_params.get(key, "").strip()[:10])
        except ValueError:
            return None

    first, last = day("from"), day("to")
    start = dt.datetime.combine(first, dt.time(), tz).astimezone(dt.UTC) if first else None
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tz).astimezone(dt.UTC) if last else None
    return start, end, first.isoformat() if first else "", last.isoformat() if last else ""


async def mails_page(request: Request) -> Response:
    console = console_of(request)
    status = request.query_params.get("status") or None
    status = status if status in STATUS_LABELS else None
    q = (request.query_params.get("q") or "").strip()[:200] or None
    start, end, first, last = day_range(request, console.settings.campaign.tz)
    more = MailFilter(waiting=request.query_params.get("waiting") == "1",
                      reply_failed=request.query_params.get("reply") == "failed", start=start, end=end,
                      oldest_first=request.query_params.get("order") == "asc")
    size = page_size(request)
    number = page_number(request)
    total, rows = await console.read(search_mails, status, q, (number - 1) * size, size, more)
    pager = pager_for(request, total, size)
    if pager.number != number:  # past the last page: show the last one
        total, rows = await console.read(search_mails, status, q, pager.offset, size, more)
    return page(request, "mails.html", {"title": "邮件", "rows": rows, "pager": pager, "status": status or "",
                                        "q": q or "", "statuses": STATUS_LABELS, "more": more, "first": first,
                                        "last": last, "size": size, "sizes": PAGE_SIZES})


async def mail_page(request: Request) -> Response:
    console = console_of(request)
    detail = await console.read(mail_detail, request.path_params["pk"], console.sources.forms)
    if detail is None:
        return not_found(request, "没有这封邮件。")
    raw = None
    if detail.raw_path:
        try:
            raw = await run_in_threadpool(console.storage.get, detail.raw_path)
        except (StorageError, OSError):
            raw = None
    written, quoted = split_quoted(await run_in_threadpool(body_text, raw, detail.excerpt))
    saved = saved_answers(console.settings)
    chosen = next((a for a in saved if a.key == request.query_params.get("saved")), None)
    title = f"邮件 {detail.receipt_no}" if detail.receipt_no else f"邮件 {detail.id}"
    return page(request, "mail.html", {"title": title, "m": detail, "written": written, "quoted": quoted,
                                       "saved": saved, "draft": chosen.text if chosen else "",
                                       "handled_labels": HANDLED_LABELS})


@action()
async def answer(request: Request, form: FormData) -> Response:
    pk = request.path_params["pk"]
    console = console_of(request)
    try:
        row = await console.act(answer_mail, console.settings, pk, str(form.get("body", "")), actor_of(request),
                                console.now())
        flash(request, f"答复已放入发件队列（{', '.join(row.recipients)}），后台服务将尽快发送。")
    except AnswerError as err:
        flash(request, f"未发送答复：{err}", "error")
    return RedirectResponse(f"/mails/{pk}", status_code=303)


@action()
async def no_reply(request: Request, form: FormData) -> Response:
    pk = request.path_params["pk"]
    console = console_of(request)
    state = "no_reply" if form.get("state") == "no_reply" else None
    try:
        await console.act(mark_handled, pk, state, actor_of(request), console.now())
        flash(request, "已标记为无需答复。" if state else "已撤销“无需答复”标记，该邮件重新列入待答复。")
    except AnswerError as err:
        flash(request, str(err), "error")
    return RedirectResponse(f"/mails/{pk}", status_code=303)


async def resend_confirm(request: Request) -> Response:
    """What 重新发送回复 will do, with the one button that does it (no script needed)."""
    console = console_of(request)
    detail = await console.read(mail_detail, request.path_params["pk"], console.sources.forms)
    if detail is None:
        return not_found(request, "没有这封邮件。")
    last = detail.replies[-1] if detail.replies else None
    text = (f"将把回执编号 {detail.receipt_no} 的自动回复（{last.kind if last else '回执'}）重新放入发件队列，"
            f"再次发送至 {', '.join(last.recipients) if last else detail.sender}。")
    return page(request, "confirm.html", {"title": "确认重新发送回复", "text": text,
                                          "action": f"/mails/{detail.id}/resend", "button": "确认重新发送",
                                          "back": f"/mails/{detail.id}", "fields": [], "items": []})


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
    Route("/mails/{pk:int}/resend", resend_confirm, methods=["GET"]),
    Route("/mails/{pk:int}/resend", resend, methods=["POST"]),
    Route("/mails/{pk:int}/reprocess", reprocess_mail, methods=["POST"]),
    Route("/mails/{pk:int}/answer", answer, methods=["POST"]),
    Route("/mails/{pk:int}/handled", no_reply, methods=["POST"]),
]
