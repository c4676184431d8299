"""/outbox/failed: the mails that gave up, and (for a clerk, after this confirmation page) 全部重新发送 —
the same action as ``mailintake resend --failed``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailintake.office.redo import resend_failed
from mailintake.outbox.queue import failed_to_requeue
from mailintake.web.page.context import console_of
from mailintake.web.page.render import page
from mailintake.web.page.security import action, flash
from mailintake.web.routes.auth import actor_of


@dataclass(frozen=True)
class FailedMail:
    id: int
    kind: str
    to: str
    subject: str
    error: str
    message_pk: int | None


def failed_mails(session: Session) -> list[FailedMail]:
    return [FailedMail(row.id, row.kind, ", ".join(row.recipients or []), row.subject, row.last_error or "",
                       row.message_pk) for row in failed_to_requeue(session)]


async def failed_page(request: Request) -> Response:
    rows = await console_of(request).read(failed_mails)
    return page(request, "outbox_failed.html", {"title": "发送失败的邮件", "rows": rows})


@action()
async def resend_all(request: Request, form: FormData) -> Response:
    rows = await console_of(request).act(resend_failed, actor_of(request))
    flash(request, f"已将 {len(rows)} 封发送失败的邮件重新放入发件队列，后台服务将尽快发送。")
    return RedirectResponse("/", status_code=303)


ROUTES = [
    Route("/outbox/failed", failed_page, methods=["GET"]),
    Route("/outbox/resend-failed", resend_all, methods=["POST"]),
]
