"""/healthz: JSON for a monitor, without login; it names nobody."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailintake.db.models import PollRun
from mailintake.web.page.context import console_of


def last_poll(session: Session) -> str | None:
    finished = session.scalar(select(PollRun.finished_at).where(PollRun.finished_at.is_not(None))
                              .order_by(PollRun.id.desc()).limit(1))
    return finished.isoformat(timespec="seconds") if finished is not None else None


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok", "last_poll": await console_of(request).read(last_poll)})


ROUTES = [Route("/healthz", healthz, methods=["GET"])]
