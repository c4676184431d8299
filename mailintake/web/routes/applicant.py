"""/s/<token>: an applicant's own status page, without a login (``[web] applicant_url`` turns it on).

The token is the only key: an unknown, altered or revoked one is a plain 404, and a client that
tried more than ``GUESS_LIMIT`` unknown tokens within ``GUESS_WINDOW`` seconds gets 429 for every
/s/ request until the window has passed. The page sets no cookie, runs no script and links nowhere
into the console. Tokens are cut out of the access log (``install_log_filter``).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from mailintake.applicant.tokens import address_of
from mailintake.web.page.context import console_of
from mailintake.web.queries.applicant import applicant_status

GUESS_LIMIT = 30
GUESS_WINDOW = 15 * 60.0
#: clients remembered at most (the oldest forgotten first): a flood of addresses cannot fill memory
MAX_CLIENTS = 10_000
STATIC = Path(__file__).resolve().parent.parent / "static" / "applicant"
_TOKEN_IN_PATH = re.compile(r"/s/(?!static/)[^/\s?\"']+")
_PLACEHOLDER = "/s/<token>"


class GuessLimit:
    """Unknown tokens per client address within a sliding window."""

    def __init__(self, limit: int = GUESS_LIMIT, window: float = GUESS_WINDOW) -> None:
        self.limit, self.window = limit, window
        self._misses: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        misses = self._misses.get(client)
        if misses is None:
            return deque()
        while misses and misses[0] <= now - self.window:
            misses.popleft()
        return misses

    def blocked(self, client: str, now: float | None = None) -> bool:
        with self._lock:
            return len(self._recent(client, time.monotonic() if now is None else now)) >= self.limit

    def miss(self, client: str, now: float | None = None) -> None:
        moment = time.monotonic() if now is None else now
        with self._lock:
            misses = self._misses.pop(client, None) or deque()
            misses.append(moment)
            self._misses[client] = misses  # re-inserted: the dict's order is least recently missed first
            while len(self._misses) > MAX_CLIENTS:
                del self._misses[next(iter(self._misses))]


class TokenFilter(logging.Filter):
    """Replace every /s/<token> in a log record (uvicorn's access line, anything else) by a placeholder."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "/s/" in record.msg:
            record.msg = _TOKEN_IN_PATH.sub(_PLACEHOLDER, record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_TOKEN_IN_PATH.sub(_PLACEHOLDER, a) if isinstance(a, str) and "/s/" in a else a
                                for a in record.args)
        return True


_FILTER = TokenFilter()


def install_log_filter() -> None:
    """Attach the filter to uvicorn's loggers (kept by its logging set-up, which only replaces handlers)."""
    for name in ("uvicorn.access", "uvicorn.error", "uvicorn", "mailintake"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def _limit(request: Request) -> GuessLimit:
    state = request.app.state
    limit: GuessLimit | None = getattr(state, "applicant_guesses", None)
    if limit is None:
        limit = state.applicant_guesses = GuessLimit()
    return limit


def _not_found() -> Response:
    return PlainTextResponse("404 Not Found", status_code=404)


async def status_page(request: Request) -> Response:
    console = console_of(request)
    if not console.settings.web.applicant_url:
        return _not_found()
    # the client's address: X-Forwarded-For only from the local proxy (uvicorn's proxy_headers), as the console
    client = request.client.host if request.client else "unknown"
    guesses = _limit(request)
    if guesses.blocked(client):
        return PlainTextResponse("429 Too Many Requests", status_code=429, headers={"Retry-After": "900"})
    address = await console.read(address_of, request.path_params["token"])
    if address is None:
        guesses.miss(client)
        return _not_found()
    status = await console.read(applicant_status, console.settings, address, console.now())
    html = console.templates.get_template("applicant/status.html").render(s=status)
    return HTMLResponse(html, headers={"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow"})


ROUTES = [
    Mount("/s/static", StaticFiles(directory=STATIC), name="applicant_static"),
    Route("/s/{token}", status_page, methods=["GET", "HEAD"]),
]
