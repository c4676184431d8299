"""/healthz: JSON for a monitor, without login; it names nobody.

``status`` is ``ok``, or ``degraded`` while SMTP is unreachable (``smtp``: since when, replies waiting) or
the IMAP mailbox is (``imap``: since when)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailintake.db.health import MAILBOX, outage
from mailintake.db.models import PollRun
from mailintake.outbox.health import smtp_outage, waiting
from mailintake.web.page.context import console_of


def last_poll(session: Session) -> str | None:
    finished = session.scalar(select(PollRun.finished_at).where(PollRun.finished_at.is_not(None))
                              .order_by(PollRun.id.desc()).limit(1))
    return finished.isoformat(timespec="seconds") if finished is not None else None


def health(session: Session) -> dict[str, Any]:
    smtp_down = smtp_outage(session)
    imap_down = outage(session, MAILBOX)
    smtp: dict[str, Any] = {"state": "ok"} if smtp_down is None else {
        "state": "unreachable", "since": smtp_down.since.isoformat(timespec="seconds"), "waiting": waiting(session)}
    imap: dict[str, Any] = {"state": "ok"} if imap_down is None else {
        "state": "unreachable", "since": imap_down.since.isoformat(timespec="seconds")}
    degraded = smtp_down is not None or imap_down is not None
    return {"status": "degraded" if degraded else "ok", "last_poll": last_poll(session), "imap": imap, "smtp": smtp}


async def healthz(request: Request) -> Response:
    return JSONResponse(await console_of(request).read(health))


ROUTES = [Route("/healthz", healthz, methods=["GET"])]
